"""calcdet core: contracts, plugin manager, pipeline engine, CLI and built-in evaluators.

Plugin authors import what they need from here::

    from calcdet_core import hookimpl, Proposer, ComponentConfig, Candidates
"""

from calcdet_core.contracts.components import (
    Classifier,
    Component,
    ComponentConfig,
    DatasetAdapter,
    Detector,
    Evaluator,
    FeatureExtractor,
    Proposer,
)
from calcdet_core.contracts.data import (
    Annotation,
    Candidates,
    Dataset,
    Detections,
    GridTransform,
    IgnoreRegion,
    ImageRecord,
    ImageResult,
    Mammogram,
    SkippedItem,
    Target,
)
from calcdet_core.contracts.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Annotation",
    "Candidates",
    "Classifier",
    "Component",
    "ComponentConfig",
    "Dataset",
    "DatasetAdapter",
    "Detections",
    "Detector",
    "Evaluator",
    "FeatureExtractor",
    "GridTransform",
    "IgnoreRegion",
    "ImageRecord",
    "ImageResult",
    "Mammogram",
    "Proposer",
    "SkippedItem",
    "Target",
    "hookimpl",
]
