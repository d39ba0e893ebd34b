"""Hook implementations: what the `calcdet` entry point `hdog` names."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_hdog.proposer import HDoGProposer

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [HDoGProposer]
