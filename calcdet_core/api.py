"""The public API for plugin authors: everything a plugin may import from calcdet, in one place.

A plugin imports from here (and from :mod:`calcdet_core.testing` in its tests), never from
calcdet's other modules, whose layout may change between releases::

    from calcdet_core.api import ComponentConfig, Candidates, Proposer, hookimpl

Heavy libraries (torch, scikit-learn, OpenCV, numba, scipy) are best imported inside the methods
that use them: every ``calcdet`` command imports every plugin module at start-up. This module
follows its own advice: the contracts load with it, and the engine's helpers (DICOM reading and
writing, pipelines, model directories, progress bars: pydicom, YAML, rich) load on first use of
their name, so a plugin that only declares components costs no more.
"""

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calcdet_core.contracts.components import (
    Classifier,
    Component,
    ComponentConfig,
    DataNeed,
    DatasetAdapter,
    Detector,
    Evaluator,
    FeatureExtractor,
    Proposer,
    SplitFacts,
)
from calcdet_core.contracts.data import (
    MC_MAX_DIAMETER_MM,
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
from calcdet_core.contracts.editions import CONTRACT_EDITION
from calcdet_core.contracts.fitting import fit_threads, grow_forest, reporter_of, timed_step
from calcdet_core.contracts.hookspecs import hookimpl
from calcdet_core.contracts.training import (
    Checkpoint,
    ImageStream,
    ProgressTask,
    Reporter,
    StreamEntry,
    TrainingContext,
    TrainingImage,
    TrainingTransform,
)
from calcdet_core.errors import CalcdetUserError, InvalidInputError
from calcdet_core.evaluation.bootstrap import BootstrapFroc, bootstrap_froc
from calcdet_core.evaluation.boxes import box_metrics
from calcdet_core.evaluation.froc import FrocData, froc_data, froc_point_estimate, operating_points
from calcdet_core.evaluation.matching import DROPPED, FP, STUDY_DIAMETER_PX, TP, Match, match_detections
from calcdet_core.imaging.bright import bright_objects
from calcdet_core.imaging.context import context_features
from calcdet_core.imaging.geometry import ellipse_polygon, feret_diameter, polygon_centroid
from calcdet_core.imaging.inputs import bounding_box, checked_image, checked_inputs, checked_mask
from calcdet_core.imaging.morphology import erode_mask
from calcdet_core.imaging.patches import extract_patches
from calcdet_core.imaging.preprocess import BACKGROUND_FRACTION, breast_mask, preprocess
from calcdet_core.imaging.regions import fill_holes, label_regions, largest_region
from calcdet_core.imaging.stats import FLAT_TOL, entropy_uniformity, histogram_counts, is_flat, moments, quantiles
from calcdet_core.io.arrays import load_arrays, save_arrays
from calcdet_core.io.output_writers import DetectedOutput, OutputWriter, RunIdentity, WriterFactory
from calcdet_core.plugins.weights import SHIPPED_PREFIX, shipped_weights

if TYPE_CHECKING:
    from calcdet_core.cli.options import DatasetOptions, dataset_choice
    from calcdet_core.io.dicom import read_checked_header, read_dicom, write_dicom
    from calcdet_core.io.model_dir import load_model
    from calcdet_core.run.executor import progress_bar
    from calcdet_core.run.pipeline import Pipeline, load_pipeline
    from calcdet_core.run.training import TrainingData

_ON_FIRST_USE = {
    "DatasetOptions": "calcdet_core.cli.options",
    "dataset_choice": "calcdet_core.cli.options",
    "read_checked_header": "calcdet_core.io.dicom",
    "read_dicom": "calcdet_core.io.dicom",
    "write_dicom": "calcdet_core.io.dicom",
    "load_model": "calcdet_core.io.model_dir",
    "progress_bar": "calcdet_core.run.executor",
    "Pipeline": "calcdet_core.run.pipeline",
    "load_pipeline": "calcdet_core.run.pipeline",
}
"""Engine helpers and the modules that define them, imported when a name is first looked up."""


def __getattr__(name: str) -> Any:
    if name in _ON_FIRST_USE:
        value = getattr(import_module(_ON_FIRST_USE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'calcdet_core.api' has no attribute {name!r}")


def build_component(kind: str, name: str, params: dict[str, Any] | None = None) -> Component:
    """The registered component ``name`` of ``kind`` (``"proposers"``, ...), its ``params`` validated by its Config.

    Why it is public: a component that uses another one by name (a detector drawing hard
    negatives from a proposer) builds it as a pipeline slot would, through the registry.
    """
    from calcdet_core.plugins.registry import get_registry

    cls = get_registry().get(kind, name)
    return cls(cls.Config.model_validate(params or {}))


def labelled_features(pipeline: "Pipeline", dataset: str, root: str | Path, work_dir: str | Path, seed: int = 0,
                      workers: int = 1, scheduler: str | None = None) -> "TrainingData":
    """The labelled candidate features ``calcdet train`` would fit ``pipeline``'s classifier on.

    Why it is public: a plugin command that studies its classifier on real training data
    without training a model (calcdet-svm's ``calcdet tune``) needs the very rows ``calcdet
    train`` builds: the dataset's patient split for ``seed``, the proposer's candidates
    labelled against the truth, trainable extractors fitted (in place), every extractor's
    features; the validation split's rows beside them (``X``, ``y``, ``groups``,
    ``X_validation``, ``y_validation``, ``metrics``). Per-image work is kept in ``work_dir``, so
    an interrupted call resumes; delete the folder when done. ``workers`` and ``scheduler`` are
    ``calcdet train``'s ``--workers`` and ``--scheduler``.
    """
    import hashlib
    import json

    from calcdet_core.run.executor import make_executor
    from calcdet_core.run.sources import ImageSource
    from calcdet_core.run.training import training_data
    from calcdet_core.run.workflows import load_dataset

    splits = load_dataset(dataset, Path(root)).split(seed)
    root_str = str(Path(root).resolve())
    key = json.dumps([pipeline.resolved(), dataset, root_str, seed], sort_keys=True, default=str)
    work = Path(work_dir) / hashlib.sha256(key.encode()).hexdigest()[:12]
    with make_executor(workers, scheduler) as executor:
        return training_data(pipeline, ImageSource(splits["train"], dataset, root_str),
                             ImageSource(splits["validation"], dataset, root_str), executor, work, seed)


__all__ = [
    "BACKGROUND_FRACTION",
    "CONTRACT_EDITION",
    "DROPPED",
    "FLAT_TOL",
    "FP",
    "MC_MAX_DIAMETER_MM",
    "SHIPPED_PREFIX",
    "STUDY_DIAMETER_PX",
    "TP",
    "Annotation",
    "BootstrapFroc",
    "CalcdetUserError",
    "Candidates",
    "Checkpoint",
    "Classifier",
    "Component",
    "ComponentConfig",
    "DataNeed",
    "Dataset",
    "DatasetAdapter",
    "DatasetOptions",
    "DetectedOutput",
    "Detections",
    "Detector",
    "Evaluator",
    "FeatureExtractor",
    "FrocData",
    "GridTransform",
    "IgnoreRegion",
    "ImageRecord",
    "ImageResult",
    "ImageStream",
    "InvalidInputError",
    "Mammogram",
    "Match",
    "OutputWriter",
    "Pipeline",
    "ProgressTask",
    "Proposer",
    "Reporter",
    "RunIdentity",
    "SkippedItem",
    "SplitFacts",
    "StreamEntry",
    "Target",
    "TrainingContext",
    "TrainingImage",
    "TrainingTransform",
    "WriterFactory",
    "bootstrap_froc",
    "bounding_box",
    "box_metrics",
    "breast_mask",
    "bright_objects",
    "build_component",
    "checked_image",
    "checked_inputs",
    "checked_mask",
    "context_features",
    "dataset_choice",
    "ellipse_polygon",
    "entropy_uniformity",
    "erode_mask",
    "extract_patches",
    "feret_diameter",
    "fill_holes",
    "fit_threads",
    "froc_data",
    "froc_point_estimate",
    "grow_forest",
    "histogram_counts",
    "hookimpl",
    "is_flat",
    "label_regions",
    "labelled_features",
    "largest_region",
    "load_arrays",
    "load_model",
    "load_pipeline",
    "match_detections",
    "moments",
    "operating_points",
    "polygon_centroid",
    "preprocess",
    "progress_bar",
    "quantiles",
    "read_checked_header",
    "read_dicom",
    "reporter_of",
    "save_arrays",
    "shipped_weights",
    "timed_step",
    "write_dicom",
]
