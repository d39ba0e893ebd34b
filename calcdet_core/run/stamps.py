"""What a saved per-image result was computed from, so a resumed run never reuses one of another input.

A work folder's name already fingerprints the model and the pipeline. Within it, ``inputs.json``
records each image's *stamp*: the dataset and root (or nothing, for DICOM inputs), the image file's
resolved path, size and modification time in nanoseconds (with ``--verify-inputs`` the SHA-256 of
its content instead, which also sees pixels rewritten under the same size and time), and for
training the annotation too. Before a run resumes, every saved result whose stamp differs from the
image it would now stand for is deleted, so it is computed again; a result without a stamp counts
as stale.

A record without a file (a generated test dataset) can only be stamped by its dataset, root, id and,
for training, truth: its pixels are not seen. The images a training transform makes
(``mc-insertion``) need no stamp of their own: they are drawn from stamped records with the run's
seed and the pipeline's settings, which the work folder's fingerprint already holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calcdet_core.contracts.data import ImageRecord

if TYPE_CHECKING:
    from calcdet_core.run.sources import DatasetChoice

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


class FileDigests:
    """SHA-256 of input files by content, each file read (streaming) at most once for the run that holds this."""

    def __init__(self) -> None:
        self._known: dict[Path, str] = {}

    def of(self, path: Path) -> str:
        path = path.resolve()
        if path not in self._known:
            with path.open("rb") as f:
                self._known[path] = hashlib.file_digest(f, "sha256").hexdigest()
        return self._known[path]


def input_stamp(record: ImageRecord, dataset: DatasetChoice | None, root: str | None, with_truth: bool = False,
                digests: FileDigests | None = None) -> str:
    """The identity of one image's input: where it is read from (with the dataset adapter's settings), its size
    and mtime, or with ``digests`` its content's SHA-256 (and its truth if asked)."""
    path = Path(record.path)
    try:
        if digests is not None:
            file: dict[str, Any] = {"path": str(path.resolve()), "sha256": digests.of(path)}
        else:
            stat = os.stat(path)
            file = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    except OSError:
        file = {"path": str(path), "size": None, "mtime_ns": None}
    stamp: dict[str, Any] = {"dataset": None if dataset is None else dataset.identity, "root": root,
                             "image_id": record.image_id, **file}
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


def restart_if_inputs_changed(folder: Path, stamps: Mapping[str, str]) -> bool:
    """Delete ``folder`` when it holds work and the inputs it recorded are not exactly ``stamps``; whether it did.

    For training: a checkpoint or fitted state depends on every input together, so an image changed,
    added or removed (or work without recorded inputs) makes all of it stale, saved per-image results or not.
    """
    folder = Path(folder)
    if not folder.is_dir() or not any(p.name != STAMPS_FILE for p in folder.iterdir()):
        return False
    if _read_stamps(folder) == dict(stamps):
        return False
    shutil.rmtree(folder)
    return True


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
