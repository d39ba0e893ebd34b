"""A trained model as a user holds it in Python: detect on arrays and files, evaluate, save."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from calcdet.detections import Detections
from calcdet_core.contracts.data import Annotation, ImageRecord, Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.evaluation.operating import OperatingPoint, stored_operating_point
from calcdet_core.io.dicom import read_dicom
from calcdet_core.io.model_dir import is_model_dir, model_files, read_metrics
from calcdet_core.run.detection import DetectedImage, detect_record
from calcdet_core.run.executor import make_executor, progress_shown
from calcdet_core.run.pipeline import Pipeline, PipelineDocument
from calcdet_core.run.sources import DatasetChoice
from calcdet_core.run.workflows import Selection, detect, evaluate_model, findings_score, load_runnable, train_model


def load_model(path: str | Path) -> Model:
    """A trained model directory (``calcdet train --out``), checked file by file before it is used."""
    return Model(Path(path))


@dataclass(frozen=True)
class Evaluation:
    """What :meth:`Model.evaluate` measured; ``folder`` holds ``report.html``, ``froc.png`` and the overlays."""

    metrics: dict[str, Any]
    folder: Path

    @property
    def froc_auc(self) -> float | None:
        """The study's FROC AUC (0-50 FP per normal image); ``None`` without a normal image or a target."""
        return self.metrics.get("froc", {}).get("auc")

    @property
    def froc_auc_ci95(self) -> tuple[float, float] | None:
        ci = self.metrics.get("froc", {}).get("auc_ci95")
        return None if not ci or None in ci else (ci[0], ci[1])

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


class Model:
    """A trained pipeline with its operating point, backed by its model directory."""

    def __init__(self, directory: Path, _temporary: bool = False) -> None:
        if not Path(directory).is_dir():
            raise InvalidInputError(f"{directory} is not a model directory (train one with Pipeline.fit or "
                                    "`calcdet train`)")
        self.directory = Path(directory)
        self._pipeline: Pipeline
        with progress_shown(False):  # no "loading ..." line in a notebook
            self._pipeline, self._identity = load_runnable(self.directory)
        self.metrics: dict[str, Any] = read_metrics(self.directory)
        if _temporary:
            weakref.finalize(self, shutil.rmtree, self.directory.parent, True)

    @classmethod
    def train(cls, document: PipelineDocument, dataset: DatasetChoice, root: Path, out: Path | None, *, seed: int,
              workers: int, scheduler: str | None, device: str, progress: bool) -> Model:
        """What :meth:`calcdet.Pipeline.fit` does: ``calcdet train`` into ``out`` or a temporary folder."""
        temporary = out is None
        target = Path(tempfile.mkdtemp(prefix="calcdet-model-")) / "model" if out is None else out
        try:
            with progress_shown(progress), make_executor(workers, scheduler) as executor:
                train_model(document, dataset, root, target, seed, executor, device, workers)
        except BaseException:
            if temporary:
                shutil.rmtree(target.parent, ignore_errors=True)
            raise
        return cls(target, _temporary=temporary)

    @property
    def name(self) -> str:
        return self._pipeline.spec.name

    @property
    def operating_point(self) -> OperatingPoint | None:
        """The threshold chosen on the validation split after training, with what it gave there."""
        return stored_operating_point(self.metrics)

    def detect(self, image: np.ndarray | str | Path, *, spacing_mm: float | tuple[float, float] | None = None,
               laterality: str | None = None, image_id: str | None = None, min_score: float | str = "auto",
               device: str = "auto") -> Detections:
        """Detections on one image: a 2-D array of stored pixel values (with its ``spacing_mm``, row and column,
        when known; ``laterality`` ``"L"``/``"R"`` when known) or a DICOM file's path.

        ``min_score`` is where findings start: ``"auto"`` (the model's operating point), a score, or ``"all"``.
        Coordinates come back in the image's own grid, whatever the pipeline resamples to.
        """
        in_memory = isinstance(image, np.ndarray)
        record = (_array_record(image, spacing_mm, laterality, image_id) if in_memory
                  else _dicom_record(Path(image), image_id))
        pipeline = self._placed(device)
        try:
            found = detect_record(pipeline, record)
        except ValueError as exc:  # the image itself cannot be preprocessed (constant, NaN pixels, ...)
            raise InvalidInputError(f"{record.image_id}: {exc}") from None
        return self._detections(found, min_score, None if in_memory else record.path)

    def detect_many(self, inputs: Sequence[str | Path] = (), *, dataset: str | None = None,
                    root: str | Path | None = None, split: str = "all", seed: int = 0,
                    min_score: float | str = "auto", workers: int = 1, scheduler: str | None = None,
                    device: str = "auto", progress: bool = True,
                    dataset_options: Mapping[str, Any] | None = None) -> list[Detections]:
        """Detections on DICOM files and folders, or on a dataset's split (read with the adapter's
        ``dataset_options``), in parallel (as ``calcdet detect``)."""
        chosen = None if dataset is None else DatasetChoice.of(dataset, dataset_options, "dataset_options")
        selection = Selection(tuple(map(Path, inputs)), chosen, None if root is None else Path(root), split, seed)
        with (tempfile.TemporaryDirectory(prefix="calcdet-detect-") as work, progress_shown(progress),
              make_executor(workers, scheduler) as executor):
            source = selection.source()
            found: list[DetectedImage] = detect(self._pipeline, self._identity, source, Path(work), executor, device)
        return [self._detections(d.detections, min_score, d.record.path) for d in found]

    def evaluate(self, dataset: str, root: str | Path, out: str | Path, *, split: str = "test",
                 seed: int | None = None, workers: int = 1, scheduler: str | None = None, device: str = "auto",
                 progress: bool = True, dataset_options: Mapping[str, Any] | None = None) -> Evaluation:
        """FROC (bootstrap interval), the operating point's figures and the report on a dataset split (read with
        the adapter's ``dataset_options``), into ``out`` (as ``calcdet evaluate``); the split seed defaults to the
        one the model was trained with."""
        chosen = DatasetChoice.of(dataset, dataset_options, "dataset_options")
        with progress_shown(progress), make_executor(workers, scheduler) as executor:
            metrics = evaluate_model(self.directory, chosen, Path(root), Path(out), split, seed, executor, device)
        return Evaluation(metrics, Path(out))

    def save(self, path: str | Path) -> Path:
        """Copy the model directory to ``path`` (created; one holding a model is refused): what
        :func:`load_model` and ``calcdet detect`` read."""
        path = Path(path)
        if is_model_dir(path):
            raise InvalidInputError(f"{path} already holds a trained model; choose another path or remove it")
        for name in model_files(self.directory):
            target = path / name.relative_to(self.directory)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(name, target)
        return path

    def _placed(self, device: str) -> Pipeline:
        detector = self._pipeline.detector
        if detector is not None:
            from calcdet_core.contracts.devices import resolve_device

            detector.to_device(resolve_device(device))
        return self._pipeline

    def _detections(self, found: Any, min_score: float | str, source: Path | None) -> Detections:
        reason = None
        if isinstance(min_score, str):
            threshold = findings_score(min_score, self.directory, needed=False)
            if threshold is None:
                reason = (self.metrics.get("operating_point") or {}).get("reason") or "the model records none"
        else:
            threshold = float(min_score)
        return Detections.of(found, threshold, reason, source)

    def __repr__(self) -> str:
        point = self.operating_point
        shown = f"operating point score >= {point.threshold:.4g}" if point else "no operating point"
        return f"Model({self.name!r} in {self.directory}, {shown})"


def _array_record(pixels: np.ndarray, spacing_mm: float | tuple[float, float] | None, laterality: str | None,
                  image_id: str | None) -> ImageRecord:
    """An in-memory image as a record, refused with a clear message when no pipeline could read it."""
    image_id = image_id or "array"
    if pixels.ndim != 2 or pixels.size == 0:
        raise InvalidInputError(f"{image_id}: expected a non-empty 2-D image, got shape {pixels.shape}")
    if not (np.issubdtype(pixels.dtype, np.integer) or np.issubdtype(pixels.dtype, np.floating)):
        raise InvalidInputError(f"{image_id}: expected integer or float pixels, got {pixels.dtype}")
    spacing = None if spacing_mm is None else (
        (float(spacing_mm),) * 2 if np.isscalar(spacing_mm) else tuple(map(float, spacing_mm)))  # type: ignore[arg-type]
    if spacing is not None and (len(spacing) != 2 or not all(0.01 <= s <= 1.0 for s in spacing)):
        raise InvalidInputError(f"{image_id}: spacing_mm must be one or two spacings of 0.01-1 mm, got {spacing_mm}")
    if laterality not in (None, "L", "R"):
        raise InvalidInputError(f"{image_id}: laterality must be 'L', 'R' or None, got {laterality!r}")
    image = Mammogram(pixels, image_id, spacing, laterality)  # type: ignore[arg-type]
    return ImageRecord(image_id, image_id, Path(), Annotation(), lambda: image, laterality)


def _dicom_record(path: Path, image_id: str | None) -> ImageRecord:
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such DICOM file (Model.detect_many takes folders)")
    image_id = image_id or path.stem
    return ImageRecord(image_id, image_id, path, Annotation(), partial(read_dicom, path, image_id))

