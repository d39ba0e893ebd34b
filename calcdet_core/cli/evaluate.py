"""``calcdet score`` and ``calcdet compare``: evaluating any detections file, and runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from calcdet_core.cli.app import err_console, fail

console = Console()


def score(
    detections: Annotated[Path, typer.Argument(help="CSV with columns image_id, x, y, radius, score (stored grid).")],
    dataset: Annotated[str, typer.Option(help="Dataset adapter name (see `calcdet list-plugins`).")],
    root: Annotated[Path, typer.Option(help="Dataset root folder.")],
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, froc.csv, froc.png and report.html.")],
    split: Annotated[str, typer.Option(help="Images to score: all, train, validation or test.")] = "all",
    seed: Annotated[int, typer.Option(help="Seed of the patient split and of the bootstrap.")] = 0,
    evaluator: Annotated[list[str] | None, typer.Option(
        "--evaluator", "-e", help="Evaluator to run (repeatable; default: froc, candidates, classification; "
                                  "add box-ap for box detectors).")] = None,
) -> None:
    """Score a detections file against a dataset's annotations (FROC with intervals, report)."""
    from calcdet_core.evaluation.scoring import score_file
    from calcdet_core.plugins.registry import UnknownPluginError, get_registry

    try:
        registry = get_registry()
        chosen = None
        if evaluator:
            classes = [registry.get("evaluators", name) for name in evaluator]
            chosen = [cls(seed=seed) if "seed" in cls.Config.model_fields else cls() for cls in classes]
        adapter = registry.get("datasets", dataset)()
        data = adapter.index(root)  # type: ignore[attr-defined]
        selected = data.select(split, seed)
        if data.skipped:
            err_console.print(f"[yellow]{dataset}: skipped {len(data.skipped)} item(s)[/yellow], e.g. "
                              f"{data.skipped[0].path}: {data.skipped[0].reason}", highlight=False)
        metrics = score_file(detections, selected, out, {r.image_id for r in data.records}, seed,
                             evaluators=chosen)
    except UnknownPluginError as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    left_out = metrics.get("images_left_out") or []
    if left_out:
        err_console.print(f"[yellow]note:[/yellow] detections of {len(left_out)} image(s) outside the {split!r} split "
                          f"were not scored (e.g. {left_out[0]!r})", highlight=False)
    froc = metrics["froc"]
    auc = "n/a (no normal image or no target)" if froc["auc"] is None else f"{froc['auc']:.4f}"
    ci = froc["auc_ci95"]
    interval = "" if ci[0] is None else f" (95% CI {ci[0]:.4f}-{ci[1]:.4f})"
    console.print(f"[green]scored[/green] {metrics['images']} images ({metrics['normal_images']} normal, "
                  f"{metrics['targets']} targets): FROC AUC {auc}{interval}; report {out / 'report.html'}")


def compare(
    runs: Annotated[list[Path], typer.Argument(help="Evaluation folders (written by score or evaluate).")],
    out: Annotated[Path, typer.Option(help="Folder for compare.png, compare.csv and compare.json.")],
) -> None:
    """Put several evaluation runs on one FROC plot and one table."""
    from calcdet_core.evaluation.compare import compare_runs

    try:
        summary = compare_runs(runs, out)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    table = Table(title="FROC comparison (FP per normal image)")
    for column in ("run", "AUC", "95% CI", *(f"sens@{k}" for k in summary["fppi_at"])):
        table.add_column(column)

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    for run in summary["runs"]:
        ci = run["auc_ci95"]
        table.add_row(run["run"], fmt(run["auc"]), "n/a" if ci[0] is None else f"{ci[0]:.3f}-{ci[1]:.3f}",
                      *(fmt(run["sensitivity_at"].get(k)) for k in summary["fppi_at"]))
    console.print(table)
    console.print(f"[green]wrote[/green] {out / 'compare.png'}, compare.csv, compare.json")


def register(cli: typer.Typer) -> None:
    """Add ``score`` and ``compare`` to the root application."""
    cli.command()(score)
    cli.command()(compare)
