"""Hook implementations named by the ``calcdet`` entry point."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_hough.proposer import HoughProposer

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [HoughProposer]
