"""Hook implementations: what the `calcdet` entry point names."""

from __future__ import annotations

from calcdet_core import hookimpl
from calcdet_example.local_contrast import LocalContrastProposer


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [LocalContrastProposer]
