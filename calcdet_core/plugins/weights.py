"""Weights a distribution ships, found by name: ``initial_weights: shipped:point-heatmap`` in a pipeline.

Why: a pipeline that starts from shipped weights cannot name them by path, which differs between a
source checkout, a virtual environment and a wheel. A distribution that ships weights registers a
zero-argument function returning the file's path under the ``calcdet.weights`` entry-point group::

    [project.entry-points."calcdet.weights"]
    point-heatmap = "calcdet_point_weights:weights_file"

and a plugin resolves a setting's ``shipped:NAME`` with :func:`shipped_weights`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from calcdet_core.errors import InvalidInputError

WEIGHTS_GROUP = "calcdet.weights"
SHIPPED_PREFIX = "shipped:"
"""How a setting names shipped weights instead of a path: ``shipped:NAME``."""


def shipped_weights(name: str) -> Path:
    """The file an installed distribution ships as weights ``name``; refused naming what is installed."""
    found = {ep.name: ep for ep in entry_points(group=WEIGHTS_GROUP)}
    if name not in found:
        installed = ", ".join(sorted(found)) or "none"
        raise InvalidInputError(f"{SHIPPED_PREFIX}{name}: no installed distribution ships weights named {name!r} "
                                f"(entry-point group {WEIGHTS_GROUP}; installed: {installed})")
    path = Path(found[name].load()())
    if not path.is_file():
        raise InvalidInputError(f"{SHIPPED_PREFIX}{name}: {found[name].value} gives {path}, which is no file "
                                "(a broken installation: reinstall its distribution)")
    return path
