"""calcdet's own components, registered through the same hooks as any plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calcdet_core.contracts.hookspecs import hookimpl

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""

if TYPE_CHECKING:
    import typer


@hookimpl
def calcdet_register_datasets() -> list[type]:
    from calcdet_core.io.folder import FolderDataset

    return [FolderDataset]


@hookimpl
def calcdet_register_evaluators() -> list[type]:
    from calcdet_core.evaluation.evaluators import BUILTIN_EVALUATORS

    return list(BUILTIN_EVALUATORS)


@hookimpl
def calcdet_register_commands(cli: typer.Typer) -> None:
    from calcdet_core.cli import dataset, evaluate, model, plugins, reproduce, run, serve

    for commands in (plugins, run, evaluate, dataset, model, reproduce, serve):
        commands.register(cli)
