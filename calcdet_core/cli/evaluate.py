"""``calcdet score`` and ``calcdet compare``: evaluating any detections file, and runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from calcdet_core.cli import output
from calcdet_core.cli.options import (
    DatasetName,
    DatasetOptions,
    RootPath,
    SeedOption,
    Split,
    SplitChoice,
    dataset_choice,
)


def score(
    detections: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with columns image_id, x, y, "
                                                                                  "radius, score (stored grid).")],
    dataset: DatasetName,
    root: RootPath,
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, froc.csv, froc.png and report.html.")],
    split: SplitChoice = Split.all,
    seed: SeedOption = 0,
    evaluator: Annotated[list[str] | None, typer.Option(
        "--evaluator", "-e", help="Evaluator to run (repeatable; default: froc, candidates, classification; "
                                  "add box-ap for box detectors).")] = None,
    strict: Annotated[bool, typer.Option(help="Fail when a selected image has no row in the detections file "
                                               "(default: warn and score it as empty).")] = False,
    dataset_options: DatasetOptions = None,
) -> None:
    """Score a detections file against a dataset's annotations (FROC with intervals, report)."""
    from calcdet_core.evaluation.scoring import file_aliases, score_file
    from calcdet_core.plugins.registry import get_registry
    from calcdet_core.run.workflows import claimed_output

    read_with = dataset_choice(dataset, dataset_options)
    with claimed_output(out, folder=True, inputs=[detections, root]):  # refused before any reading
        registry = get_registry()
        chosen = None
        if evaluator:
            classes = [registry.get("evaluators", name) for name in evaluator]
            chosen = [cls(**{cls.seed_setting: seed}) if cls.seed_setting else cls() for cls in classes]
        data = read_with.adapter().index(root)
        selected = data.select(split.value, seed)
        if data.skipped:
            output.note(f"{dataset}: skipped {len(data.skipped)} item(s), e.g. {data.skipped[0].path}: "
                        f"{data.skipped[0].reason}")
        metrics = score_file(detections, selected, out, {r.image_id for r in data.records}, seed,
                             evaluators=chosen, strict=strict, warn=output.warn, aliases=file_aliases(data.records))
    left_out = metrics.get("images_left_out") or []
    if left_out:
        output.note(f"detections of {len(left_out)} image(s) outside the {split.value!r} split were not scored "
                    f"(e.g. {left_out[0]!r})")
    output.stdout.print(f"scored {metrics['images']} images ({metrics['normal_images']} normal, "
                        f"{metrics['targets']} targets): {output.froc_auc(metrics['froc'])}; "
                        f"report {out / 'report.html'}", highlight=False)


def compare(
    runs: Annotated[list[Path], typer.Argument(help="Evaluation folders (written by score or evaluate).")],
    out: Annotated[Path, typer.Option(help="Folder for compare.png, compare.csv and compare.json.")],
) -> None:
    """Put several evaluation runs on one FROC plot and one table."""
    from calcdet_core.evaluation.compare import compare_runs

    summary = compare_runs(runs, out)
    table = Table(title="FROC comparison (FP per normal image)")
    for column in ("run", "crediting", "AUC", "95% CI", *(f"sens@{k}" for k in summary["fppi_at"])):
        table.add_column(column)
    for run in summary["runs"]:
        table.add_row(run["run"], run["crediting"], output.figure(run["auc"]),
                      output.interval(run["auc_ci95"]) or "n/a",
                      *(output.figure(run["sensitivity_at"].get(k)) for k in summary["fppi_at"]))
    output.stdout.print(table)
    output.stderr.print(f"wrote {out / 'compare.png'}, compare.csv, compare.json", highlight=False)


def register(cli: typer.Typer) -> None:
    """Add ``score`` and ``compare`` to the root application."""
    cli.command()(score)
    cli.command()(compare)
