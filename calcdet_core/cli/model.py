"""``calcdet model hash`` (one digest that pins a whole model directory) and ``calcdet model show`` (what it is)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.cli import output

model = typer.Typer(help="Model directories: their digest, and what they hold.", no_args_is_help=True)


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


@model.command("show")
def show_model(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Model directory.")],
) -> None:
    """Print what a model is: its pipeline and components, what it was trained on, and its operating point."""
    import json

    from calcdet_core.io.model_dir import load_model, read_metrics

    pipeline = load_model(directory)  # every check a run makes, so what is shown is what would run
    metrics = read_metrics(directory)
    trained = metrics.get("dataset", {})
    components = ", ".join(f"{slot} {c.name}" for slot, c in pipeline.components())
    lines = [f"model {directory}: pipeline {pipeline.spec.name} ({components})",
             f"trained on {trained.get('name', '?')}"
             + "".join(f" --dataset-option {k}={json.dumps(v)}" for k, v in trained.get("settings", {}).items())
             + f" at {trained.get('root', '?')}, split seed "
             f"{trained.get('seed', '?')} ({json.dumps(trained.get('split_images', {}))})",
             "operating point: " + _operating_line(metrics.get("operating_point"))]
    output.stdout.print("\n".join(lines), highlight=False)


def _operating_line(point: dict | None) -> str:  # type: ignore[type-arg]
    from calcdet_core.run.reporting import operating_text

    if not point:
        return "none recorded (trained before models kept one)"
    if not point.get("chosen"):
        return f"none ({point.get('reason', 'none chosen')})"
    return operating_text(point).removeprefix("; ")


def register(cli: typer.Typer) -> None:
    """Add the ``model`` command group to the root application."""
    cli.add_typer(model, name="model")
