"""Hook implementations: what the `calcdet` entry point `clusters` names."""

from __future__ import annotations

from calcdet_clusters.evaluator import ClusterFrocEvaluator
from calcdet_core.api import hookimpl

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_evaluators() -> list[type]:
    return [ClusterFrocEvaluator]


@hookimpl
def calcdet_output_writers() -> dict:  # type: ignore[type-arg]
    from calcdet_clusters.sr import dicom_sr_writer

    return {"dicom-sr": dicom_sr_writer}
