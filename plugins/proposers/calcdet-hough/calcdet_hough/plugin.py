"""Hook implementations named by the ``calcdet`` entry point."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_hough.proposer import HoughProposer


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [HoughProposer]
