"""Hook implementations: what the `calcdet` entry point `gm` names."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_gm.proposer import GMProposer


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [GMProposer]
