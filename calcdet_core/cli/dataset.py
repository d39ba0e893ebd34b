"""``calcdet dataset summary``: what a dataset adapter sees in a folder, per split, and what it skipped;
``calcdet dataset browse``: its truth drawn on every (or every chosen) image.

With ``--check`` every image's pixel data is decoded too, so that a truncated or undecodable
file is found before a long run fails on it; indexing alone reads only headers.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

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
from calcdet_core.contracts.data import Dataset, ImageRecord
from calcdet_core.errors import CalcdetUserError

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


def unreadable_images(records: Sequence[ImageRecord]) -> list[dict[str, str]]:
    """Every record whose pixel data cannot be read, with the reader's message (one image at a time)."""
    failures = []
    for record in records:
        try:
            record.read()
        except CalcdetUserError as exc:
            failures.append({"image_id": record.image_id, "path": str(record.path), "reason": str(exc)})
    return failures


@dataset_app.command("summary")
def summary(
    dataset: DatasetName,
    root: RootPath,
    seed: SeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Also decode every image's pixel data; exit 1 when any image cannot be read.")] = False,
    dataset_options: DatasetOptions = None,
) -> None:
    """Count images, normal images, targets, ignore regions and patients, overall and per split."""
    adapter = dataset_choice(dataset, dataset_options).adapter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        indexed = adapter.index(root)
    for warning in caught:
        output.warn(str(warning.message))
    result = summarize(indexed, seed)
    if check:
        result["unreadable"] = unreadable_images(indexed.records)
    _print(result, dataset, root, seed, as_json)
    if result.get("unreadable"):
        output.error(f"{len(result['unreadable'])} of {result['images']} image(s) cannot be read; "
                     "fix or remove them before a run")
        raise typer.Exit(1)


@dataset_app.command("browse")
def browse(
    dataset: DatasetName,
    root: RootPath,
    out: Annotated[Path, typer.Option(help="Folder for one PNG per image, named by image id (not inside ROOT).")],
    split: SplitChoice = Split.all,
    seed: SeedOption = 0,
    image: Annotated[list[str] | None, typer.Option(
        "--image", help="Only this image id (repeatable); default: every image of the split.")] = None,
    dataset_options: DatasetOptions = None,
) -> None:
    """Draw each image's truth (MCs, cluster outlines and other ignore regions) with a legend and a scale bar."""
    from calcdet_core.imaging.overlay import write_truth_overlay
    from calcdet_core.run.executor import progress_bar
    from calcdet_core.run.workflows import claimed_output, load_dataset, overlay_name

    with claimed_output(out, folder=True, inputs=[root]):
        records = load_dataset(dataset_choice(dataset, dataset_options), root).select(split.value, seed)
        if image:
            unknown = sorted(set(image) - {r.image_id for r in records})
            if unknown:
                raise CalcdetUserError(f"--image: {', '.join(unknown[:5])} not among the {len(records)} image(s) "
                                       f"of split {split.value!r}")
            records = [r for r in records if r.image_id in set(image)]
        with progress_bar() as bar:
            task = bar.add_task(f"browse: {dataset}", total=len(records))
            for record in records:
                mammogram = record.read()
                write_truth_overlay(out / overlay_name(record.image_id), mammogram.pixels, record.annotation,
                                    mammogram.spacing_mm)
                bar.advance(task)
    output.stdout.print(f"wrote {len(records)} image(s) with their truth to {out}", highlight=False)


def _print(result: dict[str, Any], dataset: str, root: object, seed: int, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{dataset} dataset at {root} (split seed {seed})")
    columns = ("images", "normal_images", "targets", "ignore_regions", "patients")
    table.add_column("split")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    table.add_row("all", *(str(result[c]) for c in columns))
    for split, counts in result["splits"].items():
        table.add_row(split, *(str(counts[c]) for c in columns))
    output.stdout.print(table)
    if result["skipped"]:
        output.stdout.print(f"[yellow]skipped {len(result['skipped'])} item(s):[/yellow]")
        for item in result["skipped"]:
            output.stdout.print(f"  {item['path']}: {item['reason']}", highlight=False, markup=False)
    else:
        output.stdout.print("nothing skipped")
    if "unreadable" in result:
        if not result["unreadable"]:
            output.stdout.print(f"pixel data of all {result['images']} image(s) decoded")
        for item in result["unreadable"]:
            output.stdout.print(f"  unreadable {item['path']}: {item['reason']}", highlight=False, markup=False)


def register(cli: typer.Typer) -> None:
    """Add the ``dataset`` command group to the root application."""
    cli.add_typer(dataset_app, name="dataset")
