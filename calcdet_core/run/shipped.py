"""The pipelines calcdet ships: package data of the core distribution (``calcdet_core/pipelines``), so a plain
wheel install has them; in the source tree ``pipelines/`` points there.

A pipeline is named by a path; a path that does not exist but whose file name is a shipped pipeline's
(``pipelines/aia-ml.yaml``, ``aia-ml.yaml`` or ``aia-ml``) is that shipped pipeline, so commands and
documents written in the source tree work the same after ``pip install calcdet``.
"""

from __future__ import annotations

from pathlib import Path

from calcdet_core.errors import InvalidInputError

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "pipelines"


def shipped_pipelines() -> dict[str, Path]:
    """Every shipped pipeline by name (its file name without ``.yaml``)."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def pipeline_path(given: Path | str) -> Path:
    """``given`` when it is a file, else the shipped pipeline of its name; refused naming the shipped ones."""
    path = Path(given)
    if path.is_file():
        return path
    if path.exists():
        raise InvalidInputError(f"pipeline {path} is not a file")
    shipped = shipped_pipelines()
    name = path.name.removesuffix(".yaml").removesuffix(".yml")
    if name in shipped and (path.suffix in ("", ".yaml", ".yml")):
        return shipped[name]
    raise InvalidInputError(f"pipeline file {path} does not exist, and no shipped pipeline is named {name!r} "
                            f"(shipped: {', '.join(shipped)})")
