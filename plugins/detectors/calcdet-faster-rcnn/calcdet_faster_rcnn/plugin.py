"""Hook implementations (what the `calcdet` entry point names); importing this module imports no torch."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_faster_rcnn.detector import FasterRCNNDetector

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_detectors() -> list[type]:
    return [FasterRCNNDetector]
