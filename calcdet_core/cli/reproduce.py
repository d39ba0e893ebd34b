"""``calcdet reproduce``: the study's three pipelines trained, evaluated and compared in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from calcdet_core.cli import output
from calcdet_core.cli.options import (
    DatasetName,
    DatasetOptions,
    DeviceOption,
    RootPath,
    SeedOption,
    WorkersOption,
    dataset_choice,
)


def _table(study: dict[str, Any]) -> Table:
    table = Table(title=f"{study['dataset']} test split: {study['images']} images, FROC AUC over 0-50 FP per normal "
                        "image")
    for column in ("pipeline", "FROC AUC", "95% CI", "study", "AP@0.5", "AR@0.5:0.95", "s/image", "model"):
        table.add_column(column)
    for p in study["pipelines"]:
        table.add_row(p["name"], output.figure(p["froc"]["auc"]), output.interval(p["froc"]["auc_ci95"]) or "n/a",
                      output.figure((p["published"] or {}).get("froc_auc"), 4), output.figure(p["box"]["ap50"]),
                      output.figure(p["box"]["ar"]), output.figure(p["detection_seconds_per_image"], 2),
                      "trained" if p["trained_now"] else "reused")
    return table


def reproduce(
    root: RootPath,
    out: Annotated[Path, typer.Option(help="Folder for <pipeline>/model, <pipeline>/evaluation and the study report.")],
    dataset: DatasetName = "inbreast",
    pipeline: Annotated[list[Path] | None, typer.Option(
        "--pipeline", dir_okay=False,
        help="Pipeline YAML or a shipped pipeline's name (repeatable; default: the study's aia-ml, resnet-saliency "
             "and faster-rcnn).")] = None,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    workers: WorkersOption = 1,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", metavar="[NAME:]PATH=VALUE", help="Change one setting of every pipeline, or with NAME: of the "
                                                   "pipeline of that name (repeatable; VALUE read as YAML): "
                                                   "aia-ml:features[3].params.cv_folds=3.")] = None,
    dataset_options: DatasetOptions = None,
) -> None:
    """Train and evaluate the study's pipelines on its patient split and compare them in one report."""
    from calcdet_core.run.reproduce import reproduce as run

    study = run(dataset_choice(dataset, dataset_options), root, out, pipeline, seed, device, workers, settings or ())
    output.stdout.print(_table(study))
    for d in study["differences"]:
        shown = d.get("note") or f"{output.figure(d['difference'])} {output.interval(d['ci'])}"
        output.stdout.print(f"FROC AUC {d['a']} - {d['b']}: {shown}", highlight=False)
    output.stdout.print(f"report: {Path(out) / 'study.html'}, {Path(out) / 'study.md'}, {Path(out) / 'study.json'}",
                        highlight=False)


def register(cli: typer.Typer) -> None:
    """Add ``reproduce`` to the root application."""
    cli.command()(reproduce)
