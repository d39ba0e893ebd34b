"""Registers ``calcdet phantom OUT --images N --seed S``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.api import hookimpl


def phantom(
    out: Annotated[Path, typer.Argument(help="Folder to write the INbreast-layout release into.")],
    images: Annotated[int, typer.Option(help="Number of images (2-4 per patient).")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same release.")] = 0,
    height: Annotated[int, typer.Option(help="Image height in pixels (70 µm each).")] = 1664,
    width: Annotated[int, typer.Option(help="Image width in pixels (70 µm each).")] = 1280,
    transfer_syntax: Annotated[str, typer.Option(help="explicit, jpeg-lossless, jpeg2000 or rle.")] = "explicit",
) -> None:
    """Write synthetic mammograms with exact truth as an INbreast release (read it with the 'inbreast' adapter)."""
    from calcdet_phantom.release import generate_release

    try:
        generate_release(out, images, seed, height, width, transfer_syntax,
                         progress=lambda done, total: typer.echo(f"\r{done}/{total} images", nl=False, err=True))
    except ValueError as exc:
        typer.echo("", err=True)
        raise typer.BadParameter(str(exc)) from exc
    typer.echo("", err=True)
    typer.echo(f"wrote {images} phantom images to {out} (truth: {out / 'phantom_truth.json'})")


@hookimpl
def calcdet_register_commands(cli: typer.Typer) -> None:
    cli.command("phantom")(phantom)
