"""Training a validated pipeline's learnable parts.

Training follows the study: the proposer runs on train and validation images; each
candidate is labelled by :func:`~calcdet_core.evaluation.matching.match_detections` (TP 1, FP 0,
dropped -1: in an ignore region or a duplicate on a taken target); trainable extractors
learn from train patches (groups = patient ids); the classifier learns from train
features with the validation features at hand (e.g. for the cascade's threshold).
A detector learns from lazy :class:`~calcdet_core.contracts.training.ImageStream` s of both
splits (one image read at a time) with its :class:`~calcdet_core.contracts.training.TrainingContext`.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.contracts.components import FeatureExtractor
from calcdet_core.contracts.data import Candidates, ImageRecord
from calcdet_core.contracts.training import ImageStream, StreamEntry, TrainingContext, TrainingImage, TrainingTransform
from calcdet_core.errors import CalcdetUserError, InvalidInputError
from calcdet_core.evaluation.matching import DROPPED, STUDY_DIAMETER_PX, TP, match_detections
from calcdet_core.imaging.patches import extract_patches
from calcdet_core.run.detection import checked_features, feature_names
from calcdet_core.run.executor import Executor, Result, run_jobs, stage_costs, timed
from calcdet_core.run.pipeline import Pipeline, PreprocessSpec
from calcdet_core.run.reporting import TrainingContexts
from calcdet_core.run.sources import DatasetRef, ImageSource, load_working, resolve_record

PATCH_NEGATIVES_PER_POSITIVE = 10
"""Trainable extractors learn from a 1:10 TP:FP downsample of the train patches, as the study's Haar selection."""

MAX_FIT_PATCHES = 30_000
"""Cap on those patches (ratio kept), so a large training split cannot exhaust memory."""


# --------------------------------------------------------------------------- training: labelled candidates


@dataclass(frozen=True)
class _LabelContext:
    pipeline: Pipeline
    diameter: float
    seed: int


def _sampled_negatives(record: ImageRecord, negatives: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """The FP rows (a boolean mask) training keeps: all, or ``cap`` drawn by a generator of the seed and image."""
    if cap is None or negatives.sum() <= cap:
        return negatives
    rng = np.random.default_rng([seed, zlib.crc32(record.image_id.encode())])
    kept = np.zeros_like(negatives)
    kept[rng.choice(np.flatnonzero(negatives), cap, replace=False)] = True
    return kept


def _label_job(context: _LabelContext, item: tuple[ImageRecord | DatasetRef, bool]) -> Result:
    """Candidates of one image with their labels, fixed features and (train only) patches."""
    start = time.perf_counter()
    record_or_ref, want_patches = item
    record = resolve_record(record_or_ref)
    pipeline = context.pipeline
    assert pipeline.proposer is not None
    out: Result = {}  # per-stage costs (timed) first, then what the stages made
    with timed(out, "read"):
        image, annotation = load_working(record, pipeline.spec.preprocess)
    with timed(out, "proposal"):
        candidates = pipeline.proposer.propose(image.pixels, image.mask)
    match = match_detections(candidates, annotation, context.diameter)
    negatives = (match.status != DROPPED) & (match.status != TP)
    sampled = _sampled_negatives(record, negatives, pipeline.spec.training.negatives_per_image, context.seed)
    keep = (match.status == TP) | sampled
    out.update({
        "proposed_xyr": candidates.xyr, "proposed_score": candidates.score, "keep": keep,
        "label": (match.status[keep] == TP).astype(np.int8), "dropped": np.int64((match.status == DROPPED).sum()),
        "negatives_left_out": np.int64(negatives.sum() - sampled.sum()),
        "targets": np.int64(match.n_targets), "targets_hit": np.int64(match.n_hit),
    })
    if pipeline.classifier is not None:
        # Extractors see every proposed candidate, as at detection (context features use the others);
        # the rows of the dropped duplicates go afterwards.
        for i, extractor in enumerate(pipeline.features):
            with timed(out, f"features{i}-{extractor.name}"):
                if not extractor.trainable:
                    out[f"features_{i}"] = checked_features(extractor, image.pixels, candidates)[keep]
                elif want_patches:
                    out[f"patches_{i}"] = extract_patches(image.pixels, candidates.xyr[keep, :2],
                                                          extractor.patch_size)
    out["seconds"] = np.float64(time.perf_counter() - start)
    return out


@dataclass(frozen=True)
class _TrainableContext:
    spec: PreprocessSpec
    extractors: dict[int, FeatureExtractor]


def _trainable_features_job(context: _TrainableContext,
                            item: tuple[ImageRecord | DatasetRef, np.ndarray, np.ndarray, np.ndarray]) -> Result:
    """Features of the fitted trainable extractors for one image's labelled (kept) candidates."""
    record_or_ref, xyr, score, keep = item
    out: Result = {}
    with timed(out, "read"):
        image, _ = load_working(resolve_record(record_or_ref), context.spec)
    candidates = Candidates(xyr, score)
    for i, e in context.extractors.items():
        with timed(out, f"features{i}-{e.name}"):
            out[f"features_{i}"] = checked_features(e, image.pixels, candidates)[keep]
    return out


@dataclass
class LabelledSplit:
    """Everything training needs from one split, in record order."""

    results: list[Result]
    patients: list[str]
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([r["label"] for r in self.results]).astype(np.int64) if self.results else np.zeros(0)

    @property
    def groups(self) -> np.ndarray:
        return np.concatenate([np.full(len(r["label"]), p) for r, p in zip(self.results, self.patients, strict=True)])

    def summary(self) -> dict[str, Any]:
        y = self.labels
        targets = sum(int(r["targets"]) for r in self.results)
        hit = sum(int(r["targets_hit"]) for r in self.results)
        return {"images": len(self.results), "candidates": len(y), "tp": int(y.sum()), "fp": int((y == 0).sum()),
                "dropped": sum(int(r["dropped"]) for r in self.results),
                "negatives_left_out": sum(int(r["negatives_left_out"]) for r in self.results), "targets": targets,
                "targets_hit": hit, "proposer_sensitivity": hit / targets if targets else None}


def _label_split(pipeline: Pipeline, source: ImageSource, executor: Executor, work_dir: Path, name: str,
                 want_patches: bool, diameter: float, seed: int) -> LabelledSplit:
    items = [(item, want_patches) for item in source.items(executor)]
    results = run_jobs(_label_job, _LabelContext(pipeline, diameter, seed), items, source.job_keys(),
                       work_dir / f"candidates-{name}", executor, f"candidates ({name})",
                       labels=[r.image_id for r in source.records])
    return LabelledSplit([results[k] for k in source.job_keys()], [r.patient_id for r in source.records])


def _balanced_rows(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_neg = min(len(neg), PATCH_NEGATIVES_PER_POSITIVE * max(len(pos), 1))
    shrink = min(1.0, MAX_FIT_PATCHES / max(len(pos) + n_neg, 1))
    n_pos, n_neg = max(1, int(len(pos) * shrink)) if len(pos) else 0, max(1, int(n_neg * shrink)) if n_neg else 0
    return np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]))


def _fit_trainable_extractors(pipeline: Pipeline, train: LabelledSplit, seed: int,
                              contexts: TrainingContexts) -> dict[int, FeatureExtractor]:
    trainable = {i: e for i, e in enumerate(pipeline.features) if e.trainable}
    if not trainable:
        return trainable
    labels, groups = train.labels, train.groups
    rows = _balanced_rows(labels, np.random.default_rng(seed))
    for i, extractor in trainable.items():
        patches = np.concatenate([r[f"patches_{i}"] for r in train.results])[rows]
        extractor.fit(patches, labels[rows], groups[rows], context=contexts(f"features[{i}]"))
    return trainable


def _assemble_features(pipeline: Pipeline, split: LabelledSplit, source: ImageSource,
                       trainable: dict[int, FeatureExtractor], executor: Executor, work_dir: Path,
                       name: str, fingerprint: str) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """The split's feature matrix, and the per-stage costs of computing the learned features."""
    learned: list[Result] = [{} for _ in split.results]
    if trainable:
        items = [(item, r["proposed_xyr"], r["proposed_score"], r["keep"])
                 for item, r in zip(source.items(executor), split.results, strict=True)]
        done = run_jobs(_trainable_features_job, _TrainableContext(pipeline.spec.preprocess, trainable), items,
                        source.job_keys(), work_dir / f"learned-features-{name}-{fingerprint}", executor,
                        f"learned features ({name})", labels=[r.image_id for r in source.records])
        learned = [done[k] for k in source.job_keys()]
    blocks = []
    for i, extractor in enumerate(pipeline.features):
        parts = [(learn if extractor.trainable else fixed)[f"features_{i}"]
                 for fixed, learn in zip(split.results, learned, strict=True)]
        blocks.append(np.concatenate(parts) if parts else np.zeros((0, len(extractor.feature_names()))))
    return np.hstack(blocks), stage_costs(learned)


def _extractor_fingerprint(trainable: dict[int, FeatureExtractor]) -> str:
    """Tells learned-feature work folders of differently fitted extractors apart."""
    import hashlib
    import tempfile

    digest = hashlib.sha256()
    for i, extractor in sorted(trainable.items()):
        with tempfile.TemporaryDirectory() as tmp:
            for path in sorted(extractor.save_state(Path(tmp))):
                digest.update(f"{i}:{path.name}".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass
class TrainingData:
    """Labelled candidate features of the train and validation splits, ready for a classifier."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    X_validation: np.ndarray
    y_validation: np.ndarray
    metrics: dict[str, Any]

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray] | None:
        return (self.X_validation, self.y_validation) if len(self.y_validation) else None


def training_data(pipeline: Pipeline, train: ImageSource, validation: ImageSource, executor: Executor,
                  work_dir: Path, seed: int = 0, diameter: float = STUDY_DIAMETER_PX,
                  contexts: TrainingContexts | None = None) -> TrainingData:
    """Label candidates of both splits, fit the trainable extractors (in place) and build the feature matrices."""
    if not train.records:
        raise InvalidInputError("the training split holds no image")
    if pipeline.proposer is None or pipeline.classifier is None:
        raise InvalidInputError(f"pipeline {pipeline.spec.name!r} has no proposer -> features -> classifier to train")
    tr = _label_split(pipeline, train, executor, work_dir, "train", True, diameter, seed)
    va = _label_split(pipeline, validation, executor, work_dir, "validation", False, diameter, seed)
    if tr.summary()["tp"] == 0:
        raise InvalidInputError("no proposer candidate in the training split touches a target: nothing to learn from "
                                "(check the dataset's annotations and the proposer's parameters)")
    trainable = _fit_trainable_extractors(pipeline, tr, seed, contexts or TrainingContexts(work_dir / "fit", seed))
    fingerprint = _extractor_fingerprint(trainable)
    X, learned = _assemble_features(pipeline, tr, train, trainable, executor, work_dir, "train", fingerprint)
    Xv, learned_v = _assemble_features(pipeline, va, validation, trainable, executor, work_dir, "validation",
                                       fingerprint)
    costs = {"train": stage_costs(tr.results), "validation": stage_costs(va.results),
             "train_learned_features": learned, "validation_learned_features": learned_v}
    return TrainingData(X, tr.labels, tr.groups, Xv, va.labels,
                        {"seed": seed, "train": tr.summary(), "validation": va.summary(), "stage_costs": costs})


def train_pipeline(pipeline: Pipeline, train: ImageSource, validation: ImageSource, executor: Executor,
                   work_dir: Path, seed: int = 0, diameter: float = STUDY_DIAMETER_PX,
                   contexts: TrainingContexts | None = None) -> dict[str, Any]:
    """Fit the pipeline's learnable components in place; return the training metrics.

    Every ``fit`` gets its slot's :class:`TrainingContext` from ``contexts`` (default: work
    folders under ``work_dir/fit``, CPU, one worker): what it records lands in the metrics.
    """
    start = time.perf_counter()
    if not train.records:
        raise InvalidInputError("the training split holds no image")
    contexts = contexts or TrainingContexts(work_dir / "fit", seed)
    try:
        if pipeline.detector is not None:
            return _train_detector(pipeline, train, validation, contexts("detector"), start)
        return _train_candidates(pipeline, train, validation, executor, work_dir, seed, diameter, contexts, start)
    finally:
        contexts.close()


def _train_candidates(pipeline: Pipeline, train: ImageSource, validation: ImageSource, executor: Executor,
                      work_dir: Path, seed: int, diameter: float, contexts: TrainingContexts,
                      start: float) -> dict[str, Any]:
    """Proposer, features and classifier: label candidates, fit the extractors, then the classifier."""
    if pipeline.classifier is None:  # a proposer alone learns nothing; its candidate counts are still worth keeping
        tr = _label_split(pipeline, train, executor, work_dir, "train", False, diameter, seed)
        va = _label_split(pipeline, validation, executor, work_dir, "validation", False, diameter, seed)
        return {"seed": seed, "train": tr.summary(), "validation": va.summary(),
                "seconds": time.perf_counter() - start}
    data = training_data(pipeline, train, validation, executor, work_dir, seed, diameter, contexts)
    context = contexts("classifier")
    with context.reporter.progress(f"train {pipeline.classifier.name} on {len(data.X)} candidates", total=1) as task:
        pipeline.classifier.fit(data.X, data.y, data.groups, validation=data.validation, context=context)
        task.advance()
    names = feature_names(pipeline.features)
    learned_features = {slot: dict(c.reporter.facts) for slot, c in contexts.made.items()
                        if slot.startswith("features") and c.reporter.facts}
    return {
        **data.metrics, "features": len(names), "feature_names": names,
        **({"feature_training": learned_features} if learned_features else {}),
        "classifier": dict(context.reporter.facts),
        **_validation_scores(pipeline, data.X_validation, data.y_validation),
        "seconds": time.perf_counter() - start,
    }


def _validation_scores(pipeline: Pipeline, Xv: np.ndarray, yv: np.ndarray) -> dict[str, float | None]:
    """AUROC and AUPRC of the trained classifier on validation candidates, at their own prevalence."""
    from calcdet_core.evaluation.classification import auprc, auroc

    if not len(yv):
        return {"validation_auroc": None, "validation_auprc": None}
    assert pipeline.classifier is not None
    scores = pipeline.classifier.score(Xv)
    return {"validation_auroc": auroc(yv, scores), "validation_auprc": auprc(yv, scores)}


# --------------------------------------------------------------------------- training: detectors


def _training_image(spec: PreprocessSpec, item: ImageRecord | DatasetRef) -> TrainingImage:
    """Read and preprocess one training image (module level, so an :class:`ImageStream` pickles)."""
    record = resolve_record(item)
    image, annotation = load_working(record, spec)
    return TrainingImage(record.image_id, record.patient_id, image.pixels, image.mask, annotation, image.spacing_mm)


def training_stream(source: ImageSource, spec: PreprocessSpec) -> ImageStream:
    """The images of ``source`` as a lazy stream of working-grid :class:`TrainingImage` (entries: stored grid)."""
    entries = [StreamEntry(r.image_id, r.patient_id, r.annotation) for r in source.records]
    return ImageStream(source.references(), entries, partial(_training_image, spec))


def transformed(stream: ImageStream, transform: TrainingTransform, seed: int, split: str) -> ImageStream:
    """``stream`` through ``training.transform``; refused when the transform keeps none of a split's images."""
    out = stream.with_transform(transform, seed)
    if len(stream) and not len(out):
        raise CalcdetUserError(f"training.transform keeps none of the {len(stream)} {split} images "
                               "(insertion into normal images only, and the split has none): train on more "
                               "images or with images: all")
    return out


def _split_facts(stream: ImageStream) -> dict[str, int]:
    return {"images": len(stream), "normal_images": sum(e.is_normal for e in stream.entries),
            "targets": sum(len(e.annotation.targets) for e in stream.entries)}


def _checkpoint_epoch(context: TrainingContext) -> int | None:
    meta = context.checkpoint_dir / "last.json"
    return int(json.loads(meta.read_text())["epoch"]) if meta.is_file() else None


def _train_detector(pipeline: Pipeline, train: ImageSource, validation: ImageSource, context: TrainingContext,
                    start: float) -> dict[str, Any]:
    """Fit the detector on lazy streams of both splits; never more images in memory than it asks for."""
    detector = pipeline.detector
    assert detector is not None
    resumed = _checkpoint_epoch(context)
    if resumed is not None:
        context.reporter.message(f"resuming after epoch {resumed} (checkpoint in {context.checkpoint_dir})")
    spec = pipeline.spec.preprocess
    train_stream, validation_stream = training_stream(train, spec), training_stream(validation, spec)
    if pipeline.transform is not None:
        train_stream = transformed(train_stream, pipeline.transform, context.seed, "train")
        validation_stream = transformed(validation_stream, pipeline.transform, context.seed + 1, "validation")
    detector.fit(train_stream, validation_stream, context)
    history, facts = context.reporter.history, dict(context.reporter.facts)
    return {"seed": context.seed, "train": _split_facts(train_stream), "validation": _split_facts(validation_stream),
            "device": context.device_request, "epochs": int(history[-1]["epoch"]) if history else None,
            "best_epoch": facts.get("best_epoch"),
            "final": {k: v for k, v in history[-1].items() if k != "epoch"} if history else {},
            "resumed_from_epoch": resumed, "detector": facts, "seconds": time.perf_counter() - start}
