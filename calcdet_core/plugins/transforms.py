"""Training transforms from plugins: how ``training.transform`` reaches a transform calcdet does not ship.

A plugin returns ``{name: factory}`` from the ``calcdet_training_transforms`` hook; calcdet looks
a factory up by name through the plugin registry and never imports the plugin.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from calcdet_core.contracts.training import TrainingTransform
from calcdet_core.plugins.registry import Registry

TRANSFORM_PLUGINS = {"mc-insertion": "calcdet-phantom (pip install -e plugins/datasets/calcdet-phantom)"}
"""Where the transforms calcdet's documentation names come from, for the message when none is installed."""


def training_transforms(registry: Registry) -> dict[str, Callable[..., TrainingTransform]]:
    """Every registered transform factory by name (a name two plugins register: the first loaded)."""
    factories: dict[str, Callable[..., TrainingTransform]] = {}
    for _, call in registry.hook_callers("calcdet_training_transforms"):
        for returned in call():
            for name, factory in (returned or {}).items():
                factories.setdefault(name, factory)
    return factories


def unknown_transform(name: str, known: dict[str, Any]) -> str:
    """The message for a transform no installed plugin registers, with the names it may have meant."""
    message = f"no installed plugin registers a training transform named {name!r}"
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.4)
    if close:
        return f"{message}; did you mean {', '.join(repr(c) for c in close)}?"
    if name in TRANSFORM_PLUGINS:
        return f"{message}; install {TRANSFORM_PLUGINS[name]}"
    return f"{message}; installed: {', '.join(sorted(known)) or 'none'}"
