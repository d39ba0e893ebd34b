"""The Haar-like feature bank: every prototype at every scale and position inside a square patch.

Sixteen prototypes (Lienhart, Kuranov & Pisarevsky 2003, as used by Bria, Karssemeijer & Tortorella 2014):

* upright, adjacent rectangles: ``edge2h``, ``edge2v`` (2 cells), ``line3h``, ``line3v`` (3 cells,
  centre line), ``line4h``, ``line4v`` (4 cells, wide centre line), ``checker`` (2x2 diagonal);
* upright, concentric: ``centre`` (3x3 grid, centre cell against the surrounding ring);
* the same eight turned by 45 degrees, prefixed ``r45`` (e.g. ``r45centre``).

A prototype is a grid of ``gx`` x ``gy`` equal cells, each white (+) or black (-). A feature is one
placement of it: cell size ``cw`` x ``ch`` >= 1 px and a position such that the whole grid lies in the
patch. Its value is ``mean(white pixels) - mean(black pixels)``: zero on a flat patch and in intensity
units at every scale (a per-feature constant factor against the raw Viola-Jones sums, which changes
neither random-forest selection nor a z-scored classifier).

Geometry (x = column, y = row, origin top-left of the patch):

* upright ``haar_<proto>_<x>_<y>_<w>_<h>``: top-left pixel (x, y); w x h pixels in all
  (``w = gx * cw``, ``h = gy * ch``);
* rotated ``haar_r45<proto>_<x>_<y>_<w>_<h>``: the 45-degree rectangle whose top pixel is (x, y),
  made of w x h unit diamonds stepping (+1, +1) along w and (-1, +1) along h; the unit diamond at
  (a, b) covers the two pixels (x + a - b, y + a + b) and (x + a - b, y + a + b + 1), so the
  rectangle covers 2 w h pixels (Lienhart's tilted rectangle). Cells run along w (``h``-type
  prototypes) or along h (``v``-type).

Upright sums come from the integral image, rotated sums from the integral image of the
45-degree-sheared patch (pixel (x, y) sits at s = x + y, d = x - y + P - 1), on which a rotated
rectangle is an axis-aligned one; this plays the role of Lienhart's rotated summed-area table.
Every feature is therefore a weighted sum of a few corners of one flat table of
``(P + 1)^2 + (2 P)^2`` values per patch, and the bank is stored as that: corner indices and weights.

For 14x14 patches the bank holds 24,301 upright and 6,918 rotated features, 31,219 in all
(:func:`bank_size`). The study's upright set is the same 24,301; its total of 28,643 implies 4,342
rotated placements from an enumeration its paper does not specify.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

PATTERNS: dict[str, tuple[tuple[int, ...], ...]] = {
    "edge2h": ((1, -1),),
    "edge2v": ((1,), (-1,)),
    "line3h": ((-1, 1, -1),),
    "line3v": ((-1,), (1,), (-1,)),
    "line4h": ((-1, 1, 1, -1),),
    "line4v": ((-1,), (1,), (1,), (-1,)),
    "checker": ((1, -1), (-1, 1)),
    "centre": ((-1, -1, -1), (-1, 1, -1), (-1, -1, -1)),
}
"""Cell colours, ``pattern[j][i]``: row j along h (down / down-left), column i along w (right / down-right)."""

PROTOTYPES: tuple[str, ...] = (*PATTERNS, *(f"r45{p}" for p in PATTERNS))
"""Prototype names in bank order: the eight upright ones, then their 45-degree versions."""

BANK_FORMAT = "calcdet-haar-bank/1"


def pattern_of(prototype: str) -> np.ndarray:
    """(gy, gx) array of +1 (white) / -1 (black) cells of a prototype name."""
    return np.array(PATTERNS[prototype.removeprefix("r45")], dtype=np.int8)


def cell_weights(pattern: np.ndarray) -> np.ndarray:
    """Per-cell weights making a feature ``mean(white) - mean(black)`` for unit cell area."""
    white, black = (pattern > 0).sum(), (pattern < 0).sum()
    return np.where(pattern > 0, 1.0 / white, -1.0 / black)


def table_size(patch: int) -> int:
    """Values per patch in the flat table: upright integral then sheared (rotated) integral."""
    return (patch + 1) ** 2 + (2 * patch) ** 2


def _placements(prototype: str, patch: int) -> np.ndarray:
    """(F, 4) int64 rows (x, y, cw, ch) of every placement, ordered by cw, ch, y, x."""
    gy, gx = pattern_of(prototype).shape
    rows = []
    for cw in range(1, patch // gx + 1):
        for ch in range(1, patch // gy + 1):
            w, h = gx * cw, gy * ch
            if prototype.startswith("r45"):
                xs, ys = np.arange(h - 1, patch - w + 1), np.arange(0, patch - w - h + 1)
            else:
                xs, ys = np.arange(0, patch - w + 1), np.arange(0, patch - h + 1)
            if len(xs) and len(ys):
                yy, xx = np.meshgrid(ys, xs, indexing="ij")
                rows.append(np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, cw), np.full(xx.size, ch)], 1))
    return np.concatenate(rows) if rows else np.zeros((0, 4), np.int64)


def _lattice(weights: np.ndarray) -> np.ndarray:
    """Corner coefficients of a grid of cell weights: ``sum(c * (+T[hi,hi] - T[lo,hi] - T[hi,lo] + T[lo,lo]))``."""
    padded = np.pad(weights, 1)
    return padded[1:, 1:] - padded[:-1, 1:] - padded[1:, :-1] + padded[:-1, :-1]


def _corners(prototype: str, placements: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, K) flat-table indices and weights of every placement of one prototype."""
    pattern = pattern_of(prototype)
    x, y, cw, ch = (placements[:, k : k + 1] for k in range(4))
    if prototype.startswith("r45"):
        # Sheared table R[s, d]: s grows along w (cells i), d shrinks along h (cells j). The grid's
        # low-d edge is j = gy, so table axis 1 runs over the pattern's rows reversed.
        lattice = _lattice(cell_weights(pattern).T[:, ::-1])  # (gx + 1, gy + 1) over (s lines, d lines)
        a, b = np.nonzero(lattice)
        gy = pattern.shape[0]
        s = x + y + 2 * a[None, :] * cw
        d = x - y + patch - 2 * (gy - b[None, :]) * ch
        index = (patch + 1) ** 2 + s * (2 * patch) + d
        coef = lattice[a, b][None, :] / (2.0 * cw * ch)
    else:
        lattice = _lattice(cell_weights(pattern))  # (gy + 1, gx + 1) over (row lines, column lines)
        b, a = np.nonzero(lattice)
        index = (y + b[None, :] * ch) * (patch + 1) + x + a[None, :] * cw
        coef = lattice[b, a][None, :] / (1.0 * cw * ch)
    return index.astype(np.int64), np.broadcast_to(coef, index.shape).astype(np.float64)


@dataclass(frozen=True)
class HaarBank:
    """Every Haar-like feature of a ``patch`` x ``patch`` patch, as corners of the flat table."""

    patch: int
    prototype: np.ndarray  # (F,) int16 index into PROTOTYPES
    geometry: np.ndarray  # (F, 4) int64: x, y, w, h as in the names (w, h = total extents)
    cells: np.ndarray  # (F, 2) int64: cell size cw, ch
    index: np.ndarray  # (F, K) int64 flat-table corner indices (padding points at 0 with weight 0)
    weight: np.ndarray  # (F, K) float64 corner weights

    def __len__(self) -> int:
        return len(self.prototype)

    def names(self, selected: np.ndarray | None = None) -> list[str]:
        """``haar_<prototype>_<x>_<y>_<w>_<h>`` of all features, or of the ``selected`` indices."""
        rows = np.arange(len(self)) if selected is None else np.asarray(selected)
        return [f"haar_{PROTOTYPES[self.prototype[i]]}_{'_'.join(map(str, self.geometry[i]))}" for i in rows]

    def matrix(self, selected: np.ndarray | None = None) -> sparse.csr_array:
        """(table, F) sparse weights: ``table_values @ matrix`` gives the features, one gather-and-sum."""
        from scipy import sparse

        rows = np.arange(len(self)) if selected is None else np.asarray(selected, np.int64)
        index, weight = self.index[rows], self.weight[rows]
        cols = np.broadcast_to(np.arange(len(rows))[:, None], index.shape)
        keep = weight != 0
        out = sparse.csr_array((weight[keep], (index[keep], cols[keep])), shape=(table_size(self.patch), len(rows)))
        out.sum_duplicates()
        return out

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the format, patch size, names order and corner table: any change shows."""
        digest = hashlib.sha256(f"{BANK_FORMAT}|{self.patch}|{','.join(PROTOTYPES)}".encode())
        for array, dtype in ((self.prototype, "<i2"), (self.geometry, "<i8"), (self.index, "<i8"),
                             (self.weight, "<f8")):
            digest.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
        return digest.hexdigest()


@cache
def build_bank(patch: int) -> HaarBank:
    """The full bank for a ``patch`` x ``patch`` patch (cached: it depends on the size only)."""
    if patch < 2:
        raise ValueError(f"Haar-like features need a patch of at least 2x2 pixels, got {patch}")
    protos, geoms, cells, indices, weights = [], [], [], [], []
    for k, prototype in enumerate(PROTOTYPES):
        placed = _placements(prototype, patch)
        if not len(placed):
            continue
        gy, gx = pattern_of(prototype).shape
        index, weight = _corners(prototype, placed, patch)
        protos.append(np.full(len(placed), k, np.int16))
        geoms.append(np.stack([placed[:, 0], placed[:, 1], gx * placed[:, 2], gy * placed[:, 3]], 1))
        cells.append(placed[:, 2:])
        indices.append(index)
        weights.append(weight)
    width = max(i.shape[1] for i in indices)
    index = np.concatenate([np.pad(i, ((0, 0), (0, width - i.shape[1]))) for i in indices])
    weight = np.concatenate([np.pad(w, ((0, 0), (0, width - w.shape[1]))) for w in weights])
    bank = HaarBank(patch, np.concatenate(protos), np.concatenate(geoms), np.concatenate(cells), index, weight)
    for array in (bank.prototype, bank.geometry, bank.cells, bank.index, bank.weight):
        array.flags.writeable = False
    return bank


def bank_size(patch: int) -> int:
    """Number of features in the bank for ``patch`` (without building it)."""
    total = 0
    for prototype in PROTOTYPES:
        gy, gx = pattern_of(prototype).shape
        for cw in range(1, patch // gx + 1):
            for ch in range(1, patch // gy + 1):
                w, h = gx * cw, gy * ch
                if prototype.startswith("r45"):
                    total += max(patch - w - h + 2, 0) * max(patch - w - h + 1, 0)
                else:
                    total += (patch - w + 1) * (patch - h + 1)
    return total
