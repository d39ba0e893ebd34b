"""What ``calcdet train``, ``detect`` and ``evaluate`` do, as functions the demo and benchmarks call too."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calcdet_core.contracts.data import Dataset, ImageResult
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.overlay import write_overlay
from calcdet_core.io.detections_csv import write_detections_csv
from calcdet_core.io.model_dir import is_model_dir, load_model, read_metrics, save_model
from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.detection import DetectedImage, run_detection
from calcdet_core.run.executor import Executor, ProcessExecutor, SerialExecutor, job_key, progress_console
from calcdet_core.run.pipeline import Pipeline, load_pipeline
from calcdet_core.run.reporting import TrainingContexts
from calcdet_core.run.sources import ImageSource, dicom_records
from calcdet_core.run.training import train_pipeline


def load_dataset(name: str, root: Path) -> Dataset:
    """Index a dataset with its adapter and say what it skipped (nothing is dropped silently)."""
    adapter = get_registry().get("datasets", name)()
    dataset = adapter.index(Path(root))  # type: ignore[attr-defined]
    if dataset.skipped:
        progress_console.print(f"[yellow]{name}: skipped {len(dataset.skipped)} item(s)[/yellow], e.g. "
                               f"{dataset.skipped[0].path}: {dataset.skipped[0].reason}")
    if not dataset.records:
        raise InvalidInputError(f"dataset {name!r} at {root} holds no usable image")
    return dataset


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def train_model(pipeline_path: Path, dataset_name: str, root: Path, out: Path, seed: int = 0,
                executor: Executor | None = None, device: str = "auto", workers: int | None = None) -> dict[str, Any]:
    """Train the pipeline on the dataset's train split (validation split at hand) and write ``out``.

    The work folder ``out/work/<pipeline, dataset, seed>`` keeps per-image results and the
    components' checkpoints until the model directory is written: the same command after an
    interruption resumes there. ``device`` and ``workers`` (default: the executor's local processes)
    reach every ``fit`` in its context.
    """
    executor = executor or SerialExecutor()
    pipeline = load_pipeline(Path(pipeline_path))
    out = Path(out)
    if is_model_dir(out):
        raise InvalidInputError(f"{out} already holds a trained model; choose another --out or remove it")
    dataset = load_dataset(dataset_name, root)
    splits = dataset.split(seed)
    root_str = str(Path(root).resolve())
    work = out / "work" / _fingerprint(pipeline.resolved(), dataset_name, root_str, seed)
    if workers is None:
        workers = executor.workers if isinstance(executor, ProcessExecutor) else 1
    contexts = TrainingContexts(work / "fit", seed, device, workers)
    metrics = train_pipeline(pipeline, ImageSource(splits["train"], dataset_name, root_str),
                             ImageSource(splits["validation"], dataset_name, root_str), executor, work, seed,
                             contexts=contexts)
    metrics["dataset"] = {"name": dataset_name, "root": root_str, "seed": seed,
                          "split_images": {k: len(v) for k, v in splits.items()}}
    save_model(out, pipeline, metrics, history=contexts.history())
    shutil.rmtree(out / "work", ignore_errors=True)
    return metrics


def load_runnable(model_or_yaml: Path) -> tuple[Pipeline, str]:
    """A trained model directory, or a pipeline YAML with nothing to learn; and an identity for work folders."""
    path = Path(model_or_yaml)
    if path.is_dir():
        return load_model(path), (path / "checksums.json").read_text()
    pipeline = load_pipeline(path)
    trainable = [slot for slot, c in pipeline.components() if c.trainable and c.kind != "evaluators"]
    if trainable:
        raise InvalidInputError(f"{path}: {', '.join(trainable)} must be trained first; run `calcdet train {path} "
                                "--dataset NAME --root PATH --out MODEL_DIR` and pass MODEL_DIR")
    return pipeline, json.dumps(pipeline.resolved(), sort_keys=True)


@dataclass(frozen=True)
class Selection:
    """Which images to run on: DICOM inputs, or one split of a dataset."""

    inputs: tuple[Path, ...] = ()
    dataset: str | None = None
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
        dataset = load_dataset(self.dataset, self.root)
        return ImageSource(dataset.select(self.split, self.seed), self.dataset, str(Path(self.root).resolve()))


def detect(pipeline: Pipeline, identity: str, source: ImageSource, work_dir: Path,
           executor: Executor | None = None, device: str = "auto") -> list[DetectedImage]:
    """Run the pipeline on every image (a detector on ``device``); finished images are kept under ``work_dir``."""
    folder = Path(work_dir) / _fingerprint(identity)
    found = run_detection(pipeline, source, executor or SerialExecutor(), folder, device=device)
    shutil.rmtree(work_dir, ignore_errors=True)
    return found


def write_outputs(found: list[DetectedImage], csv_path: Path, overlay_dir: Path | None = None) -> Path:
    """The detections CSV (stored grid), and PNG overlays when asked for."""
    path = write_detections_csv(csv_path, [d.detections for d in found])
    if overlay_dir is not None:
        for d in found:
            write_overlay(Path(overlay_dir) / f"{job_key(d.record.image_id)}.png", d.record.read().pixels, d.detections)
    return path


def evaluate_model(model_dir: Path, dataset_name: str, root: Path, out: Path, split: str = "test",
                   seed: int | None = None, executor: Executor | None = None, device: str = "auto") -> dict[str, Any]:
    """Detect on a dataset split with a trained model and write metrics and the report into ``out``."""
    from calcdet_core.evaluation.report import evaluate_results

    pipeline, identity = load_runnable(model_dir)
    if seed is None:
        trained = read_metrics(model_dir).get("dataset", {}) if Path(model_dir).is_dir() else {}
        seed = int(trained.get("seed", 0))
    source = Selection(dataset=dataset_name, root=Path(root), split=split, seed=seed).source()
    out = Path(out)
    found = detect(pipeline, identity, source, out / "work", executor, device)
    write_detections_csv(out / "detections.csv", [d.detections for d in found])
    records = {d.record.image_id: d.record for d in found}
    results = [ImageResult(d.record.image_id, d.detections, d.record.annotation, d.seconds) for d in found]
    return evaluate_results(results, out, evaluators=pipeline.evaluators or None, seed=seed,
                            load_image=lambda image_id: records[image_id].read().pixels,
                            title=f"calcdet evaluate: {pipeline.spec.name} on {dataset_name} ({split})",
                            extra={"model": str(model_dir), "dataset": dataset_name, "split": split, "seed": seed})
