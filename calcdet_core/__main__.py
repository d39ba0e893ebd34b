"""``python -m calcdet_core`` is the ``calcdet`` command."""

from calcdet_core.cli import main

main()
