"""calcdet core: contracts, plugin manager, pipeline engine, CLI and built-in evaluators.

Plugin authors import from :mod:`calcdet_core.api` (and from :mod:`calcdet_core.testing` in
their tests), never from calcdet's other modules, whose layout may change between releases::

    from calcdet_core.api import hookimpl, Proposer, ComponentConfig, Candidates

Importing this package loads nothing else (every ``calcdet_core.*`` import starts here, so
it stays light). The names the first edition exported here (``from calcdet_core import
Candidates``) still work, with a warning (once per name) giving the import to use instead.
"""

import warnings
from typing import Any

__version__ = "0.1.0"

_FIRST_EDITION_NAMES = frozenset({
    "Annotation", "Candidates", "Classifier", "Component", "ComponentConfig", "Dataset", "DatasetAdapter",
    "Detections", "Detector", "Evaluator", "FeatureExtractor", "GridTransform", "IgnoreRegion", "ImageRecord",
    "ImageResult", "Mammogram", "Proposer", "SkippedItem", "Target", "hookimpl",
})


_warned: set[str] = set()


def __getattr__(name: str) -> Any:
    """``calcdet_core.Candidates`` and the like, from :mod:`calcdet_core.api` (imported on first use)."""
    if name in _FIRST_EDITION_NAMES:
        from calcdet_core import api

        if name not in _warned:
            _warned.add(name)
            warnings.warn(f"'from calcdet_core import {name}' is the first edition's import; write "
                          f"'from calcdet_core.api import {name}' (docs/migrating.md)", FutureWarning, stacklevel=2)
        return getattr(api, name)
    raise AttributeError(f"module 'calcdet_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FIRST_EDITION_NAMES])
