"""Hook implementations: what the `calcdet` entry point names."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_haar.extractor import HaarExtractor


@hookimpl
def calcdet_register_features() -> list[type]:
    return [HaarExtractor]
