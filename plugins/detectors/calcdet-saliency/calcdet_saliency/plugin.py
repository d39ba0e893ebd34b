"""Hook implementations (what the `calcdet` entry point names); importing this module imports no torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calcdet_core.api import hookimpl
from calcdet_saliency.detector import SaliencyDetector

if TYPE_CHECKING:
    import typer

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_detectors() -> list[type]:
    return [SaliencyDetector]


@hookimpl
def calcdet_register_commands(cli: typer.Typer) -> None:
    from calcdet_saliency.export import export_backbone_command

    cli.command("export-backbone")(export_backbone_command)
