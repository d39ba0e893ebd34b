"""Entry point module: registers the classifiers, and the ``calcdet tune`` command, with calcdet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calcdet_core.api import hookimpl
from calcdet_svm.cascade import SvmCascade, SvmHardNegative
from calcdet_svm.single import RandomForest, Svm

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""

if TYPE_CHECKING:
    import typer


@hookimpl
def calcdet_register_classifiers() -> list[type]:
    return [SvmCascade, SvmHardNegative, Svm, RandomForest]


@hookimpl
def calcdet_register_commands(cli: typer.Typer) -> None:
    from calcdet_svm.tune import tune

    cli.command()(tune)
