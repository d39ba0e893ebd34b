"""The contract's edition: what a plugin declares it was written against, and what calcdet checks at registration.

A plugin module states ``calcdet_contract = 2`` (the edition it follows). calcdet loads a plugin
of its own edition only, and then checks that every component class can be called the way the
engine calls it, so a plugin written against another edition is an error row of ``calcdet
list-plugins`` saying what to change (docs/migrating.md), not a ``TypeError`` minutes into a run.
"""

from __future__ import annotations

import inspect
from typing import Any

CONTRACT_EDITION = 2
"""The edition of the hooks and component contracts this calcdet implements."""

DECLARATION = "calcdet_contract"
"""The module attribute a plugin declares its edition in."""

MIGRATING = "docs/migrating.md"

# How the engine calls each kind's methods: (method, positional arguments, keyword arguments).
_CALLS: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = {
    "datasets": (("index", ("root",), ()),),
    "proposers": (("propose", ("image", "mask"), ()),),
    "features": (("feature_names", (), ()), ("extract", ("image", "candidates"), ()),
                 ("fit", ("patches", "labels", "groups"), ("context",))),
    "classifiers": (("fit", ("features", "labels", "groups"), ("validation", "context")),
                    ("score", ("features",), ())),
    "detectors": (("fit", ("train", "validation", "context"), ()), ("detect", ("image", "mask"), ()),
                  ("detect_batch", ("images", "masks"), ()), ("to_device", ("device",), ())),
    "evaluators": (("compute", ("results",), ()), ("metrics", ("computed",), ()),
                   ("write_report", ("metrics", "computed", "out_dir"), ())),
}
_EVERY_KIND = (("save_state", ("directory",), ()), ("load_state", ("directory",), ()),
               ("data_needs", ("train", "validation"), ()))

# Edition 1's methods that edition 2 renamed, by kind (None: every kind).
_RENAMED: dict[tuple[str | None, str], str] = {
    ("datasets", "load"): "index(root)",
    (None, "save"): "save_state(directory)",
    (None, "load"): "load_state(directory)",
    ("evaluators", "evaluate"): "metrics(computed) (and compute(results) for the shared work)",
}


def declaration_problem(plugin: object, module: str) -> str | None:
    """Why ``plugin`` (a hook module) cannot be loaded for its declared edition; ``None`` when it can."""
    declared = getattr(plugin, DECLARATION, None)
    if declared is None:
        return (f"{module} declares no contract edition, so it was written before editions were declared "
                f"(edition 1): follow {MIGRATING}, then add `{DECLARATION} = {CONTRACT_EDITION}` to it")
    if not isinstance(declared, int) or isinstance(declared, bool):
        return f"{module}: {DECLARATION} = {declared!r}; expected the edition number, {CONTRACT_EDITION}"
    if declared > CONTRACT_EDITION:
        return (f"{module} follows contract edition {declared}, newer than this calcdet's {CONTRACT_EDITION}: "
                "upgrade calcdet")
    if declared < CONTRACT_EDITION:
        return (f"{module} follows contract edition {declared}; this calcdet implements {CONTRACT_EDITION}: "
                f"follow {MIGRATING} (edition {declared} to {CONTRACT_EDITION}), then declare "
                f"`{DECLARATION} = {CONTRACT_EDITION}`")
    return None


def _defined(cls: type, method: str) -> Any:
    """``cls``'s own (or a non-calcdet base's) definition of ``method``, else ``None`` (calcdet's default is fine)."""
    for klass in cls.__mro__:
        if method in vars(klass):
            return None if klass.__module__.startswith("calcdet_core.") else vars(klass)[method]
    return None


def signature_problems(kind: str, cls: type) -> list[str]:
    """Each method of ``cls`` the engine could not call as it does (edition-1 signatures and names among them)."""
    problems = []
    for method, positional, keywords in (*_CALLS.get(kind, ()), *_EVERY_KIND):
        function = _defined(cls, method)
        if function is None or not callable(function):
            continue
        try:
            inspect.signature(function).bind(None, *positional, **dict.fromkeys(keywords))
        except TypeError:
            call = ", ".join([*positional, *(f"{k}=..." for k in keywords)])
            problems.append(f"{method}{inspect.signature(function)} cannot be called as {method}({call})")
        except ValueError:  # no signature to read (a builtin): nothing to check
            continue
    if kind == "features" and getattr(cls, "trainable", False) and _defined(cls, "patch_size") is None \
            and "patch_size" not in cls.Config.model_fields:
        problems.append("learns from patches but declares no patch size (a Config patch_size, or override the "
                        "patch_size property)")
    seed_setting = getattr(cls, "seed_setting", None)
    if kind == "evaluators" and seed_setting is not None and seed_setting not in cls.Config.model_fields:
        problems.append(f"seed_setting names {seed_setting!r}, which its Config does not have")
    renamed = {old: new for (of_kind, old), new in _RENAMED.items() if of_kind is None}
    renamed |= {old: new for (of_kind, old), new in _RENAMED.items() if of_kind == kind}
    for old, new in renamed.items():
        if _defined(cls, old) is not None and _defined(cls, new.split("(")[0]) is None:
            problems.append(f"{old}() is edition 1's; edition {CONTRACT_EDITION} calls {new}")
    return problems
