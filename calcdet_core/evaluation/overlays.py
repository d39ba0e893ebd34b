"""Example overlays for a report: what the system found, wrongly found and missed, at one operating point.

The operating point is the lowest score threshold whose FP rate stays within
``fppi`` (1 FP per normal image by default), read off the FROC. At that threshold the
report shows the highest-scoring true positives, the highest-scoring false positives and
missed targets, each on a crop of the stored image with every detection kept at that
threshold drawn: TP green, FP red, missed targets blue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.froc import FrocData, operating_points
from calcdet_core.evaluation.matching import FP, STUDY_DIAMETER_PX, TP, Match, match_detections
from calcdet_core.evaluation.plots import Crop, plot_overlays

LoadImage = Callable[[str], "np.ndarray | None"]


def operating_threshold(data: FrocData, fppi: float) -> float:
    """Lowest threshold whose FP rate is at most ``fppi`` (-inf when the FROC is undefined: show all)."""
    thresholds, rates, _ = operating_points(data)
    ok = np.flatnonzero(rates <= fppi)
    return float(thresholds[ok[-1]]) if len(ok) and np.isfinite(rates).all() else float("-inf")


def _points(result: ImageResult, m: Match, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP detections, FP detections and missed targets (x, y) at ``threshold``."""
    kept = result.detections.score >= threshold
    xy = result.detections.xyr[:, :2]
    targets = np.array([[t.x, t.y] for t in result.annotation.targets], dtype=np.float64).reshape(-1, 2)
    missed = ~(np.nan_to_num(m.hit_score, nan=-np.inf) >= threshold)
    return xy[kept & (m.status == TP)], xy[kept & (m.status == FP)], targets[missed]


def _crop(pixels: np.ndarray, centre: tuple[float, float], size: int,
          found: tuple[np.ndarray, np.ndarray, np.ndarray], title: str) -> Crop:
    h, w = pixels.shape
    x0 = int(np.clip(round(centre[0]) - size // 2, 0, max(w - size, 0)))
    y0 = int(np.clip(round(centre[1]) - size // 2, 0, max(h - size, 0)))
    window = np.asarray(pixels[y0 : y0 + size, x0 : x0 + size], dtype=np.float64)

    def inside(points: np.ndarray) -> np.ndarray:
        rel = points - [x0, y0]
        h_crop, w_crop = window.shape
        keep = (rel[:, 0] >= -8) & (rel[:, 1] >= -8) & (rel[:, 0] < w_crop + 8) & (rel[:, 1] < h_crop + 8)
        return rel[keep]

    tp, fp, missed = found
    return Crop(window, title, inside(tp), inside(fp), inside(missed))


def write_overlays(results: Sequence[ImageResult], data: FrocData, load_image: LoadImage, path: Path,
                   fppi: float = 1.0, per_row: int = 6, size: int = 64,
                   diameter: float = STUDY_DIAMETER_PX, threshold: float | None = None) -> tuple[Path | None, float]:
    """Draw example crops into ``path`` (PNG); returns the file (None without pixels) and the threshold used:
    ``threshold`` when given (a model's operating point), else the one at ``fppi`` on these images."""
    threshold = operating_threshold(data, fppi) if threshold is None else threshold
    tp_rows: list[tuple[float, int, tuple[float, float]]] = []
    fp_rows: list[tuple[float, int, tuple[float, float]]] = []
    missed_rows: list[tuple[float, int, tuple[float, float]]] = []
    found: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for i, result in enumerate(results):
        m = match_detections(result.detections, result.annotation, diameter)
        found[i] = _points(result, m, threshold)
        kept = result.detections.score >= threshold
        for status, rows in ((TP, tp_rows), (FP, fp_rows)):
            for j in np.flatnonzero(kept & (m.status == status)):
                rows.append((float(result.detections.score[j]), i, tuple(result.detections.xyr[j, :2])))
        for x, y in found[i][2]:
            missed_rows.append((0.0, i, (float(x), float(y))))
    # highest scores first; missed targets one per image first, so one dense image does not fill the row
    tp_rows.sort(key=lambda r: -r[0])
    fp_rows.sort(key=lambda r: -r[0])
    first_of_image = {}
    for row in missed_rows:
        first_of_image.setdefault(row[1], row)
    missed_rows = list(first_of_image.values()) + [r for r in missed_rows if first_of_image[r[1]] is not r]

    cache: dict[int, np.ndarray | None] = {}

    def crops(rows: list[tuple[float, int, tuple[float, float]]], label: str) -> list[Crop]:
        out = []
        for score, i, centre in rows:
            if len(out) == per_row:
                break
            if i not in cache:
                pixels = load_image(results[i].image_id)
                cache[i] = None if pixels is None else np.asarray(pixels)
            pixels = cache[i]
            if pixels is None or pixels.ndim != 2:
                continue
            title = f"{results[i].image_id}" + (f" s={score:.3g}" if label != "missed" else "")
            out.append(_crop(pixels, centre, size, found[i], title))
        return out

    picture = plot_overlays([("true positives", crops(tp_rows, "tp")), ("false positives", crops(fp_rows, "fp")),
                             ("missed targets", crops(missed_rows, "missed"))], path, diameter / 2)
    return picture, threshold
