"""``--set PATH=VALUE``: one pipeline setting changed on the command line, without a copy of the YAML.

``PATH`` is written as ``validate`` names a setting (``detector.params.epochs``,
``features[1].params.cv_folds``, ``preprocess.working_spacing_mm``); ``VALUE`` is read as YAML, so
``3`` is a number, ``[8, 16]`` a list and ``null`` nothing. Overrides apply to the *resolved* pipeline
(every default filled in), so every setting exists and a path that names none is refused with the
names it may have meant; the changed document is validated as a whole, so a wrong type is refused at
its path.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Sequence
from typing import Any

import yaml

from calcdet_core.errors import CalcdetUserError

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


class OverrideError(CalcdetUserError, ValueError):
    """A ``--set`` that names nothing in the pipeline or cannot be read."""


def _steps(path: str, flag: str) -> list[str | int]:
    steps: list[str | int] = []
    position = 0
    for match in _STEP.finditer(path):
        if match.start() != position and path[position:match.start()] != ".":
            break
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not steps or position != len(path):
        raise OverrideError(f"{flag} {path}: not a setting path (write it as validate names settings, e.g. "
                            "detector.params.epochs or features[1].params.cv_folds)")
    return steps


def _missing(path: str, key: object, known: Sequence[str], flag: str) -> OverrideError:
    close = difflib.get_close_matches(str(key), list(known), n=3, cutoff=0.5)
    hint = (f"did you mean {', '.join(repr(c) for c in close)}?" if close
            else f"it holds {', '.join(known) or 'nothing'}")
    return OverrideError(f"{flag} {path}: {key!r} names nothing here; {hint}")


def parse_override(setting: str, flag: str = "--set") -> tuple[str, Any]:
    """``PATH=VALUE`` as its path and its value read as YAML; messages name the option as ``flag``."""
    path, sep, text = setting.partition("=")
    if not sep or not path.strip():
        raise OverrideError(f"{flag} expects PATH=VALUE, got {setting!r}")
    try:
        return path.strip(), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OverrideError(f"{flag} {path}: the value {text!r} is not YAML ({exc})") from None


def apply_overrides(document: Any, settings: Sequence[str]) -> Any:
    """A copy of the parsed pipeline ``document`` with every ``PATH=VALUE`` of ``settings`` applied, in order."""
    return apply_settings(document, [parse_override(setting) for setting in settings])


def apply_settings(document: Any, settings: Sequence[tuple[str, Any]], flag: str = "--set") -> Any:
    """A copy of ``document`` with every ``(PATH, value)`` applied, in order; messages name each as ``flag PATH``
    (the Python API's settings say ``setting``)."""
    out = copy.deepcopy(document)
    for path, value in settings:
        steps = _steps(path, flag)
        node = out
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    size = len(node) if isinstance(node, list) else 0
                    raise OverrideError(f"{flag} {path}: index [{step}] is past the {size} entries there")
            elif not isinstance(node, dict):
                raise OverrideError(f"{flag} {path}: {step!r} names nothing here (not a mapping)")
            elif step not in node:
                raise _missing(path, step, [str(k) for k in node], flag)
            if last:
                node[step] = copy.deepcopy(value)
            else:
                node = node[step]
    return out
