"""``calcdet model hash``: one digest that pins a whole model directory, for ``--expect-digest``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.cli import output

model = typer.Typer(help="Model directories: their digest.", no_args_is_help=True)


@model.command("hash")
def hash_model(
    directory: Annotated[Path, typer.Argument(exists=True, help="Model directory (or a pipeline YAML).")],
) -> None:
    """Print one SHA-256 over every file of the model; `detect`/`evaluate --expect-digest` refuse any other model.

    checksums.json only catches accidents (anyone who edits a file can recompute it); this digest, kept
    apart from the model, tells whether it is the very model a site validated.
    """
    from calcdet_core.io.model_dir import model_digest

    output.stdout.print(f"sha256:{model_digest(directory)}", highlight=False)


def register(cli: typer.Typer) -> None:
    """Add the ``model`` command group to the root application."""
    cli.add_typer(model, name="model")
