"""``calcdet train``, ``calcdet detect`` and ``calcdet evaluate``: running pipelines from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from calcdet_core.cli.app import fail
from calcdet_core.run.executor import JobsFailed, make_executor, progress_console
from calcdet_core.run.pipeline import PipelineValidationError

WorkersOption = Annotated[int, typer.Option("--workers", "-j", min=1,
                                            help="Worker processes on this machine (1: in this process).")]
SchedulerOption = Annotated[str | None, typer.Option(
    help="Dask scheduler address (tcp://host:8786): run the per-image jobs on that cluster instead.")]
DatasetOption = Annotated[str | None, typer.Option(help="Dataset adapter name (see `calcdet list-plugins`).")]
RootOption = Annotated[Path | None, typer.Option(help="Dataset root folder.")]


def _device(value: str) -> str:
    from calcdet_core.contracts.devices import check_device

    try:
        return check_device(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


DeviceOption = Annotated[str, typer.Option(callback=_device, help="Where a learning detector computes: auto (CUDA "
                                                                  "when torch sees one), cpu, cuda or cuda:N.")]


def _guarded(run: Any) -> Any:
    """Turn the errors a user can fix into a message and exit status 1, never a traceback."""
    try:
        return run()
    except (PipelineValidationError, JobsFailed, ValueError, KeyError, FileNotFoundError) as exc:
        fail(str(exc))


def train(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    dataset: Annotated[str, typer.Option(help="Dataset adapter name (see `calcdet list-plugins`).")],
    root: Annotated[Path, typer.Option(help="Dataset root folder.")],
    out: Annotated[Path, typer.Option(help="Model directory to create.")],
    seed: Annotated[int, typer.Option(help="Seed of the patient split and of sampling.")] = 0,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Train a pipeline on a dataset's train split (validation split for thresholds) into a model directory."""
    from calcdet_core.run.reporting import training_summary
    from calcdet_core.run.workflows import train_model

    metrics = _guarded(lambda: train_model(pipeline, dataset, root, out, seed, make_executor(workers, scheduler),
                                           device, workers))
    progress_console.print(training_summary(out, metrics))


def detect(
    model: Annotated[Path, typer.Argument(help="Model directory, or a pipeline YAML with nothing to train.")],
    inputs: Annotated[list[Path] | None, typer.Argument(help="DICOM files or folders.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="Detections CSV to write.")] = Path("detections.csv"),
    dataset: DatasetOption = None,
    root: RootOption = None,
    split: Annotated[str, typer.Option(help="all, train, validation or test.")] = "all",
    seed: Annotated[int, typer.Option(help="Seed of the patient split (for --split).")] = 0,
    overlay: Annotated[Path | None, typer.Option(help="Folder for PNG overlays with detection circles.")] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Detect microcalcifications; one CSV row per detection (image_id, x, y, radius, score), stored grid."""
    from calcdet_core.run.workflows import Selection, load_runnable, write_outputs
    from calcdet_core.run.workflows import detect as run

    def job() -> int:
        pipeline, identity = load_runnable(model)
        source = Selection(tuple(inputs or ()), dataset, root, split, seed).source()
        found = run(pipeline, identity, source, out.with_name(out.name + ".work"), make_executor(workers, scheduler),
                    device)
        write_outputs(found, out, overlay)
        return sum(len(d.detections) for d in found)

    n = _guarded(job)
    progress_console.print(f"[green]wrote[/green] {out}: {n} detections")


def evaluate(
    model: Annotated[Path, typer.Argument(help="Model directory (or a pipeline YAML with nothing to train).")],
    dataset: Annotated[str, typer.Option(help="Dataset adapter name.")],
    root: Annotated[Path, typer.Option(help="Dataset root folder.")],
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, froc.png, report.html.")],
    split: Annotated[str, typer.Option(help="all, train, validation or test.")] = "test",
    seed: Annotated[int | None, typer.Option(help="Split seed (default: the one the model was trained with).")] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Run a trained pipeline on a dataset split and score it (FROC with bootstrap interval, report)."""
    from calcdet_core.run.workflows import evaluate_model

    metrics = _guarded(lambda: evaluate_model(model, dataset, root, out, split, seed,
                                              make_executor(workers, scheduler), device))
    froc = metrics.get("froc", {})
    progress_console.print(json.dumps({"froc_auc": froc.get("auc"), "auc_ci95": froc.get("auc_ci95")}))
    progress_console.print(f"[green]report:[/green] {Path(out) / 'report.html'}")


def register(cli: typer.Typer) -> None:
    """Add the run commands to the root application."""
    cli.command()(train)
    cli.command()(detect)
    cli.command()(evaluate)
