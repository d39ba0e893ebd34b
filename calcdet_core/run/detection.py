"""Running a validated pipeline on images: detection.

Per image: read -> preprocess (working grid) -> proposer (or detector) -> features of every
extractor, concatenated (names prefixed by the extractor) -> classifier score -> detections
mapped back to the stored grid with ``mammogram.transform.to_stored``. Per-image work goes
through :mod:`calcdet_core.run.executor`, so it is parallel and resumable; a detector with a
``batch_size`` above 1 gets its images in batches.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.contracts.components import Detector, FeatureExtractor, validate_finite_features
from calcdet_core.contracts.data import Candidates, Detections, ImageRecord, Mammogram
from calcdet_core.run.executor import STAGE_COSTS, Executor, Result, run_jobs, timed
from calcdet_core.run.pipeline import Pipeline
from calcdet_core.run.sources import DatasetRef, ImageSource, load_working, resolve_record


def feature_names(extractors: Sequence[FeatureExtractor]) -> list[str]:
    """Column names of the concatenated features: ``<plugin>.<feature>`` (``<plugin><i>.`` if used twice)."""
    counts = Counter(e.name for e in extractors)
    names: list[str] = []
    for i, e in enumerate(extractors):
        prefix = e.name if counts[e.name] == 1 else f"{e.name}{i}"
        names += [f"{prefix}.{n}" for n in e.feature_names()]
    return names


def checked_features(extractor: FeatureExtractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    """One extractor's features, refused with its name when the shape or a value is wrong."""
    return validate_finite_features(extractor.extract(image, candidates), len(candidates),
                                    extractor.feature_names(), extractor.name)


def extract_features(extractors: Sequence[FeatureExtractor], image: np.ndarray, candidates: Candidates,
                     costs: Result | None = None) -> np.ndarray:
    """(N, F) features of every extractor side by side, in :func:`feature_names` order; each one's cost in ``costs``."""
    blocks = []
    for i, e in enumerate(extractors):
        with timed({} if costs is None else costs, f"features{i}-{e.name}"):
            blocks.append(checked_features(e, image, candidates))
    return np.hstack(blocks) if blocks else np.zeros((len(candidates), 0))


def detect_working(pipeline: Pipeline, image: Mammogram, costs: Result | None = None) -> Candidates:
    """Scored detections on the working grid of a preprocessed image; each stage's cost added to ``costs``."""
    costs = {} if costs is None else costs
    if pipeline.detector is not None:
        with timed(costs, "detector"):
            return pipeline.detector.detect(image.pixels, image.mask)
    assert pipeline.proposer is not None
    with timed(costs, "proposal"):
        candidates = pipeline.proposer.propose(image.pixels, image.mask)
    costs["candidates"] = np.int64(len(candidates))
    if pipeline.classifier is None:
        return candidates
    features = extract_features(pipeline.features, image.pixels, candidates, costs)
    with timed(costs, "scoring"):
        return candidates.with_scores(pipeline.classifier.score(features))


def _to_stored(found: Candidates, image: Mammogram, image_id: str) -> Detections:
    """Working-grid findings as stored-grid detections (boxes, when there are, mapped too)."""
    return Detections.of(found.to_stored(image.transform, image_id))


def detect_record(pipeline: Pipeline, record: ImageRecord, costs: Result | None = None) -> Detections:
    """Detections of one image in its stored grid; each stage's cost added to ``costs``."""
    with timed({} if costs is None else costs, "read"):
        image, _ = load_working(record, pipeline.spec.preprocess)
    return _to_stored(detect_working(pipeline, image, costs), image, record.image_id)


def _as_result(found: Detections, seconds: float) -> Result:
    out = {"xyr": found.xyr, "score": found.score, "seconds": np.float64(seconds)}
    if found.boxes is not None:
        out["boxes"] = found.boxes
    return out


@dataclass
class _DetectionContext:
    """What every detection worker gets once: the pipeline, and the device its detector is to compute on.

    The detector moves to ``device`` in the process that detects (a worker, or this one), on its first job.
    """

    pipeline: Pipeline
    device: str | None = None
    _placed: bool = field(default=False, compare=False)

    def ready(self) -> Pipeline:
        if self.device is not None and not self._placed:
            assert self.pipeline.detector is not None
            self.pipeline.detector.to_device(self.device)
            self._placed = True
        return self.pipeline

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_placed": False}


def _detect_job(context: _DetectionContext, item: ImageRecord | DatasetRef) -> Result:
    start = time.perf_counter()
    costs: Result = {}
    found = detect_record(context.ready(), resolve_record(item), costs)
    return {**_as_result(found, time.perf_counter() - start), **costs}


def _detect_batch_job(context: _DetectionContext, items: list[ImageRecord | DatasetRef]) -> list[Result]:
    """Up to ``batch_size`` images through the detector's ``detect_batch`` at once; one result per image."""
    start = time.perf_counter()
    pipeline = context.ready()
    detector = pipeline.detector
    assert detector is not None
    records = [resolve_record(item) for item in items]
    images = [load_working(record, pipeline.spec.preprocess)[0] for record in records]
    found = detector.detect_batch([image.pixels for image in images], [image.mask for image in images])
    if len(found) != len(images):
        raise ValueError(f"detector {detector.name!r}: detect_batch returned {len(found)} results "
                         f"for {len(images)} images")
    seconds = (time.perf_counter() - start) / len(images)
    return [_as_result(_to_stored(f, image, record.image_id), seconds)
            for f, image, record in zip(found, images, records, strict=True)]


def _device_for(detector: Detector | None, device: str | None) -> str | None:
    """The resolved ``--device`` for a detector that places itself (overrides ``to_device``), else ``None``."""
    if detector is None or device is None or type(detector).to_device is Detector.to_device:
        return None
    from calcdet_core.contracts.devices import resolve_device

    return resolve_device(device)


@dataclass(frozen=True)
class DetectedImage:
    record: ImageRecord
    detections: Detections
    seconds: float
    costs: dict[str, float] = field(default_factory=dict)
    """Per stage ``wall_<stage>``/``cpu_<stage>`` seconds, ``rss_<stage>`` MB, and ``candidates`` proposed."""


def run_detection(pipeline: Pipeline, source: ImageSource, executor: Executor, work_dir: Path,
                  description: str = "detect", device: str | None = None) -> list[DetectedImage]:
    """Detections for every image of ``source`` (stored grid), in its order; resumable from ``work_dir``.

    A detector is moved to ``device`` (``--device``) before it detects; one whose ``batch_size``
    exceeds 1 gets that many images per job through ``detect_batch`` (results still saved per image).
    """
    detector = pipeline.detector
    batch = detector.batch_size if detector is not None else 1
    if detector is not None and batch < 1:
        raise ValueError(f"detector {detector.name!r}: batch_size must be at least 1, got {batch}")
    context = _DetectionContext(pipeline, _device_for(detector, device))
    results = run_jobs(_detect_batch_job if batch > 1 else _detect_job, context, source.items(executor),
                       source.job_keys(), work_dir, executor, description,
                       labels=[r.image_id for r in source.records], batch_size=batch)
    return [DetectedImage(r, Detections(results[k]["xyr"], results[k]["score"], r.image_id, results[k].get("boxes")),
                          float(results[k]["seconds"]), _costs(results[k]))
            for r, k in zip(source.records, source.job_keys(), strict=True)]


def _costs(result: Result) -> dict[str, float]:
    return {key: float(value) for key, value in result.items()
            if key == "candidates" or key.partition("_")[0] in STAGE_COSTS}
