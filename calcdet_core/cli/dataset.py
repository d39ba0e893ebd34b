"""``calcdet dataset summary``: what a dataset adapter sees in a folder, per split, and what it skipped."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from calcdet_core.cli.app import err_console, fail
from calcdet_core.contracts.data import Dataset, ImageRecord

console = Console()

dataset_app = typer.Typer(name="dataset", help="Inspect datasets read by dataset adapters.", no_args_is_help=True)


def _counts(records: Sequence[ImageRecord]) -> dict[str, int]:
    return {
        "images": len(records),
        "normal_images": sum(r.is_normal for r in records),
        "targets": sum(len(r.annotation.targets) for r in records),
        "ignore_regions": sum(len(r.annotation.ignore) for r in records),
        "patients": len({r.patient_id for r in records}),
    }


def summarize(dataset: Dataset, seed: int = 0) -> dict[str, Any]:
    """Counts over the whole dataset and per patient split, plus every skipped item with its reason."""
    return {
        **_counts(dataset.records),
        "skipped": [{"path": s.path, "reason": s.reason} for s in dataset.skipped],
        "splits": {name: _counts(records) for name, records in dataset.split(seed).items()},
    }


@dataset_app.command("summary")
def summary(
    name: Annotated[str, typer.Argument(help="Dataset adapter name (see `calcdet list-plugins --kind datasets`).")],
    root: Annotated[Path, typer.Option(help="Dataset root folder.")],
    seed: Annotated[int, typer.Option(help="Seed of the patient-level train/validation/test split.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Count images, normal images, targets, ignore regions and patients, overall and per split."""
    from calcdet_core.plugins.registry import UnknownPluginError, get_registry

    try:
        adapter = get_registry().get("datasets", name)()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = adapter.index(root)  # type: ignore[attr-defined]
        result = summarize(dataset, seed)
    except (UnknownPluginError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    for warning in caught:
        err_console.print(f"[yellow]warning:[/yellow] {warning.message}", highlight=False)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{name} dataset at {root} (split seed {seed})")
    columns = ("images", "normal_images", "targets", "ignore_regions", "patients")
    table.add_column("split")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_row("all", *(str(result[c]) for c in columns))
    for split, counts in result["splits"].items():
        table.add_row(split, *(str(counts[c]) for c in columns))
    console.print(table)
    if result["skipped"]:
        console.print(f"[yellow]skipped {len(result['skipped'])} item(s):[/yellow]")
        for item in result["skipped"]:
            console.print(f"  {item['path']}: {item['reason']}", highlight=False, markup=False)
    else:
        console.print("nothing skipped")


def register(cli: typer.Typer) -> None:
    """Add the ``dataset`` command group to the root application."""
    cli.add_typer(dataset_app, name="dataset")
