"""Safe persistence: skops files that are loaded only if they hold exactly the types we expect.

skops never unpickles, but its default trust list admits any scikit-learn estimator, so a
swapped file could still change behaviour. Before loading we therefore read the file's
schema, list every type it names and refuse the file if any is outside a hard-coded
allow-list for that model; only then is it loaded with ``trusted=`` that same list.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from calcdet_core.api import InvalidInputError

_CONTAINERS = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType", "numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64",
    "numpy.int32", "numpy.bool_", "numpy.dtype",
})
"""Plain data every estimator file contains; no code can hide in them."""

SVM_TYPES = frozenset({
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.StandardScaler", "sklearn.svm._classes.SVC",
})
"""Everything a normalise-then-SVC model consists of."""

FOREST_TYPES = frozenset({
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
})
"""Everything a random forest consists of."""

EXTRA_TREES_TYPES = frozenset({
    "sklearn.ensemble._forest.ExtraTreesClassifier", "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._tree.Tree",
})
"""Everything an extremely randomised trees ensemble consists of."""


def _schema_types(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "__class__" in node and "__module__" in node:
            yield f"{node['__module__']}.{node['__class__']}"
        for value in node.values():
            yield from _schema_types(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_types(value)


MAX_SCHEMA_BYTES = 64 << 20
"""A skops schema lists a model's objects: megabytes for the largest forest, never gigabytes."""


def types_in_file(path: Path) -> set[str]:
    """Every type a skops file names, read from its schema without loading anything.

    A schema that would inflate past :data:`MAX_SCHEMA_BYTES`, or nests deeper than Python
    recurses, is refused before it is read or walked.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo("schema.json").file_size
            if size > MAX_SCHEMA_BYTES:
                raise InvalidInputError(f"{path}: its schema.json inflates to {size / 2**20:.0f} MiB (at most "
                                        f"{MAX_SCHEMA_BYTES >> 20} MiB); not a model calcdet wrote")
            return set(_schema_types(json.loads(archive.read("schema.json"))))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not a readable skops model file: {exc}") from exc
    except RecursionError:
        raise InvalidInputError(f"{path}: its schema.json is nested too deeply; not a model calcdet wrote") from None


def dump_model(model: Any, path: Path) -> Path:
    """Write ``model`` with skops (never pickle)."""
    import skops.io as sio  # imported when needed: it pulls in torch through scikit-learn's array API

    sio.dump(model, path)
    return path


def type_name(obj: Any) -> str:
    """``module.Class`` of ``obj``'s type, as a skops schema names it."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def load_model(path: Path, allowed: frozenset[str], expected: str) -> Any:
    """Load a skops file only if every type in it is in ``allowed`` and its top object's type is ``expected``.

    Types are named (``sklearn.pipeline.Pipeline``), so the allow-lists cost no scikit-learn import.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"model file {path} is missing")
    unexpected = sorted(types_in_file(path) - allowed - _CONTAINERS)
    if unexpected:
        raise InvalidInputError(f"refusing {path}: it contains types this model never holds: {', '.join(unexpected)}")
    import skops.io as sio

    model = sio.load(path, trusted=sorted(allowed))
    if type_name(model) != expected:
        raise InvalidInputError(f"refusing {path}: expected a {expected}, found {type_name(model)}")
    return model
