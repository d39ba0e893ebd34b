"""The exact truth of a phantom release, as JSON next to the INbreast-layout files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.api import Annotation, IgnoreRegion, Target
from calcdet_phantom.distractors import Distractor

TRUTH_FILE = "phantom_truth.json"


def annotation_to_json(annotation: Annotation) -> dict[str, Any]:
    return {
        "targets": [{"x": t.x, "y": t.y, "diameter": t.diameter, "label": t.label,
                     "contour": None if t.contour is None else np.asarray(t.contour).tolist()}
                    for t in annotation.targets],
        "ignore": [{"label": r.label, "contour": np.asarray(r.contour).tolist()} for r in annotation.ignore],
    }


def distractors_to_json(distractors: list[Distractor]) -> list[dict[str, Any]]:
    """Distractors as listed beside the truth: neither targets nor ignore regions (a detection on one is an FP)."""
    return [{"kind": d.kind, "points": np.asarray(d.points).tolist()} for d in distractors]


def annotation_from_json(data: dict[str, Any]) -> Annotation:
    targets = tuple(Target(float(t["x"]), float(t["y"]), float(t["diameter"]),
                           None if t["contour"] is None else np.asarray(t["contour"], np.float64), t["label"])
                    for t in data["targets"])
    ignore = tuple(IgnoreRegion(np.asarray(r["contour"], np.float64), r["label"]) for r in data["ignore"])
    return Annotation(targets, ignore)


def load_truth(root: str | Path) -> dict[str, dict[str, Any]]:
    """Per image (the release's FileName): metadata and ``annotation`` (an Annotation, stored grid); for a family
    other than ``default``, ``distractors`` too (kind and points, stored grid)."""
    path = Path(root) / TRUTH_FILE if Path(root).is_dir() else Path(root)
    data = json.loads(path.read_text())
    return {name: {**meta, "annotation": annotation_from_json(meta["annotation"])}
            for name, meta in data["images"].items()}
