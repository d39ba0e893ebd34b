"""Hook implementations: what the `calcdet` entry point names.

Importing this module must stay cheap (every `calcdet` command imports it): the detector's
torch code is imported only when it fits or detects.
"""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_example.fcn import FcnDetector
from calcdet_example.local_contrast import LocalContrastProposer

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_proposers() -> list[type]:
    return [LocalContrastProposer]


@hookimpl
def calcdet_register_detectors() -> list[type]:
    return [FcnDetector]
