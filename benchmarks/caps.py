"""The benchmarks' cost caps: parameters that keep a benchmark's training within minutes on a 2-core machine.

They change how much a component fits on (fewer selection trees, folds and samples), not what it
computes; a benchmark that uses them says so in its JSON. ``pipelines/aia-ml-demo.yaml`` is the
shipped pipeline with these caps, for users.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

COST_CAPS: dict[str, dict[str, Any]] = {
    "haar": {"n_estimators": 30, "cv_folds": 3, "max_training_samples": 3000},
    "svm-cascade": {"max_train_samples": 3000},
}
"""Per-plugin parameter changes (pipelines/aia-ml-demo.yaml holds them for aia-ml)."""


def with_settings(caps: dict[str, dict[str, Any]], settings: list[str]) -> dict[str, dict[str, Any]]:
    """``caps`` plus ``PLUGIN.PARAM=VALUE`` settings (VALUE read as YAML: numbers, booleans, strings)."""
    merged = {plugin: dict(params) for plugin, params in caps.items()}
    for setting in settings:
        key, sep, value = setting.partition("=")
        plugin, dot, param = key.partition(".")
        if not (sep and dot and plugin and param):
            raise ValueError(f"--set expects PLUGIN.PARAM=VALUE, got {setting!r}")
        merged.setdefault(plugin, {})[param] = yaml.safe_load(value)
    return merged


def capped_pipeline(source: Path, out: Path, caps: dict[str, dict[str, Any]]) -> Path:
    """Write ``source`` with ``caps`` applied to the components they name; return the new file."""
    doc = yaml.safe_load(Path(source).read_text())
    slots = [doc.get("proposer"), doc.get("classifier"), doc.get("detector"), *doc.get("features", [])]
    for slot in filter(None, slots):
        if slot["plugin"] in caps:
            slot["params"] = {**(slot.get("params") or {}), **caps[slot["plugin"]]}
    doc["description"] = f"{doc.get('description', '')} (benchmark cost caps: {json.dumps(caps)})".strip()
    path = Path(out) / f"{doc['name']}-capped.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
