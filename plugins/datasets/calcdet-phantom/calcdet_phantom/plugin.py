"""Registers ``calcdet phantom OUT --images N --seed S``."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.api import CalcdetUserError, DatasetOptions, hookimpl, progress_bar
from calcdet_phantom.families import DEFAULT, FAMILIES

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""

PEAK_BYTES_PER_PIXEL = 80
"""Memory one image takes while it is synthesised (measured: ~60 B/pixel at 1664x1280, plus margin)."""


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``, else free pages); ``None`` when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_size(height: int, width: int) -> None:
    """Refuse an image size whose synthesis cannot fit in memory, before anything is allocated or written."""
    need, free = height * width * PEAK_BYTES_PER_PIXEL, available_memory()
    if free is not None and need > free:
        raise CalcdetUserError(f"phantom: a {height}x{width} image needs about {need / 2**30:.1f} GiB of memory "
                               f"to synthesise, {free / 2**30:.1f} GiB is available; choose a smaller --height "
                               "or --width")


class TransferSyntax(StrEnum):
    """The lossless syntaxes ``write_dicom`` writes."""

    explicit = "explicit"
    jpeg_lossless = "jpeg-lossless"
    jpeg2000 = "jpeg2000"
    rle = "rle"


FamilyName = StrEnum("FamilyName", {name: name for name in FAMILIES})
"""The families ``--family`` accepts (see ``calcdet_phantom.families``)."""
DEFAULT_FAMILY = FamilyName(DEFAULT)


def phantom(
    out: Annotated[Path, typer.Argument(help="Folder to write the INbreast-layout release into.")],
    images: Annotated[int, typer.Option(min=1, help="Number of images (2-4 per patient).")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same release.")] = 0,
    height: Annotated[int, typer.Option(min=64, help="Image height in pixels (70 µm each).")] = 1664,
    width: Annotated[int, typer.Option(min=64, help="Image width in pixels (70 µm each).")] = 1280,
    transfer_syntax: Annotated[TransferSyntax, typer.Option(help="How the DICOMs store their pixels (lossless).")
                               ] = TransferSyntax.explicit,
    family: Annotated[FamilyName, typer.Option(help="Generator settings: tissue, noise, MCs, clusters, distractors "
                                                    "(see the plugin's README).")] = DEFAULT_FAMILY,
    inbreast_sizes: Annotated[bool, typer.Option(help="Each patient on one of INbreast's two detectors at random: "
                                                      "4084x3328 or 3328x2560 (replaces --height and --width).")
                              ] = False,
) -> None:
    """Write synthetic mammograms with exact truth as an INbreast release (read it with the 'inbreast' adapter)."""
    from calcdet_phantom.release import INBREAST_SIZES, generate_release

    sizes = INBREAST_SIZES if inbreast_sizes else None
    for rows, columns in sizes or [(height, width)]:
        check_size(rows, columns)
    if out.is_dir() and any(out.iterdir()):
        raise CalcdetUserError(f"phantom: {out} already exists and is not an empty folder; a release is never "
                               "mixed into another: choose a new folder or remove it")
    bar = progress_bar()  # calcdet's display: elapsed and remaining time (a full-size release takes many minutes)
    task = bar.add_task(f"phantom: {family.value} images", total=images)

    def written(done: int, _: int) -> None:  # the bar starts with the first image: a folder error stays one line
        bar.start()
        bar.update(task, completed=done)

    try:
        generate_release(out, images, seed, height, width, transfer_syntax.value, progress=written,
                         family=family.value, sizes=sizes)
    except OSError as exc:
        raise CalcdetUserError(f"phantom: cannot write the release to {out}: {exc}") from exc
    finally:
        bar.stop()
    typer.echo(f"wrote {images} {family.value} phantom images to {out} (truth: {out / 'phantom_truth.json'})")


def insert(
    source: Annotated[Path, typer.Argument(help="The dataset to insert into (its root folder).")],
    out: Annotated[Path, typer.Argument(help="A new folder for the INbreast-layout release (not inside SOURCE).")],
    dataset: Annotated[str, typer.Option(help="The adapter that reads SOURCE: inbreast, folder or any installed.")
                       ] = "inbreast",
    normals_only: Annotated[bool, typer.Option(help="Insert into the normal images only and leave out every image "
                                                    "with MC findings: no MC annotation is used at all.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same release.")] = 0,
    family: Annotated[FamilyName, typer.Option(help="Whose MC and cluster settings to insert (calcdet phantom's "
                                                    "families; default: the literature's).")] = DEFAULT_FAMILY,
    settings: Annotated[Path | None, typer.Option(help="A YAML of changes to the insertion model (keys mcs, "
                                                       "clusters, imprint, ...; see the plugin's README).")] = None,
    spacing_mm: Annotated[float | None, typer.Option(min=0.01, max=1.0, help="Pixel spacing (mm) of source images "
                                                                             "that state none, for an adapter that "
                                                                             "gives them none (folder and inbreast "
                                                                             "do: set theirs with --dataset-option)."
                                                     )] = None,
    dataset_options: DatasetOptions = None,
) -> None:
    """Insert simulated MCs and clusters into a dataset's mammograms; write an INbreast release with exact truth."""
    from calcdet_core.api import dataset_choice
    from calcdet_phantom.families import get_family
    from calcdet_phantom.insert_release import insert_release
    from calcdet_phantom.insert_settings import SettingsError, read_settings
    from calcdet_phantom.insertion import InsertSettings

    chosen_dataset = dataset_choice(dataset, dataset_options)
    spec = get_family(family.value)
    try:
        chosen = read_settings(settings, InsertSettings(mcs=spec.mcs, clusters=spec.clusters))
    except SettingsError as exc:
        raise CalcdetUserError(f"insert: {settings or '--family ' + family.value}: {exc}") from exc
    bar = progress_bar()
    task = bar.add_task(f"insert: {source.name}", total=None)

    def done(count: int, total: int) -> None:
        bar.start()
        bar.update(task, completed=count, total=total)

    try:
        report = insert_release(source, out, dataset=dataset, seed=seed, normals_only=normals_only,
                                settings=chosen, spacing_mm=spacing_mm, dataset_settings=chosen_dataset.settings,
                                progress=done)
    except ValueError as exc:
        raise CalcdetUserError(f"insert: {exc}") from exc
    except OSError as exc:
        raise CalcdetUserError(f"insert: cannot write the release to {out}: {exc}") from exc
    finally:
        bar.stop()
    typer.echo(f"wrote {report.written} images to {out}: {report.inserted_mcs} MCs inserted into "
               f"{report.with_mcs}, the rest left as they were (truth: {out / 'phantom_truth.json'})")
    if report.left_out_with_findings:
        typer.echo(f"left out {report.left_out_with_findings} images with MC findings (--normals-only)")
    for item in report.skipped:
        typer.echo(f"skipped {item.path}: {item.reason}", err=True)
    for note in report.crowded:
        typer.echo(f"fewer MCs than drawn in {note}", err=True)


@hookimpl
def calcdet_register_commands(cli: typer.Typer) -> None:
    cli.command("phantom")(phantom)
    cli.command("insert")(insert)


@hookimpl
def calcdet_training_transforms() -> dict:  # type: ignore[type-arg]
    from calcdet_phantom.transform import mc_insertion

    return {"mc-insertion": mc_insertion}
