"""Registers ``calcdet phantom OUT --images N --seed S``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.api import CalcdetUserError, hookimpl


class TransferSyntax(StrEnum):
    """The lossless syntaxes ``write_dicom`` writes."""

    explicit = "explicit"
    jpeg_lossless = "jpeg-lossless"
    jpeg2000 = "jpeg2000"
    rle = "rle"


def phantom(
    out: Annotated[Path, typer.Argument(help="Folder to write the INbreast-layout release into.")],
    images: Annotated[int, typer.Option(min=1, help="Number of images (2-4 per patient).")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same release.")] = 0,
    height: Annotated[int, typer.Option(min=64, help="Image height in pixels (70 µm each).")] = 1664,
    width: Annotated[int, typer.Option(min=64, help="Image width in pixels (70 µm each).")] = 1280,
    transfer_syntax: Annotated[TransferSyntax, typer.Option(help="How the DICOMs store their pixels (lossless).")
                               ] = TransferSyntax.explicit,
) -> None:
    """Write synthetic mammograms with exact truth as an INbreast release (read it with the 'inbreast' adapter)."""
    from calcdet_phantom.release import generate_release

    try:
        generate_release(out, images, seed, height, width, transfer_syntax.value,
                         progress=lambda done, total: typer.echo(f"\r{done}/{total} images", nl=False, err=True))
    except OSError as exc:
        raise CalcdetUserError(f"phantom: cannot write the release to {out}: {exc}") from exc
    finally:
        typer.echo("", err=True)
    typer.echo(f"wrote {images} phantom images to {out} (truth: {out / 'phantom_truth.json'})")


@hookimpl
def calcdet_register_commands(cli: typer.Typer) -> None:
    cli.command("phantom")(phantom)
