"""The public API for plugin authors: everything a plugin may import from calcdet, in one place.

A plugin imports from here (and from :mod:`calcdet_core.testing` in its tests), never from
calcdet's other modules, whose layout may change between releases::

    from calcdet_core.api import ComponentConfig, Candidates, Proposer, hookimpl

Heavy libraries (torch, scikit-learn, OpenCV, numba) are best imported inside the methods
that use them: every ``calcdet`` command imports every plugin module at start-up.
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
from calcdet_core.contracts.hookspecs import hookimpl
from calcdet_core.contracts.training import (
    Checkpoint,
    ImageStream,
    ProgressTask,
    Reporter,
    StreamEntry,
    TrainingContext,
    TrainingImage,
)
from calcdet_core.evaluation.matching import STUDY_DIAMETER_PX
from calcdet_core.imaging.geometry import ellipse_polygon, feret_diameter, polygon_centroid
from calcdet_core.imaging.inputs import bounding_box, checked_image, checked_inputs, checked_mask
from calcdet_core.imaging.patches import extract_patches
from calcdet_core.imaging.preprocess import BACKGROUND_FRACTION, breast_mask, preprocess
from calcdet_core.imaging.regions import fill_holes, label_regions, largest_region
from calcdet_core.imaging.stats import FLAT_TOL, entropy_uniformity, histogram_counts, is_flat, moments, quantiles
from calcdet_core.io.arrays import load_arrays, save_arrays
from calcdet_core.io.dicom import read_dicom, write_dicom

__all__ = [
    "BACKGROUND_FRACTION",
    "FLAT_TOL",
    "MC_MAX_DIAMETER_MM",
    "STUDY_DIAMETER_PX",
    "Annotation",
    "Candidates",
    "Checkpoint",
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
    "ImageStream",
    "Mammogram",
    "ProgressTask",
    "Proposer",
    "Reporter",
    "SkippedItem",
    "StreamEntry",
    "Target",
    "TrainingContext",
    "TrainingImage",
    "bounding_box",
    "breast_mask",
    "checked_image",
    "checked_inputs",
    "checked_mask",
    "ellipse_polygon",
    "entropy_uniformity",
    "extract_patches",
    "feret_diameter",
    "fill_holes",
    "histogram_counts",
    "hookimpl",
    "is_flat",
    "label_regions",
    "largest_region",
    "load_arrays",
    "moments",
    "polygon_centroid",
    "preprocess",
    "quantiles",
    "read_dicom",
    "save_arrays",
    "write_dicom",
]
