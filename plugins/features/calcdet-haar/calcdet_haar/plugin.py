"""Hook implementations: what the `calcdet` entry point names."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_haar.extractor import HaarExtractor

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_features() -> list[type]:
    return [HaarExtractor]
