"""The ``calcdet`` command line: the root application and the plugin commands.

Sub-command groups live in their own ``cli_*`` modules; plugins add theirs through
the ``calcdet_register_commands`` hook.
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from calcdet_core.contracts.components import KINDS
from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.pipeline import PipelineValidationError, load_pipeline

app = typer.Typer(
    name="calcdet",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print a user-fixable error (file, plugin or key at fault) and exit 1, without a traceback."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def _kind_option(kind: str | None) -> str | None:
    if kind is None:
        return None
    matches = [k for k in KINDS if k == kind or k[:-1] == kind]
    if not matches:
        raise typer.BadParameter(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return matches[0]


@app.command("list-plugins")
def list_plugins(
    kind: Annotated[str | None, typer.Option(help=f"Only this kind: {', '.join(KINDS)}.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any plugin failed to load.")] = False,
) -> None:
    """List installed components, and every plugin that failed to load."""
    wanted = _kind_option(kind)
    registry = get_registry()
    entries = [e for e in registry.entries if wanted is None or e.kind in (wanted, "?")]
    if as_json:
        typer.echo(json.dumps([e.as_json() for e in entries], indent=2))
    else:
        table = Table(title="calcdet plugins")
        for column in ("kind", "name", "distribution", "version", "description"):
            table.add_column(column)
        for e in entries:
            description = f"[red]ERROR: {e.error}[/red]" if e.error else e.description
            table.add_row(e.kind, e.name, e.distribution, e.version, description)
        console.print(table)
    if strict and registry.errors():
        raise typer.Exit(1)


@app.command()
def describe(
    name: Annotated[str, typer.Argument(help="Component name, as in list-plugins.")],
    kind: Annotated[str | None, typer.Option(help="Kind, when the name exists in several.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Config's JSON schema.")] = False,
) -> None:
    """Show a component's parameters: type, default and description."""
    registry = get_registry()
    wanted = _kind_option(kind)
    found = [e for e in registry.find(name) if wanted is None or e.kind == wanted]
    if not found:
        kinds = [wanted] if wanted else list(KINDS)
        messages = {registry.unknown_message(k, name) for k in kinds}
        err_console.print(f"[red]{name!r} is not an installed component.[/red] " + " | ".join(sorted(messages)))
        raise typer.Exit(1)
    for entry in found:
        assert entry.component is not None
        config = entry.component.Config
        if as_json:
            typer.echo(json.dumps(config.model_json_schema(), indent=2))
            continue
        console.print(f"[bold]{entry.name}[/bold] ({entry.kind[:-1]}, {entry.distribution} {entry.version})")
        if entry.description:
            console.print(entry.description)
        table = Table()
        for column in ("parameter", "type", "default", "description"):
            table.add_column(column)
        for field_name, info in config.model_fields.items():
            annotation = getattr(info.annotation, "__name__", None) or str(info.annotation)
            default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
            table.add_row(field_name, annotation.replace("typing.", ""), default, info.description or "")
        console.print(table)


@app.command()
def validate(path: Annotated[str, typer.Argument(help="Pipeline YAML file.")]) -> None:
    """Check a pipeline YAML completely and report every error with its YAML path."""
    try:
        pipeline = load_pipeline(path)  # type: ignore[arg-type]
    except PipelineValidationError as exc:
        err_console.print(f"[red]{exc.source}: {len(exc.issues)} error(s)[/red]")
        for issue in exc.issues:
            err_console.print(f"  {issue}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    parts = ", ".join(f"{path}={component.name}" for path, component in pipeline.components())
    console.print(f"[green]{path}: valid[/green] pipeline {pipeline.spec.name!r} ({parts})")


def _print_version(value: bool) -> None:
    if value:
        from calcdet_core import __version__

        typer.echo(f"calcdet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print calcdet's version and exit.")] = False,
) -> None:
    """Detect microcalcifications in full-field digital mammograms."""


def _register_plugin_commands() -> None:
    """Let every plugin add commands; one that fails is reported and the rest still work."""
    for impl in get_registry().plugin_manager.hook.calcdet_register_commands.get_hookimpls():
        try:
            impl.function(cli=app)
        except Exception as exc:
            err_console.print(f"[yellow]warning: plugin {impl.plugin_name!r} failed to add its commands: "
                              f"{type(exc).__name__}: {exc}[/yellow]")


def main() -> None:
    _register_plugin_commands()
    app()
