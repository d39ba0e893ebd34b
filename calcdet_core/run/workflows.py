"""What ``calcdet train``, ``detect`` and ``evaluate`` do, as functions the demo and benchmarks call too."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calcdet_core.contracts.data import Dataset, ImageResult
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.overlay import write_findings_overlay
from calcdet_core.io.detections_csv import write_detections_csv
from calcdet_core.io.model_dir import check_digest, is_model_dir, load_model, read_metrics, save_model
from calcdet_core.run.detection import DetectedImage, run_detection
from calcdet_core.run.executor import Executor, ProcessExecutor, SerialExecutor, job_key, progress_console
from calcdet_core.run.locks import OutputLock, check_not_input, check_output_dir, check_output_file
from calcdet_core.run.pipeline import Pipeline, PipelineDocument, load_pipeline, read_pipeline
from calcdet_core.run.preflight import check_data_needs
from calcdet_core.run.reporting import TrainingContexts
from calcdet_core.run.sources import DatasetChoice, ImageSource, dicom_records
from calcdet_core.run.stamps import FileDigests, input_stamp, refresh_work, restart_if_inputs_changed
from calcdet_core.run.training import train_pipeline

if TYPE_CHECKING:
    from calcdet_core.evaluation.operating import OperatingPoint


def load_dataset(dataset: DatasetChoice | str, root: Path) -> Dataset:
    """Index a dataset with its adapter (and the adapter's settings) and say what it skipped (nothing is dropped
    silently)."""
    name = str(dataset)
    adapter = DatasetChoice.of(dataset).adapter()
    progress_console.print(f"{name}: indexing {root} ...", highlight=False)
    indexed = adapter.index(Path(root))
    if indexed.skipped:
        progress_console.print(f"[yellow]{name}: skipped {len(indexed.skipped)} item(s)[/yellow], e.g. "
                               f"{indexed.skipped[0].path}: {indexed.skipped[0].reason}")
    if not indexed.records:
        raise InvalidInputError(f"dataset {name!r} at {root} holds no usable image")
    return indexed


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


@contextmanager
def claimed_output(out: Path, folder: bool = False, option: str = "--out",
                   others: dict[str, Path | None] | None = None,
                   inputs: Sequence[Path | None] = ()) -> Iterator[Path]:
    """Check ``out`` (a file, or with ``folder`` a folder) and the ``others`` ({option: path}, folders) before any
    work, none of them one of the run's ``inputs`` or inside one, and hold ``out``'s lock for the run: a second
    run on the same output stops and names the holder."""
    own = {option: Path(out)}
    check_not_input({} if folder else own, {**(own if folder else {}), **(others or {})}, inputs)
    (check_output_dir if folder else check_output_file)(Path(out), option)
    for name, path in (others or {}).items():
        if path is not None:
            check_output_dir(Path(path), name)
    with OutputLock(Path(out), option):
        yield Path(out)


def discard_work(work_dir: Path, folder: Path) -> None:
    """Delete this run's work ``folder`` (inside ``work_dir``) once the final files exist, and ``work_dir`` if empty.

    Work folders of other models or inputs are left alone: they are not this run's to delete.
    """
    shutil.rmtree(folder, ignore_errors=True)
    with suppress(OSError):  # other runs' work is still there
        Path(work_dir).rmdir()


def _stamps(source: ImageSource, with_truth: bool = False, digests: FileDigests | None = None) -> dict[str, str]:
    return {key: input_stamp(r, source.dataset, source.root, with_truth, digests)
            for r, key in zip(source.records, source.job_keys(), strict=True)}


def _resume_note(dropped: list[str], folder: Path) -> None:
    if dropped:
        progress_console.print(f"[yellow]{len(dropped)} saved result(s) in {folder} were computed from other "
                               "input files; computing them again[/yellow]")


def train_model(pipeline_path: Path | PipelineDocument, dataset: DatasetChoice | str, root: Path, out: Path,
                seed: int = 0, executor: Executor | None = None, device: str = "auto", workers: int | None = None,
                overrides: Sequence[str] = (), verify_inputs: bool = False) -> dict[str, Any]:
    """Train the pipeline (a YAML file, or a validated document) on the dataset's train split (validation
    split at hand) and write ``out``; ``dataset`` is an adapter's name or a :class:`DatasetChoice` with settings.

    The work folder ``out/work/<pipeline, dataset, seed>`` keeps per-image results and the
    components' checkpoints until the model directory is written: the same command after an
    interruption resumes there. ``device`` and ``workers`` (default: the executor's local processes)
    reach every ``fit`` in its context. ``overrides`` (``--set PATH=VALUE``) change the pipeline first; the
    model's ``pipeline.yaml`` holds the result. Any input changed since the work was saved (by content with
    ``verify_inputs``, else by size and mtime) starts the work folder afresh.
    """
    executor = executor or SerialExecutor()
    out = Path(out)
    document = (pipeline_path if isinstance(pipeline_path, PipelineDocument)
                else read_pipeline(Path(pipeline_path), overrides=overrides))
    with claimed_output(out, folder=True, inputs=[document.path, Path(root)]):
        pipeline = document.build()
        if is_model_dir(out):
            raise InvalidInputError(f"{out} already holds a trained model; choose another --out or remove it")
        chosen = DatasetChoice.of(dataset)
        splits = load_dataset(chosen, root).split(seed)
        check_data_needs(pipeline, splits, chosen.name)
        root_str = str(Path(root).resolve())
        work = out / "work" / _fingerprint(pipeline.resolved(), chosen.identity, root_str, seed)
        train = ImageSource(splits["train"], chosen, root_str)
        validation = ImageSource(splits["validation"], chosen, root_str)
        digests = FileDigests() if verify_inputs else None
        stamps = {**_stamps(train, True, digests), **_stamps(validation, True, digests)}
        if restart_if_inputs_changed(work, stamps):  # what was fitted on other inputs is stale, checkpoints too
            progress_console.print(f"[yellow]the inputs changed since the work in {work} was saved; training "
                                   "starts afresh[/yellow]")
        refresh_work(work, stamps)
        if workers is None:
            workers = executor.workers if isinstance(executor, ProcessExecutor) else 1
        contexts = TrainingContexts(work / "fit", seed, device, workers)
        metrics = train_pipeline(pipeline, train, validation, executor, work, seed, contexts=contexts)
        metrics["operating_point"] = choose_on_validation(pipeline, validation, executor, work / "validation", device)
        metrics["dataset"] = {"name": chosen.name, **({"settings": chosen.settings} if chosen.settings else {}),
                              "root": root_str, "seed": seed, "split_images": {k: len(v) for k, v in splits.items()}}
        save_model(out, pipeline, metrics, history=contexts.history())
        discard_work(out / "work", work)
    return metrics


def choose_on_validation(pipeline: Pipeline, validation: ImageSource, executor: Executor, work: Path,
                         device: str) -> dict[str, Any]:
    """The trained pipeline's operating point (:mod:`calcdet_core.evaluation.operating`), by detecting on the
    validation split exactly as ``detect`` will; ``{"chosen": false, "reason": ...}`` when there is none."""
    from calcdet_core.evaluation.froc import froc_data
    from calcdet_core.evaluation.operating import choose_operating_point

    spec = pipeline.spec.operating_point
    if spec is None:
        return {"chosen": False, "reason": "the pipeline asks for none (operating_point: null)"}
    if not validation.records:
        return {"chosen": False, "reason": "the dataset's split has no validation image"}
    found = run_detection(pipeline, validation, executor, work, "operating point (validation)", device)
    point, note = choose_operating_point(froc_data([ImageResult(d.record.image_id, d.detections,
                                                                d.record.annotation) for d in found]), spec.fppi)
    if note:
        progress_console.print(f"[yellow]operating point: {note}[/yellow]")
    return {"chosen": False, "reason": note} if point is None else {"chosen": True, **point.to_json()}


def load_runnable(model_or_yaml: Path, expect_digest: str | None = None,
                  overrides: Sequence[str] = ()) -> tuple[Pipeline, str]:
    """A trained model directory, or a pipeline YAML with nothing to learn; and an identity for work folders.

    With ``expect_digest`` (``--expect-digest``), anything but the model whose ``calcdet model hash`` it is
    is refused before a file of it is used. ``overrides`` (``--set``) change a pipeline YAML only: a trained
    model's pipeline is what it learned with.
    """
    path = Path(model_or_yaml)
    if expect_digest is not None:
        check_digest(path, expect_digest)
    if path.is_dir() and overrides:
        raise InvalidInputError(f"--set changes a pipeline YAML; {path} is a trained model, whose pipeline is what it "
                                "learned with (train it again with --set)")
    if path.is_dir():
        progress_console.print(f"loading the model in {path} ...", highlight=False)
        return load_model(path), (path / "checksums.json").read_text()
    pipeline = load_pipeline(path, overrides=overrides)
    trainable = [slot for slot, c in pipeline.components() if c.trainable and c.kind != "evaluators"]
    if trainable:
        raise InvalidInputError(f"{path}: {', '.join(trainable)} must be trained first; run `calcdet train {path} "
                                "--dataset NAME --root PATH --out MODEL_DIR` and pass MODEL_DIR")
    return pipeline, json.dumps(pipeline.resolved(), sort_keys=True)


@dataclass(frozen=True)
class Selection:
    """Which images to run on: DICOM inputs, or one split of a dataset."""

    inputs: tuple[Path, ...] = ()
    dataset: DatasetChoice | str | None = None
    root: Path | None = None
    split: str = "all"
    seed: int = 0

    def source(self) -> ImageSource:
        if self.inputs and self.dataset:
            raise InvalidInputError("give either INPUT files/folders or --dataset/--root, not both")
        if self.inputs:
            return ImageSource(dicom_records(self.inputs))
        if not self.dataset or self.root is None:
            raise InvalidInputError("give INPUT DICOM files/folders, or --dataset NAME with --root PATH")
        chosen = DatasetChoice.of(self.dataset)
        dataset = load_dataset(chosen, self.root)
        return ImageSource(dataset.select(self.split, self.seed), chosen, str(Path(self.root).resolve()))


def work_folder(work_dir: Path, identity: str) -> Path:
    """Where the per-image results of one model (``identity``) are kept until the final files exist."""
    return Path(work_dir) / _fingerprint(identity)


def detect(pipeline: Pipeline, identity: str, source: ImageSource, work_dir: Path,
           executor: Executor | None = None, device: str = "auto", verify_inputs: bool = False
           ) -> list[DetectedImage]:
    """Run the pipeline on every image (a detector on ``device``); finished images are kept under ``work_dir``.

    A saved result is reused only when its input file (path, size, mtime; with ``verify_inputs`` path and
    SHA-256 of the content) is the one it was computed from; the caller deletes the work with
    :func:`discard_work` once its final files are written.
    """
    folder = work_folder(work_dir, identity)
    _resume_note(refresh_work(folder, _stamps(source, digests=FileDigests() if verify_inputs else None)), folder)
    return run_detection(pipeline, source, executor or SerialExecutor(), folder, device=device)


def model_operating_point(model: Path) -> tuple[OperatingPoint | None, str | None]:
    """The operating point a model directory keeps, and the reason it recorded when it has none (a pipeline
    YAML: neither)."""
    from calcdet_core.evaluation.operating import stored_operating_point

    metrics = read_metrics(model) if Path(model).is_dir() else {}
    return stored_operating_point(metrics), (metrics.get("operating_point") or {}).get("reason")


def findings_score(min_score: str, model: Path, needed: bool) -> float | None:
    """``--min-score`` as a score: ``all`` is every detection, ``auto`` the model's operating point (``None``
    when it has none, refused when ``needed``), else the number given; anything else is refused by name."""
    text = min_score.strip().lower()
    if text == "all":
        return float("-inf")
    if text != "auto":
        try:
            value = float(text)
        except ValueError:
            raise InvalidInputError(f"--min-score: expected auto, all or a score, got {min_score!r}") from None
        if value != value:
            raise InvalidInputError("--min-score: not a number (nan); give a score, auto or all")
        return value
    point, reason = model_operating_point(model)
    if point is None and needed:
        why = reason or ("a pipeline YAML is not trained" if not Path(model).is_dir() else "the model records none")
        raise InvalidInputError(f"--min-score auto: {model} has no operating point ({why}); give --min-score SCORE "
                                "or --min-score all")
    return None if point is None else point.threshold


def overlay_name(image_id: str) -> str:
    """An overlay's file name: the image id itself when it is a plain file name, else its collision-free key."""
    plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}", image_id) is not None
    return f"{image_id if plain else job_key(image_id)}.png"


def write_outputs(found: list[DetectedImage], csv_path: Path, overlay_dir: Path | None = None,
                  min_score: float | None = None, with_truth: bool = False) -> Path:
    """The detections CSV (every detection, stored grid, findings marked when there is a ``min_score``; a unique
    temporary name, then replaced), and PNG overlays of the findings (detections scoring at least ``min_score``;
    ``with_truth``: as TP, FP and missed MCs)."""
    csv_path = Path(csv_path)
    staged = write_detections_csv(csv_path.with_name(f".{csv_path.name}.{os.getpid()}.partial"),
                                  [d.detections for d in found], min_score)
    os.replace(staged, csv_path)
    if overlay_dir is not None:
        floor = float("-inf") if min_score is None else min_score
        for d in found:
            draw_findings(d, Path(overlay_dir), floor, with_truth)
    return csv_path


def draw_findings(found: DetectedImage, folder: Path, min_score: float, with_truth: bool) -> Path:
    """``folder/<image id>.png``: the image with its detections scoring at least ``min_score`` drawn (by the truth
    when ``with_truth``)."""
    image = found.record.read()
    return write_findings_overlay(folder / overlay_name(found.record.image_id), image.pixels,
                                  found.detections.subset(found.detections.score >= min_score), min_score,
                                  found.record.annotation if with_truth else None, image.spacing_mm)


def _operating_on(model_dir: Path, results: list[ImageResult], split: str) -> dict[str, Any]:
    """What the model's stored operating point gives on these images, beside what it gave on validation."""
    from calcdet_core.evaluation.froc import froc_data
    from calcdet_core.evaluation.operating import at_threshold

    point, reason = model_operating_point(model_dir)
    if point is None:
        return {"chosen": False, "reason": reason or "the model records none"}
    marks = [int(np.count_nonzero(r.detections.score >= point.threshold)) for r in results]
    return {"chosen": True, "threshold": point.threshold, "target_fppi": point.target_fppi,
            "validation": {"fppi": point.fppi, "sensitivity": point.sensitivity},
            split: at_threshold(froc_data(results), point.threshold),
            "findings_per_image": float(np.mean(marks)) if marks else None}


WORST_SHOWN = 3
"""Images per list of an evaluation's worst (most missed MCs, most false positives) drawn in its report."""


def worst_images(found: list[DetectedImage], threshold: float, out: Path) -> tuple[dict[str, Any], list[Path]]:
    """The images where the findings at ``threshold`` missed most MCs and where they raised most false positives,
    each drawn (findings by truth) into ``out/worst``; what the report lists and shows."""
    from calcdet_core.evaluation.matching import FP, match_detections

    tallies = []
    for d in found:
        findings = d.detections.subset(d.detections.score >= threshold)
        match = match_detections(findings, d.record.annotation)
        tallies.append((d, int(np.count_nonzero(~match.hit)), len(match.hit),
                        int(np.count_nonzero(match.status == FP))))
    missed = sorted((t for t in tallies if t[1]), key=lambda t: (-t[1], t[0].record.image_id))[:WORST_SHOWN]
    noisy = sorted((t for t in tallies if t[3]), key=lambda t: (-t[3], t[0].record.image_id))[:WORST_SHOWN]
    pictures, drawn = [], set()
    for d, *_ in [*missed, *noisy]:
        if d.record.image_id in drawn:
            continue
        drawn.add(d.record.image_id)
        pictures.append(draw_findings(d, out / "worst", threshold, with_truth=True))
    summary = {"findings_from_score": threshold,
               "most_missed_mcs": ", ".join(f"{t[0].record.image_id} ({t[1]} of {t[2]})" for t in missed) or "none",
               "most_false_positives": ", ".join(f"{t[0].record.image_id} ({t[3]})" for t in noisy) or "none",
               "pictures": f"worst/ ({len(pictures)} images)"}
    return summary, pictures


def _mean_seconds(found: list[DetectedImage]) -> float | None:
    """Mean detection time per image (what ``calcdet reproduce`` lays beside the study's), None without images."""
    return sum(d.seconds for d in found) / len(found) if found else None


def evaluate_model(model_dir: Path, dataset: DatasetChoice | str, root: Path, out: Path, split: str = "test",
                   seed: int | None = None, executor: Executor | None = None, device: str = "auto",
                   expect_digest: str | None = None, overrides: Sequence[str] = (),
                   verify_inputs: bool = False) -> dict[str, Any]:
    """Detect on a dataset split (``dataset``: an adapter's name or a :class:`DatasetChoice` with settings) with a
    trained model and write metrics and the report into ``out`` (``verify_inputs``: saved results are reused only
    for inputs of the same content, as :func:`detect`)."""
    from calcdet_core.evaluation.report import evaluate_results
    from calcdet_core.evaluation.scoring import stored_spacing

    out = Path(out)
    with claimed_output(out, folder=True, inputs=[Path(model_dir), Path(root)]):
        pipeline, identity = load_runnable(model_dir, expect_digest, overrides)
        if seed is None:
            trained = read_metrics(model_dir).get("dataset", {}) if Path(model_dir).is_dir() else {}
            seed = int(trained.get("seed", 0))
        chosen = DatasetChoice.of(dataset)
        source = Selection(dataset=chosen, root=Path(root), split=split, seed=seed).source()
        found = detect(pipeline, identity, source, out / "work", executor, device, verify_inputs)
        records = {d.record.image_id: d.record for d in found}
        results = [ImageResult(d.record.image_id, d.detections, d.record.annotation, d.seconds,
                               spacing_mm=stored_spacing(d.record)) for d in found]
        operating = _operating_on(model_dir, results, split)
        write_outputs(found, out / "detections.csv", min_score=operating.get("threshold"))
        worst, pictures = ({}, []) if "threshold" not in operating else worst_images(found, operating["threshold"], out)
        metrics = evaluate_results(results, out, evaluators=pipeline.evaluators or None, seed=seed,
                                   load_image=lambda image_id: records[image_id].read().pixels,
                                   title=f"calcdet evaluate: {pipeline.spec.name} on {chosen.name} ({split})",
                                   extra={"model": str(Path(model_dir).resolve()), "dataset": chosen.name,
                                          **({"dataset_settings": chosen.settings} if chosen.settings else {}),
                                          "split": split,
                                          "seed": seed, "detection_seconds_per_image": _mean_seconds(found),
                                          "operating_point": operating,
                                          **({"worst_images": worst} if worst else {})},
                                   operating_threshold=operating.get("threshold"), pictures={"worst_images": pictures})
        discard_work(out / "work", work_folder(out / "work", identity))
    return metrics
