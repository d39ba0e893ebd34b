"""Hook implementations: what the `calcdet` entry point `clusters` names."""

from __future__ import annotations

from calcdet_clusters.evaluator import ClusterFrocEvaluator
from calcdet_core.api import hookimpl


@hookimpl
def calcdet_register_evaluators() -> list[type]:
    return [ClusterFrocEvaluator]


@hookimpl
def calcdet_output_writers() -> dict:  # type: ignore[type-arg]
    from calcdet_clusters.sr import write_dicom_sr

    return {"dicom-sr": write_dicom_sr}
