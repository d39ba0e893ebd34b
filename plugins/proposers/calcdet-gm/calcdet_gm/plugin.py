"""Hook implementations: what the `calcdet` entry point `gm` names."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_gm.proposer import GMProposer

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [GMProposer]
