"""``calcdet reproduce``: the study's comparison in one command.

Each pipeline is trained on the dataset's train split (validation split at hand) with
:func:`~calcdet_core.run.workflows.train_model` into ``OUT/<name>/model`` and evaluated on the
test split with :func:`~calcdet_core.run.workflows.evaluate_model` into ``OUT/<name>/evaluation``;
the splits are the dataset adapter's (for INbreast the study's patient split), seeded by ``seed``.
:mod:`calcdet_core.run.reproduce_report` then lays the results side by side in ``OUT/study.json``,
``OUT/study.md`` and ``OUT/compare.png``.

A finished model directory is reused only when it holds the very pipeline its YAML resolves to,
trained on the same dataset, root and seed (e.g. one trained before with ``calcdet train``);
anything else there is refused before any work starts, never silently used or overwritten.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from calcdet_core.errors import CalcdetUserError, InvalidInputError
from calcdet_core.io.model_dir import CHECKSUMS_FILE, PIPELINE_FILE, is_model_dir, read_metrics, sha256
from calcdet_core.run.executor import make_executor, progress_console
from calcdet_core.run.pipeline import PipelineDocument, load_pipeline, read_pipeline
from calcdet_core.run.sources import DatasetChoice

STUDY_PIPELINES = ("aia-ml.yaml", "resnet-saliency.yaml", "faster-rcnn.yaml")
"""The study's three pipelines, as shipped in the ``pipelines/`` folder beside the package."""

EVALUATION_FILES = ("metrics.json", "froc.csv", "detections.csv", "report.html")
"""What a finished ``calcdet evaluate`` folder holds."""


@dataclass(frozen=True)
class StudyRun:
    """One pipeline of the study: its YAML, its resolved content and its folder ``OUT/<name>``."""

    name: str
    yaml: Path
    document: PipelineDocument
    folder: Path

    @cached_property
    def resolved(self) -> dict[str, Any]:
        return self.document.build().resolved()

    @property
    def model(self) -> Path:
        return self.folder / "model"

    @property
    def evaluation(self) -> Path:
        return self.folder / "evaluation"


@dataclass(frozen=True)
class Study:
    """What the study runs on: dataset adapter, root (resolved), split seed, device and workers."""

    dataset: DatasetChoice
    root: Path
    seed: int = 0
    device: str = "auto"
    workers: int = 1


def study_pipelines(given: Sequence[Path] | None = None) -> list[Path]:
    """The YAMLs given (or shipped pipelines' names), or the study's three as calcdet ships them."""
    from calcdet_core.run.shipped import pipeline_path

    return [pipeline_path(p) for p in (given or STUDY_PIPELINES)]


def settings_for(settings: Sequence[str], names: Sequence[str]) -> dict[str, list[str]]:
    """``--set`` settings by pipeline name: ``NAME:PATH=VALUE`` changes the pipeline ``NAME``, ``PATH=VALUE`` every
    pipeline (each must have the setting); a ``NAME`` that is no pipeline of the study is refused."""
    chosen: dict[str, list[str]] = {name: [] for name in names}
    for setting in settings:
        path, sep, value = setting.partition("=")
        name, colon, rest = path.partition(":")
        if not colon:
            for entries in chosen.values():
                entries.append(setting)
        elif name.strip() in chosen:
            chosen[name.strip()].append(f"{rest}{sep}{value}")
        else:
            raise InvalidInputError(f"--set {setting}: {name.strip()!r} is no pipeline of this study "
                                    f"({', '.join(names)})")
    return chosen


def plan_runs(paths: Sequence[Path], out: Path, settings: Sequence[str] = ()) -> list[StudyRun]:
    """Validate every YAML (with its ``--set`` settings) and give each pipeline its folder; two pipelines of one
    name are refused."""
    documents = [read_pipeline(path) for path in paths]
    chosen = settings_for(settings, [d.document.get("name", "") for d in documents])
    runs: dict[str, StudyRun] = {}
    for path, document in zip(paths, documents, strict=True):
        name = document.document["name"]
        if Path(name).name != name or name in (".", ".."):
            raise InvalidInputError(f"{path}: pipeline name {name!r} cannot be a folder name under --out")
        if name in runs:
            raise InvalidInputError(f"{runs[name].yaml} and {path} are both named {name!r}; each pipeline of a study "
                                    "needs its own name (its folder under --out)")
        if chosen[name]:
            document = read_pipeline(path, overrides=chosen[name])
        runs[name] = StudyRun(name, Path(path), document, Path(out) / name)
    return list(runs.values())


def _refuse(folder: Path, run: StudyRun, problems: list[str]) -> None:
    if problems:
        raise InvalidInputError(f"{folder} does not hold what {run.yaml} asks for: {'; '.join(problems)}. "
                                "Remove it (or choose another --out) to compute it again")


def differences(stored: Any, asked: Any, key: str = "") -> list[tuple[str, Any, Any]]:
    """Each setting (dotted key) whose value differs between two resolved pipelines, with both values."""
    if isinstance(stored, dict) and isinstance(asked, dict):
        return [d for k in sorted(set(stored) | set(asked), key=str)
                for d in differences(stored.get(k), asked.get(k), f"{key}.{k}" if key else str(k))]
    return [] if stored == asked else [(key, stored, asked)]


def started_from(metrics: Any, setting: str, asked: Any) -> bool:
    """Whether training recorded the file ``asked`` (by SHA-256) under ``setting``: a component that starts from
    a file (initial weights) leaves the setting out of the stored pipeline, so the model loads once the file is
    gone, and records ``{"path": ..., "sha256": ...}`` in its training metrics instead."""
    if not isinstance(asked, str) or not Path(asked).is_file():
        return False
    return _records_digest(metrics, setting, sha256(Path(asked)))


def _records_digest(metrics: Any, setting: str, digest: str) -> bool:
    """Whether ``metrics``, at any depth, holds ``{"sha256": digest}`` under ``setting``."""
    if not isinstance(metrics, dict):
        return False
    found = metrics.get(setting)
    if isinstance(found, dict) and found.get("sha256") == digest:
        return True
    return any(_records_digest(value, setting, digest) for value in metrics.values())


def reusable_model(run: StudyRun, study: Study) -> bool:
    """True when ``run.model`` is a finished model of this pipeline, dataset, root and seed; a different one is
    refused (a changed YAML must not be evaluated as if it were trained)."""
    if not is_model_dir(run.model):
        return False
    try:  # resolved again: settings added since it was trained read as their defaults, as the model behaves
        stored = load_pipeline(run.model / PIPELINE_FILE).resolved()
    except (CalcdetUserError, ValueError) as exc:
        _refuse(run.model, run, [f"its stored pipeline no longer validates ({exc})"])
    metrics = read_metrics(run.model)
    changed = [key for key, was, asked in differences(stored, run.resolved)
               if not (was is None and started_from(metrics, key.rpartition(".")[2], asked))]
    problems = [f"its pipeline differs from {run.yaml} in {', '.join(changed)}"] if changed else []
    trained = {"settings": {}, **metrics.get("dataset", {})}  # no settings: the adapter's defaults
    wanted = {"name": study.dataset.name, "settings": study.dataset.settings, "root": str(study.root),
              "seed": study.seed}
    problems += [f"it was trained with dataset {key} {trained.get(key)!r}, not {value!r}"
                 for key, value in wanted.items() if trained.get(key) != value]
    _refuse(run.model, run, problems)
    return True


def _json_or_empty(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing or unreadable (then nothing in it can be reused)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def reusable_evaluation(run: StudyRun, study: Study) -> bool:
    """True when ``run.evaluation`` is a finished evaluation of ``run.model`` on this test split, made after the
    model was written; a different one is refused."""
    if not all((run.evaluation / name).is_file() for name in EVALUATION_FILES):
        return False
    metrics = {"dataset_settings": {}, **_json_or_empty(run.evaluation / "metrics.json")}
    wanted = {"dataset": study.dataset.name, "dataset_settings": study.dataset.settings, "split": "test",
              "seed": study.seed}
    problems = [f"it evaluated {key} {metrics.get(key)!r}, not {value!r}" for key, value in wanted.items()
                if metrics.get(key) != value]
    if Path(str(metrics.get("model"))).resolve() != run.model.resolve():
        problems.append(f"it evaluated the model {metrics.get('model')}, not {run.model}")
    elif (run.evaluation / "metrics.json").stat().st_mtime < (run.model / CHECKSUMS_FILE).stat().st_mtime:
        problems.append(f"it is older than the model in {run.model}")
    _refuse(run.evaluation, run, problems)
    return True


def model_stamp(model: Path) -> str:
    """Identity of a finished model directory: its checksums file covers every other file."""
    return sha256(model / CHECKSUMS_FILE)


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes (worker pools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def train(run: StudyRun, study: Study) -> dict[str, Any]:
    """Train ``run`` into its model folder; the wall and CPU seconds it took."""
    from calcdet_core.run.workflows import train_model

    wall, cpu = time.perf_counter(), _cpu_seconds()
    train_model(run.document, study.dataset, study.root, run.model, study.seed, make_executor(study.workers),
                study.device, study.workers)
    return {"wall_seconds": time.perf_counter() - wall, "cpu_seconds": _cpu_seconds() - cpu,
            "source": "measured by this run (dataset indexing included)"}


def recorded_training(run: StudyRun, previous: dict[str, Any]) -> dict[str, Any]:
    """Training seconds of a model trained before this run: measured by an earlier ``reproduce`` of this very model
    (``previous``: its study.json), else the wall seconds the model's training metrics hold."""
    stamp = model_stamp(run.model)
    for entry in previous.get("pipelines", []):
        if entry.get("name") == run.name and entry.get("model_stamp") == stamp:
            return entry["training"]
    seconds = read_metrics(run.model).get("seconds")
    return {"wall_seconds": seconds, "cpu_seconds": None,
            "source": "trained before this run: wall seconds from its training_metrics.json (fitting only), "
                      "CPU seconds not recorded" if seconds is not None else
                      "trained before this run; its training_metrics.json records no time"}


def run_pipeline(run: StudyRun, study: Study, previous: dict[str, Any]) -> dict[str, Any]:
    """Train (unless reused) and evaluate (unless reused) one pipeline; what was done and the training seconds."""
    from calcdet_core.run.workflows import evaluate_model

    trained_before = reusable_model(run, study)
    progress_console.rule(f"{run.name}: {'model reused' if trained_before else 'train'}")
    if trained_before:
        progress_console.print(f"{run.model} already holds {run.yaml} trained on this dataset: not training again")
        training = recorded_training(run, previous)
    else:
        training = train(run, study)
    evaluated_before = trained_before and reusable_evaluation(run, study)
    progress_console.rule(f"{run.name}: {'evaluation reused' if evaluated_before else 'evaluate on the test split'}")
    if evaluated_before:
        progress_console.print(f"{run.evaluation} already holds this model's test evaluation: not evaluating again")
    else:
        if (run.evaluation / "metrics.json").is_file():
            progress_console.print(f"[yellow]replacing the evaluation in {run.evaluation}: the model was trained "
                                   "again[/yellow]")
        evaluate_model(run.model, study.dataset, study.root, run.evaluation, "test", study.seed,
                       make_executor(study.workers), study.device)
    return {"name": run.name, "pipeline": str(run.yaml), "model": str(run.model), "evaluation": str(run.evaluation),
            "model_stamp": model_stamp(run.model), "trained_now": not trained_before,
            "evaluated_now": not evaluated_before, "training": training}


def reproduce(dataset: DatasetChoice | str, root: Path, out: Path, pipelines: Sequence[Path] | None = None,
              seed: int = 0, device: str = "auto", workers: int = 1, settings: Sequence[str] = ()) -> dict[str, Any]:
    """Train and evaluate every pipeline on the study's splits, then write the study report into ``out``.

    ``settings`` are ``--set`` overrides (:func:`settings_for`); a model trained with them stores them.

    Every YAML and every model already in ``out`` is checked before anything is trained.
    Returns what ``out/study.json`` holds.
    """
    from calcdet_core.run.reproduce_report import write_study
    from calcdet_core.run.workflows import claimed_output

    study = Study(DatasetChoice.of(dataset), Path(root).resolve(), seed, device, workers)
    with claimed_output(Path(out), folder=True, inputs=[Path(root), *(pipelines or ())]):
        runs = plan_runs(study_pipelines(pipelines), Path(out), settings)
        for run in runs:
            if reusable_model(run, study):
                reusable_evaluation(run, study)
        previous = _json_or_empty(Path(out) / "study.json")
        entries = [run_pipeline(run, study, previous) for run in runs]
        return write_study(Path(out), entries, study)
