"""Where every command writes: results on stdout, progress and messages on stderr; figures rounded for people.

A command's result (a table, JSON, the figures it computed, the file it wrote) goes to stdout so
that it can be piped; everything else (progress bars, notes, warnings, errors) goes to stderr.
Figures are printed with three decimals; the JSON files keep full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def error(message: str) -> None:
    stderr.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


def note(message: str) -> None:
    stderr.print(f"[yellow]note:[/yellow] {escape(message)}", highlight=False)


def figure(value: float | None, digits: int = 3) -> str:
    """``0.4703`` -> ``0.470``; ``None`` (undefined) -> ``n/a``."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def interval(bounds: Sequence[float | None] | None) -> str:
    """``(0.3812, 0.5478)`` -> ``[0.381, 0.548]``; empty when the interval is undefined."""
    if not bounds or bounds[0] is None or bounds[1] is None:
        return ""
    return f"[{figure(bounds[0])}, {figure(bounds[1])}]"


def froc_auc(froc: dict[str, Any]) -> str:
    """``FROC AUC 0.470 [0.381, 0.548]`` from a FROC metrics block (``auc`` and ``auc_ci95``)."""
    if froc.get("auc") is None:
        return "FROC AUC n/a (no normal image or no target)"
    ci = interval(froc.get("auc_ci95"))
    return f"FROC AUC {figure(froc['auc'])}" + (f" {ci}" if ci else "")
