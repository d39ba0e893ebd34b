"""What a saved per-image result was computed from, so a resumed run never reuses one of another input.

A work folder's name already fingerprints the model and the pipeline. Within it, ``inputs.json``
records each image's *stamp*: the dataset and root (or nothing, for DICOM inputs), the image file's
resolved path, size and modification time in nanoseconds, and for training the annotation too.
Before a run resumes, every saved result whose stamp differs from the image it would now stand
for is deleted, so it is computed again; a result without a stamp counts as stale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.contracts.data import ImageRecord

STAMPS_FILE = "inputs.json"


def _digest(value: Any, h: Any) -> None:
    if isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(type(value).__name__.encode())
        for f in dataclasses.fields(value):
            _digest(getattr(value, f.name), h)
    elif isinstance(value, list | tuple):
        h.update(f"[{len(value)}".encode())
        for item in value:
            _digest(item, h)
    else:
        h.update(repr(value).encode())


def input_stamp(record: ImageRecord, dataset: str | None, root: str | None, with_truth: bool = False) -> str:
    """The identity of one image's input: where it is read from, its size and mtime (and its truth if asked)."""
    path = Path(record.path)
    try:
        stat = os.stat(path)
        file = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    except OSError:
        file = {"path": str(path), "size": None, "mtime_ns": None}
    stamp: dict[str, Any] = {"dataset": dataset, "root": root, "image_id": record.image_id, **file}
    if with_truth:
        h = hashlib.sha256()
        _digest(record.annotation, h)
        stamp["truth"] = h.hexdigest()
    return json.dumps(stamp, sort_keys=True)


def _read_stamps(folder: Path) -> dict[str, str]:
    try:
        doc = json.loads((folder / STAMPS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(doc, dict) else {}


def refresh_work(folder: Path, stamps: Mapping[str, str]) -> list[str]:
    """Delete the saved results (``<key>.npz`` anywhere under ``folder``) whose input changed; record the new stamps.

    Returns the keys whose results were dropped. Results are deleted before the new stamps are
    written, so an interruption in between leaves nothing that looks current but is not.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recorded = _read_stamps(folder)
    stale = {key for key, stamp in stamps.items() if recorded.get(key) != stamp}
    dropped = set()
    for path in folder.rglob("*.npz"):
        if path.stem in stale:
            path.unlink(missing_ok=True)
            dropped.add(path.stem)
    merged = {**recorded, **stamps}
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(merged, f)
        os.replace(tmp, folder / STAMPS_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return sorted(dropped)
