"""Base classes for the six kinds of component.

A component class has a unique ``name``, a one-line ``description`` and a pydantic
``Config`` whose fields are its parameters (defaults are the study's values). The
constructor only stores the validated config; learning happens in ``fit`` (with a
:class:`~calcdet_core.contracts.training.TrainingContext`), and learned state goes to
disk through ``save_state``/``load_state`` in safe formats only (skops for scikit-learn,
safetensors or JSON for arrays; never pickle).

Components cross process boundaries by pickling (``--workers N`` ships the pipeline once
to each worker): keep them picklable, or give them ``__getstate__``/``__setstate__`` that
hand over something cheaper (a torch detector: its weights as safetensors bytes).

Image arguments are 2-D float32 arrays in [0, 1] on the *working grid* (breast
cropped, flipped to the left); returned coordinates are in that same grid and
the engine maps them to the stored grid.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from calcdet_core.contracts.data import Candidates, Dataset, Detections, ImageResult
from calcdet_core.contracts.training import ImageStream, TrainingContext

KINDS = ("datasets", "proposers", "features", "classifiers", "detectors", "evaluators")
"""Component kinds, in the order a pipeline uses them (also the hook name suffixes)."""


@dataclass(frozen=True)
class SplitFacts:
    """What one split of the dataset holds, known from the index before any image is read."""

    images: int
    patients: int
    normal_images: int
    targets: int


@dataclass(frozen=True)
class DataNeed:
    """A setting the data cannot meet: the parameter, why, and a value that would fit (``None``: none does)."""

    param: str
    reason: str
    fits: Any = None


class ComponentConfig(BaseModel):
    """Base of every component's ``Config``: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(ABC):
    """What every component shares: identity, description and a validated config."""

    kind: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        if config is not None and params:
            raise TypeError(f"{type(self).__name__}: pass either a config or keyword parameters, not both")
        self.config = config if config is not None else self.Config(**params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # Learned state. Components that learn nothing keep these defaults.
    trainable: ClassVar[bool] = False

    def save_state(self, directory: Path) -> list[Path]:
        """Write learned state into ``directory``; return the files written (a trainable component writes some)."""
        return []

    def load_state(self, directory: Path) -> None:  # noqa: B027 - components that learn nothing load nothing
        """Restore learned state written by :meth:`save_state` into ``directory``."""

    def data_needs(self, train: SplitFacts, validation: SplitFacts) -> list[DataNeed]:
        """What this component's settings need of the training data that it lacks (default: nothing).

        ``calcdet train`` (and ``calcdet validate --dataset``) asks every component after the split and
        before any work, and refuses the run listing each need at its YAML path with the ``--set`` that
        fits: a cross-validation with more folds than training patients fails there, not after minutes.
        """
        return []


class DatasetAdapter(Component):
    """Reads a dataset root into :class:`~calcdet_core.contracts.data.Dataset` records."""

    kind = "datasets"

    @abstractmethod
    def index(self, root: Path) -> Dataset:
        """Index ``root``: every usable image as a record (pixels read lazily), everything else in ``skipped``."""


class Proposer(Component):
    """Proposes MC candidates on a whole image."""

    kind = "proposers"

    @abstractmethod
    def propose(self, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
        """Candidates (x, y, radius, score) inside ``mask`` (breast region; ``None`` = all)."""


class FeatureExtractor(Component):
    """Computes a named feature vector for every candidate, from the image around it.

    A supervised extractor (``trainable = True``) implements :meth:`fit` on patches
    (e.g. Haar-like feature selection) and persists its choice with ``save_state``/``load_state``.
    """

    kind = "features"

    @property
    def patch_size(self) -> int:
        """Side of the square training patch a supervised extractor's ``fit`` gets: its Config's ``patch_size``.

        Only a trainable extractor needs one. One whose setting has another name overrides this
        property; there is no default size to fall back on, so a renamed setting fails loudly
        (at registration: ``calcdet list-plugins`` shows the error row).
        """
        if "patch_size" not in type(self.config).model_fields:
            raise TypeError(f"feature extractor {self.name!r} learns from patches but its Config has no patch_size; "
                            "add the setting or override the patch_size property")
        return int(self.config.patch_size)  # type: ignore[attr-defined]

    @abstractmethod
    def feature_names(self) -> list[str]:
        """Stable, documented names, one per output column."""

    @abstractmethod
    def extract(self, image: np.ndarray, candidates: Candidates) -> np.ndarray:
        """(N, F) float64 finite features for the N candidates, in ``feature_names`` order."""

    def fit(self, patches: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            context: TrainingContext | None = None) -> FeatureExtractor:
        """Learn from (N, P, P) training patches with 0/1 labels and case ids (supervised only)."""
        return self


class Classifier(Component):
    """Scores candidate feature vectors; higher means more likely an MC."""

    kind = "classifiers"
    trainable = True

    @abstractmethod
    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        context: TrainingContext | None = None,
    ) -> Classifier:
        """Train on (N, F) features with 0/1 labels; ``groups`` are case ids for grouped CV.

        ``context`` (the engine always gives one; ``None`` means a temporary one) carries the
        seed, the worker count and the reporter: facts worth keeping (thresholds, the grid
        searched) go to ``context.reporter.record(...)`` and land in the model directory.
        """

    @abstractmethod
    def score(self, features: np.ndarray) -> np.ndarray:
        """(N,) float64 scores that rank candidates (ties allowed)."""


class Detector(Component):
    """End-to-end detector: replaces proposer, features and classifier in a pipeline.

    Training reads images lazily from an :class:`ImageStream` (never all of them in
    memory) and gets a :class:`TrainingContext` (work folder for checkpoints, device, seed,
    workers, reporter). Detection may be batched: the engine hands ``detect_batch`` up to
    :attr:`batch_size` images at once (a GPU model wins from that; the default is 1 and loops).
    """

    kind = "detectors"
    trainable = True

    @abstractmethod
    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> Detector:
        """Learn from the working-grid images of ``train``; ``validation`` for early stopping and metrics.

        Save a checkpoint after each epoch with ``context.save_checkpoint`` and start from
        ``context.last_checkpoint()`` when there is one: an interrupted run then resumes.
        """

    @abstractmethod
    def detect(self, image: np.ndarray, mask: np.ndarray | None = None) -> Detections:
        """Scored detections (centre, radius, optional box) in the grid of ``image``, inside ``mask``."""

    @property
    def batch_size(self) -> int:
        """How many images :meth:`detect_batch` takes at once: 1 unless the detector overrides this property.

        Never read from a Config field by its name: a training ``batch_size`` is not a detection batch.
        A detector that batches returns its own setting here (faster-rcnn: ``batch_size``).
        """
        return 1

    def detect_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> list[Detections]:
        """Detections for several images at once, in order; override when batching is faster."""
        return [self.detect(image, mask) for image, mask in zip(images, masks, strict=True)]

    def to_device(self, device: str) -> None:
        """Move to ``device`` (``cpu``, ``cuda:N``) before detection; the engine calls it with ``--device``."""


class Evaluator(Component):
    """Turns detections and the truth into metrics (and report files), computing once.

    A report runs three steps: ``computed = compute(results)`` does the work (matching,
    bootstrap), ``metrics(computed)`` reads the JSON-ready figures off it and
    ``write_report(metrics, computed, out_dir)`` writes files from the same object, so
    nothing is computed twice. A simple evaluator implements ``metrics`` only: the default
    ``compute`` hands over the results themselves. ``evaluate(results)`` is both in one call.
    """

    kind = "evaluators"
    seed_setting: ClassVar[str | None] = None
    """The Config field that takes the run's ``--seed`` (``calcdet score``), when the evaluator draws at random."""

    def compute(self, results: Sequence[ImageResult]) -> Any:
        """The work over per-image results (stored grid), done once per report; default: the results as they are."""
        return results

    @abstractmethod
    def metrics(self, computed: Any) -> dict[str, Any]:
        """JSON-ready metrics from what :meth:`compute` returned (the results, unless ``compute`` is overridden)."""

    def write_report(self, metrics: dict[str, Any], computed: Any, out_dir: Path) -> list[Path]:
        """Write files (CSV, plots) from ``metrics`` and what :meth:`compute` returned; return them."""
        return []

    def evaluate(self, results: Sequence[ImageResult]) -> dict[str, Any]:
        """Metrics of ``results`` in one call: ``metrics(compute(results))``."""
        return self.metrics(self.compute(results))


BASE_CLASSES: dict[str, type[Component]] = {
    "datasets": DatasetAdapter,
    "proposers": Proposer,
    "features": FeatureExtractor,
    "classifiers": Classifier,
    "detectors": Detector,
    "evaluators": Evaluator,
}


def validate_finite_features(features: np.ndarray, n: int, names: Sequence[str], who: str) -> np.ndarray:
    """Check an extractor's output shape and finiteness, naming the culprit."""
    arr = np.asarray(features, dtype=np.float64)
    if arr.shape != (n, len(names)):
        raise ValueError(f"feature extractor {who!r} returned shape {arr.shape}, expected {(n, len(names))}")
    bad = ~np.isfinite(arr)
    if bad.any():
        cols = sorted({names[j] for j in np.nonzero(bad)[1]})
        raise ValueError(f"feature extractor {who!r} returned non-finite values in {', '.join(cols[:5])}")
    return arr
