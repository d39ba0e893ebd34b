"""Per-patch reference for the ``haar`` extractor: one patch, one feature, one rectangle at a time.

Each selected feature is computed from the raw patch pixels: every cell of the prototype is summed
with numpy (a slice for upright cells, the cell's pixel list for 45-degree cells), then
``mean(white) - mean(black)``. No integral image and none of calcdet-haar's corner tables are used,
so the benchmark's agreement check is also an independent check of the fast path.

``prepare`` selects the 500 features on the benchmark scene itself (label: the patch centre is among
the brightest tenth against its surround; 10 pseudo-cases), with 10 trees per fold to keep the run
short; the timed work is extraction, which does not depend on how the selection was made.

``integral_reference`` is the study's own way, also one patch and one feature at a time: the patch's
integral tables, then a dot product of each feature's corners. Run this file to time both loops
against ``extract`` on the benchmark scene::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/references/features_haar.py [--candidates 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from calcdet_haar import HaarExtractor
from calcdet_haar.bank import PROTOTYPES, pattern_of
from calcdet_haar.tables import flat_tables

from calcdet_core.api import Candidates, extract_patches

Cell = tuple[object, float]
"""A cell's pixel selector (slices or index arrays) and its weight ``+-1 / (cells of its colour * area)``."""


def feature_cells(extractor: HaarExtractor) -> list[list[Cell]]:
    """Pixel selectors and weights of every cell of every selected feature, from the geometry alone."""
    bank = extractor.bank
    out = []
    for f in extractor.selected_:
        prototype = PROTOTYPES[bank.prototype[f]]
        pattern = pattern_of(prototype)
        x, y = (int(v) for v in bank.geometry[f, :2])
        cw, ch = (int(v) for v in bank.cells[f])
        area = cw * ch * (2 if prototype.startswith("r45") else 1)
        n_white, n_black = (pattern > 0).sum(), (pattern < 0).sum()
        cells: list[Cell] = []
        for j in range(pattern.shape[0]):
            for i in range(pattern.shape[1]):
                weight = 1.0 / (n_white * area) if pattern[j, i] > 0 else -1.0 / (n_black * area)
                if prototype.startswith("r45"):
                    tx, ty = x + i * cw - j * ch, y + i * cw + j * ch
                    cols = [tx + a - b for a in range(cw) for b in range(ch) for _ in (0, 1)]
                    rows = [ty + a + b + k for a in range(cw) for b in range(ch) for k in (0, 1)]
                    cells.append(((np.array(rows), np.array(cols)), weight))
                else:
                    x0, y0 = x + i * cw, y + j * ch
                    cells.append(((slice(y0, y0 + ch), slice(x0, x0 + cw)), weight))
        out.append(cells)
    return out


def reference(extractor: HaarExtractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    """(N, F) float64: the selected features, patch by patch, feature by feature, cell by cell."""
    cells = feature_cells(extractor)
    size = extractor.config.patch_size
    padded = np.pad(np.asarray(image, np.float32), size, mode="reflect")
    h, w = image.shape
    out = np.empty((len(candidates), len(cells)))
    for n, (x, y) in enumerate(candidates.xyr[:, :2]):
        col = int(np.clip(np.rint(x), 0, w - 1)) + size - size // 2
        row = int(np.clip(np.rint(y), 0, h - 1)) + size - size // 2
        patch = padded[row : row + size, col : col + size].astype(np.float64)
        for f, feature in enumerate(cells):
            out[n, f] = sum(weight * patch[where].sum() for where, weight in feature)
    return out


def integral_reference(extractor: HaarExtractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    """(N, F) float64 the study's way: per patch its integral tables, per feature a corner dot product."""
    index, weight = extractor.bank.index[extractor.selected_], extractor.bank.weight[extractor.selected_]
    patches = extract_patches(image, candidates.xyr[:, :2], extractor.config.patch_size)
    out = np.empty((len(candidates), len(index)))
    for n in range(len(patches)):
        table = flat_tables(patches[n : n + 1])[0]
        for f in range(len(index)):
            out[n, f] = np.dot(table[index[f]], weight[f])
    return out


def prepare(extractor: HaarExtractor, image: np.ndarray, candidates: Candidates) -> HaarExtractor:
    """Select features on the scene's own candidates (bright-centre ones as positives)."""
    patches = extract_patches(image, candidates.xyr[:, :2], extractor.config.patch_size)
    c = extractor.config.patch_size // 2
    contrast = patches[:, c - 1 : c + 2, c - 1 : c + 2].mean((1, 2)) - patches.mean((1, 2))
    labels = (contrast >= np.quantile(contrast, 0.9)).astype(int)
    config = extractor.config.model_copy(update={"n_estimators": 10})
    return HaarExtractor(config).fit(patches, labels, np.arange(len(patches)) % 10)


def main() -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from features import best_of, make_scene

    parser = argparse.ArgumentParser(description="haar extract() against both per-patch loops")
    parser.add_argument("--candidates", type=int, default=2000)
    args = parser.parse_args()
    image, candidates = make_scene(1200, 1600, args.candidates)
    extractor = prepare(HaarExtractor(), image, candidates)
    fast_s, fast = best_of(lambda: extractor.extract(image, candidates), 3)
    row: dict[str, object] = {"candidates": args.candidates, "features": len(extractor.feature_names()),
                              "seconds": round(fast_s, 4)}
    for name, loop in (("pixel_loop", reference), ("integral_loop", integral_reference)):
        seconds, slow = best_of(lambda loop=loop: loop(extractor, image, candidates), 1)
        row[name] = {"seconds": round(seconds, 3), "speedup": round(seconds / fast_s, 1),
                     "max_abs_diff": float(np.abs(slow - fast).max(initial=0.0))}
    return row


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
