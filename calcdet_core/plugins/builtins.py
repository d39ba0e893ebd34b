"""calcdet's own components, registered through the same hooks as any plugin."""

from __future__ import annotations

from calcdet_core.contracts.hookspecs import hookimpl


@hookimpl
def calcdet_register_datasets() -> list[type]:
    from calcdet_core.io.folder import FolderDataset

    return [FolderDataset]


@hookimpl
def calcdet_register_evaluators() -> list[type]:
    from calcdet_core.evaluation.evaluators import BUILTIN_EVALUATORS

    return list(BUILTIN_EVALUATORS)


@hookimpl
def calcdet_register_commands(cli) -> None:
    from calcdet_core.cli.dataset import register as register_dataset_commands
    from calcdet_core.cli.evaluate import register as register_evaluate_commands
    from calcdet_core.cli.run import register as register_run_commands

    register_run_commands(cli)
    register_evaluate_commands(cli)
    register_dataset_commands(cli)
