"""``calcdet list-plugins``, ``describe`` and ``validate``: what is installed, what it takes, and whether a
pipeline is right, before any work starts."""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic.fields import FieldInfo
from rich.table import Table

from calcdet_core.cli import output
from calcdet_core.cli.options import (
    DatasetOptions,
    OptionalDatasetName,
    OptionalRootPath,
    PipelineFile,
    SeedOption,
    SetOption,
    dataset_choice,
)
from calcdet_core.contracts.components import KINDS
from calcdet_core.errors import CalcdetUserError
from calcdet_core.plugins.registry import NAMED_HOOKS, Registry, get_registry

LISTED_KINDS = (*KINDS, *NAMED_HOOKS, "commands")
"""What ``list-plugins`` lists: the six component kinds, the named hooks' values and plugin commands."""


def _kind_option(kind: str | None) -> str | None:
    if kind is None:
        return None
    matches = [k for k in LISTED_KINDS if k == kind or k[:-1] == kind]
    if not matches:
        raise typer.BadParameter(f"unknown kind {kind!r}; choose one of {', '.join(LISTED_KINDS)}")
    return matches[0]


KindOption = Annotated[str | None, typer.Option(callback=_kind_option,
                                                help=f"Only this kind: {', '.join(LISTED_KINDS)}.")]


def list_plugins(
    kind: KindOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any plugin, component, hook or command failed to load.")
                      ] = False,
) -> None:
    """List installed components, output writers and training transforms, and every plugin that failed to load.

    NAME is what a pipeline writes: the bare name where it resolves to that component, else the qualified
    DISTRIBUTION:NAME (a note says why)."""
    registry = get_registry().collect_all()
    entries = [e for e in registry.entries if kind is None or e.kind in (kind, "?")]
    if as_json:
        typer.echo(json.dumps([e.as_json() for e in entries], indent=2))
    else:
        table = Table(title="calcdet plugins")
        for column in ("kind", "name", "distribution", "version", "description"):
            table.add_column(column)
        for e in entries:
            description = f"[red]ERROR: {e.error}[/red]" if e.error else e.description
            if e.note:
                description += f" [yellow]({e.note})[/yellow]"
            table.add_row(e.kind, e.usable_name if e.error is None else e.name, e.distribution, e.version, description)
        output.stdout.print(table)
    if strict and registry.errors():
        raise typer.Exit(1)


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("multiple_of", "multiple of"),
           ("min_length", "length >="), ("max_length", "length <="), ("pattern", "matches"))


def _bounds(metadata: Iterable[Any]) -> list[str]:
    """``Ge(1)``, ``MaxLen(5)``, pydantic's ``pattern`` ... -> ``['>= 1', 'length <= 5', ...]``."""
    flat = [n for m in metadata for n in (m.metadata if isinstance(m, FieldInfo) else [m])]  # nested Field(...)
    return [f"{symbol} {getattr(m, attr)}" for m in flat for attr, symbol in _BOUNDS
            if getattr(m, attr, None) is not None]


def _type_limits(annotation: Any, each: bool = False) -> Iterator[str]:
    """Choices (Literal, Enum) and bounds nested in a type; ``each`` marks those of a list's items."""
    origin, args = get_origin(annotation), get_args(annotation)
    prefix = "each " if each else ""
    if origin is Annotated:
        yield from (prefix + b for b in _bounds(args[1:]))
        yield from _type_limits(args[0], each)
    elif origin is Literal:
        yield prefix + "one of " + ", ".join(repr(a) for a in args)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        yield prefix + "one of " + ", ".join(repr(m.value) for m in annotation)
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _type_limits(arg, each)
    else:
        for arg in args:
            if arg is not Ellipsis:
                yield from _type_limits(arg, True)


def field_limits(info: FieldInfo) -> str:
    """Every limit pydantic enforces on a field, as people read them: ``>= 1, <= 10``, ``one of 'a', 'b'``."""
    return ", ".join(dict.fromkeys([*_bounds(info.metadata), *_type_limits(info.annotation)]))


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def describe(
    name: Annotated[str, typer.Argument(help="Component name, as in list-plugins.")],
    kind: KindOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Config's JSON schema.")] = False,
) -> None:
    """Show a component's parameters: type, default, limits and description."""
    registry = get_registry()
    found = [e for e in registry.find(name) if (kind is None or e.kind == kind) and e.kind in KINDS]
    if not found:
        raise CalcdetUserError(_not_installed(registry, name, kind))
    for entry in found:
        assert entry.component is not None
        config = entry.component.Config
        if as_json:
            typer.echo(json.dumps(config.model_json_schema(), indent=2))
            continue
        output.stdout.print(f"[bold]{entry.name}[/bold] ({entry.kind[:-1]}, {entry.distribution} {entry.version})")
        if entry.description:
            output.stdout.print(entry.description, highlight=False)
        table = Table()
        for column in ("parameter", "type", "default", "limits", "description"):
            table.add_column(column)
        for field_name, info in config.model_fields.items():
            default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
            table.add_row(field_name, _type_name(info.annotation), default, field_limits(info), info.description or "")
        output.stdout.print(table)
        if entry.kind == "datasets" and config.model_fields:
            output.stdout.print(f"Set them with --dataset {entry.usable_name} --dataset-option KEY=VALUE (train, "
                                "detect, evaluate, score, validate, reproduce, dataset).", highlight=False)


def _not_installed(registry: Registry, name: str, kind: str | None) -> str:
    """One message for a name ``describe`` cannot find: the kind's own message, or the closest names of any kind."""
    if kind is not None:
        return registry.unknown_message(kind, name)
    known = {usable: k for k in KINDS for usable in registry.components(k)}
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = (f"did you mean {', '.join(f'{c!r} ({known[c][:-1]})' for c in close)}?" if close
            else "`calcdet list-plugins` lists what is installed")
    return f"no installed component is named {name!r}; {hint}"


def validate(
    path: PipelineFile,
    settings: SetOption = None,
    show: Annotated[bool, typer.Option("--print", help="Print the resolved pipeline: every default filled in, "
                                                       "--set applied (YAML, what a model directory keeps).")] = False,
    dataset: OptionalDatasetName = None,
    root: OptionalRootPath = None,
    seed: SeedOption = 0,
    dataset_options: DatasetOptions = None,
) -> None:
    """Check a pipeline YAML completely and report every error with its YAML path; with --dataset and --root,
    also what its settings need of that dataset's split (as `calcdet train` checks before any work)."""
    import yaml

    from calcdet_core.run.pipeline import load_pipeline

    pipeline = load_pipeline(Path(path), overrides=settings or ())
    chosen = dataset_choice(dataset, dataset_options)
    if (dataset is None) != (root is None):
        raise CalcdetUserError("validate: give --dataset and --root together (to check the pipeline against them)")
    if dataset is not None and root is not None:
        from calcdet_core.run.preflight import check_data_needs
        from calcdet_core.run.workflows import load_dataset

        check_data_needs(pipeline, load_dataset(chosen, root).split(seed), dataset)
    if show:
        output.stdout.print(yaml.safe_dump(pipeline.resolved(), sort_keys=False).rstrip(), highlight=False,
                            markup=False)
        return
    parts = ", ".join(f"{slot}={component.name}" for slot, component in pipeline.components())
    output.stdout.print(f"[green]{path}: valid[/green] pipeline {pipeline.spec.name!r} ({parts})", highlight=False)


def register(cli: typer.Typer) -> None:
    """Add the plugin and pipeline inspection commands to the root application."""
    cli.command("list-plugins")(list_plugins)
    cli.command()(describe)
    cli.command()(validate)
