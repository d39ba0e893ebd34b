"""``python -m calcdet_core`` is the ``calcdet`` command."""

from calcdet_core.cli.app import main

main()
