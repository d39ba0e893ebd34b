"""Registers the ``inbreast`` dataset adapter."""

from __future__ import annotations

from calcdet_core.api import hookimpl
from calcdet_inbreast.adapter import InbreastDataset


@hookimpl
def calcdet_register_datasets() -> list[type]:
    return [InbreastDataset]
