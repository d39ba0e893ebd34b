"""calcdet from Python: train, detect and evaluate microcalcification pipelines in a script or notebook.

This module is for **users**; plugin authors import :mod:`calcdet_core.api` (contracts and hooks)
instead. See ``docs/python.md``::

    import calcdet

    model = calcdet.load_model("models/aia-ml")
    found = model.detect(pixels, spacing_mm=0.07)   # a 2-D array, or a DICOM path
    found.findings().to_dataframe()                  # at the model's operating point

    pipeline = calcdet.Pipeline.from_yaml("pipelines/aia-ml.yaml", {"features[3].params.cv_folds": 3})
    model = pipeline.fit("inbreast", "data/INbreast")
    model.evaluate("inbreast", "data/INbreast", out="evaluation").froc_auc

Importing this module loads nothing heavy: each name is imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calcdet.detections import Detections
    from calcdet.model import Evaluation, Model, load_model
    from calcdet.pipeline import Pipeline, shipped_pipelines
    from calcdet_core.errors import CalcdetUserError as CalcdetError

__version__ = "0.1.0"

_NAMES = {
    "Detections": "calcdet.detections",
    "Evaluation": "calcdet.model",
    "Model": "calcdet.model",
    "load_model": "calcdet.model",
    "Pipeline": "calcdet.pipeline",
    "shipped_pipelines": "calcdet.pipeline",
}

__all__ = ["CalcdetError", "Detections", "Evaluation", "Model", "Pipeline", "load_model", "shipped_pipelines"]


def __getattr__(name: str) -> Any:
    if name == "CalcdetError":  # every error calcdet raises for input a user can fix
        from calcdet_core.errors import CalcdetUserError

        return CalcdetUserError
    if name in _NAMES:
        return getattr(import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'calcdet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
