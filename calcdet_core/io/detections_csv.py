"""The detections file: how any system, ours or an outside one, hands detections to ``calcdet score``.

One row per detection, columns ``image_id, x, y, radius, score`` (header required, any
column order), coordinates in the stored image's pixel grid (x = column, y = row,
origin at the top-left pixel centre). An image with no row has no detections.
When some detections carry boxes (a box detector's predicted extents), four more columns
``x0, y0, x1, y1`` follow; an image's rows then all hold a box, or all leave those cells
empty. ``calcdet detect`` adds a column ``finding`` (1 or 0) when the run has a score where findings
start (the model's operating point, or ``--min-score``): 1 marks the detections at or above it;
readers may leave it out, and ``calcdet score`` scores every row whatever it says.
Numbers are written with ``repr`` so that reading gives back the very same floats.
An image id that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) is written behind a single quote, as OWASP advises against CSV
injection; reading removes that quote again, so ids round-trip.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import Candidates, Detections
from calcdet_core.errors import InvalidInputError
from calcdet_core.io.text import read_text_file

COLUMNS = ("image_id", "x", "y", "radius", "score")
BOX_COLUMNS = ("x0", "y0", "x1", "y1")
FINDING_COLUMN = "finding"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text (a leading quote before a formula's first character)."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def restored(cell: str) -> str:
    """The id :func:`neutralised` wrote."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _boxes(found: Candidates) -> np.ndarray | None:
    return found.boxes if isinstance(found, Detections) else None


def write_detections_csv(path: Path | str, detections: Iterable[Candidates], min_score: float | None = None) -> Path:
    """Write every image's detections to one CSV; each :class:`Candidates` must carry its image id.

    With ``min_score`` a ``finding`` column marks (1) the detections scoring at least it.
    """
    path = Path(path)
    detections = list(detections)
    with_boxes = any(_boxes(found) is not None and len(found) for found in detections)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # new, never a link
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            marked = (FINDING_COLUMN,) if min_score is not None else ()
            writer.writerow((COLUMNS + BOX_COLUMNS if with_boxes else COLUMNS) + marked)
            for i, found in enumerate(detections):
                if not found.image_id:
                    raise ValueError(f"detections #{i} have no image_id; the CSV needs one on every row")
                boxes = _boxes(found)
                if not (np.isfinite(found.xyr).all() and np.isfinite(found.score).all()
                        and (boxes is None or np.isfinite(boxes).all())):
                    raise ValueError(f"detections of image {found.image_id!r} contain non-finite values")
                box_cells = [tuple(map(repr, b)) for b in boxes.tolist()] if boxes is not None else None
                for j, ((x, y, r), s) in enumerate(zip(found.xyr.tolist(), found.score.tolist(), strict=True)):
                    row = (neutralised(found.image_id), repr(x), repr(y), repr(r), repr(s))
                    if with_boxes:
                        row += box_cells[j] if box_cells is not None else ("",) * len(BOX_COLUMNS)
                    if min_score is not None:
                        row += ("1" if s >= min_score else "0",)
                    writer.writerow(row)
        tmp.replace(path)  # a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _number(text: str, column: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"{where}: column {column!r} should be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{where}: column {column!r} should be finite, got {text!r}")
    return value


def _box(row: list[str], index: dict[str, int], where: str) -> tuple[float, float, float, float] | None:
    """The row's box, ``None`` when its four box cells are empty."""
    cells = [row[index[c]].strip() for c in BOX_COLUMNS]
    if not any(cells):
        return None
    if not all(cells):
        raise InvalidInputError(f"{where}: columns {', '.join(BOX_COLUMNS)} should all hold a number or all be empty")
    x0, y0, x1, y1 = (_number(cell, c, where) for cell, c in zip(cells, BOX_COLUMNS, strict=True))
    if x1 < x0 or y1 < y0:
        raise InvalidInputError(f"{where}: box should have x0 <= x1 and y0 <= y1, got {x0}, {y0}, {x1}, {y1}")
    return x0, y0, x1, y1


def _rows(reader: Iterator[list[str]], path: Path) -> Iterator[list[str]]:
    """The reader's rows; a row the csv module cannot parse (a field over its limit) names the file and line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInputError(f"{path}:{getattr(reader, 'line_num', '?')}: not a CSV row ({exc})") from None


def read_detections_csv(path: Path | str) -> dict[str, Detections]:
    """Read a detections CSV into ``{image_id: Detections}`` (images in order of first appearance).

    Every row is checked; an error names the file and line and says what is wrong.
    """
    path = Path(path)
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    boxes: dict[str, list[tuple[float, float, float, float] | None]] = {}
    with io.StringIO(read_text_file(path, "detections CSV"), newline="") as f:
        reader = csv.reader(f)
        lines = _rows(reader, path)
        header = next(lines, None)
        if header is None:
            raise InvalidInputError(f"{path}: empty file; expected a header {','.join(COLUMNS)}")
        names = [h.strip() for h in header]
        expected = COLUMNS + BOX_COLUMNS if set(BOX_COLUMNS) & set(names) else COLUMNS
        if sorted(n for n in names if n != FINDING_COLUMN) != sorted(expected) or names.count(FINDING_COLUMN) > 1:
            raise InvalidInputError(f"{path}:1: header should name the columns {', '.join(COLUMNS)} (any order), and "
                                    f"optionally {', '.join(BOX_COLUMNS)} and {FINDING_COLUMN}; found "
                                    f"{', '.join(names)}")
        index = {name: names.index(name) for name in expected}
        width = len(names)
        for row in lines:
            where = f"{path}:{reader.line_num}"
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != width:
                raise InvalidInputError(f"{where}: expected {width} fields, found {len(row)}")
            image_id = restored(row[index["image_id"]].strip())
            if not image_id:
                raise InvalidInputError(f"{where}: empty image_id")
            x, y, r, s = (_number(row[index[c]].strip(), c, where) for c in COLUMNS[1:])
            if r < 0:
                raise InvalidInputError(f"{where}: radius should be >= 0, got {r}")
            box = _box(row, index, where) if expected is not COLUMNS else None
            if image_id in boxes and (box is None) != (boxes[image_id][0] is None):
                raise InvalidInputError(f"{where}: image {image_id!r} has rows with and rows without a box; "
                                        "give every row of an image a box, or none")
            rows.setdefault(image_id, []).append((x, y, r, s))
            boxes.setdefault(image_id, []).append(box)
    out: dict[str, Detections] = {}
    for image_id, values in rows.items():
        arr = np.array(values, dtype=np.float64)
        found = boxes[image_id]
        out[image_id] = Detections(arr[:, :3], arr[:, 3], image_id,
                                   None if found[0] is None else np.array(found, dtype=np.float64))
    return out
