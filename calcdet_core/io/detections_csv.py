"""The detections file: how any system, ours or an outside one, hands detections to ``calcdet score``.

One row per detection, columns ``image_id, x, y, radius, score`` (header required, any
column order), coordinates in the stored image's pixel grid (x = column, y = row,
origin at the top-left pixel centre). An image with no row has no detections.
Numbers are written with ``repr`` so that reading gives back the very same floats.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import Candidates, Detections

COLUMNS = ("image_id", "x", "y", "radius", "score")


def write_detections_csv(path: Path | str, detections: Iterable[Candidates]) -> Path:
    """Write every image's detections to one CSV; each :class:`Candidates` must carry its image id."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for i, found in enumerate(detections):
                if not found.image_id:
                    raise ValueError(f"detections #{i} have no image_id; the CSV needs one on every row")
                if not (np.isfinite(found.xyr).all() and np.isfinite(found.score).all()):
                    raise ValueError(f"detections of image {found.image_id!r} contain non-finite values")
                for (x, y, r), s in zip(found.xyr.tolist(), found.score.tolist(), strict=True):
                    writer.writerow((found.image_id, repr(x), repr(y), repr(r), repr(s)))
        tmp.replace(path)  # a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _number(text: str, column: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: column {column!r} should be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: column {column!r} should be finite, got {text!r}")
    return value


def read_detections_csv(path: Path | str) -> dict[str, Detections]:
    """Read a detections CSV into ``{image_id: Detections}`` (images in order of first appearance).

    Every row is checked; an error names the file and line and says what is wrong.
    """
    path = Path(path)
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file; expected a header {','.join(COLUMNS)}")
        names = [h.strip() for h in header]
        if sorted(names) != sorted(COLUMNS):
            raise ValueError(f"{path}:1: header should name the columns {', '.join(COLUMNS)} (any order); "
                             f"found {', '.join(names)}")
        index = {name: names.index(name) for name in COLUMNS}
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(COLUMNS):
                raise ValueError(f"{where}: expected {len(COLUMNS)} fields, found {len(row)}")
            image_id = row[index["image_id"]].strip()
            if not image_id:
                raise ValueError(f"{where}: empty image_id")
            x, y, r, s = (_number(row[index[c]].strip(), c, where) for c in COLUMNS[1:])
            if r < 0:
                raise ValueError(f"{where}: radius should be >= 0, got {r}")
            rows.setdefault(image_id, []).append((x, y, r, s))
    out: dict[str, Detections] = {}
    for image_id, values in rows.items():
        arr = np.array(values, dtype=np.float64)
        out[image_id] = Detections(arr[:, :3], arr[:, 3], image_id)
    return out
