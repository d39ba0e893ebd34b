"""Registers the ``inbreast`` dataset adapter."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_inbreast.adapter import InbreastDataset

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_datasets() -> list[type]:
    return [InbreastDataset]
