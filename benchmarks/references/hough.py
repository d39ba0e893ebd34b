"""Reference Hough proposer: the study's steps written the direct way, as its public code did.

Whole-image passes (scikit-image's exact rolling ball with the full radius-50 ball, twenty
5x5 erosions), one 200x200 patch per global circle with a full-image circle mask, a
plain loop per circle for its support and for the minimum-distance filter. Parameters are
``calcdet_hough.HoughProposer()``'s defaults (Appendix 1 of the study; score = edge pixels on
the circle, radius = Hough radius - 2), the study's one local window per global circle
included (``patch_grid=1``, no union transform): with scikit-image's rolling ball in place of its
own, the plugin's output equals this one. Two differences: the plugin lowers clips and other large
bright objects before scaling (none on the benchmark's phantoms), and ``pipelines/hough-tuned.yaml``
shares windows between nearby circles (``patch_grid: 35``) and adds a union transform, which this
reference does not model.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import restoration

from calcdet_core.api import Candidates

DEHAZING = {"omega": 0.9, "window_size": 11, "radius": 40, "eps": 1e-5}
HOUGH1 = {"method": cv2.HOUGH_GRADIENT, "dp": 1, "minDist": 10, "param1": 300, "param2": 5,
          "minRadius": 2, "maxRadius": 10}
HOUGH2 = {**HOUGH1, "param2": 3}
BALL_RADIUS, SIGMA, EROSION_SIZE, EROSION_ITER = 50, 2, 5, 20
ALPHA1, ALPHA2, PATCH, MIN_DISTANCE, RADIUS_OFFSET = 0.97, 0.95, 200, 6.0, 2.0


def _min_max(image: np.ndarray, max_val: float) -> np.ndarray:
    return (image - image.min()) / (image.max() - image.min()) * max_val


def _sobel(image: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1)
    return np.sqrt(gx**2 + gy**2)


def _dehaze(image: np.ndarray) -> np.ndarray:
    size = DEHAZING["window_size"]
    dark = cv2.erode(image, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    recovered = (1 - (1 - image) / (1 - DEHAZING["omega"] * dark)).astype(np.float32)
    return cv2.ximgproc.guidedFilter(recovered, recovered, DEHAZING["radius"], DEHAZING["eps"])


def _enhance(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    dehazed = _dehaze(_min_max(image, 1).astype(np.float32))
    flat = dehazed - restoration.rolling_ball(dehazed, radius=BALL_RADIUS)
    edges = _sobel(cv2.GaussianBlur(_sobel(flat), (0, 0), SIGMA))
    element = cv2.getStructuringElement(cv2.MORPH_RECT, (EROSION_SIZE, EROSION_SIZE))
    border = cv2.erode(mask.astype(np.uint8), element, iterations=EROSION_ITER)
    edges[border == 0] = 0
    return edges


def _support(binary: np.ndarray, x: float, y: float, r: float) -> float:
    edges = cv2.Canny(binary, HOUGH1["param1"] / 2, HOUGH1["param1"])
    rows, cols = np.nonzero(edges)
    return float(np.sum(np.abs(np.hypot(cols - x, rows - y) - r) <= 1.0))


def _hough(binary: np.ndarray, params: dict) -> list[tuple[float, float, float, float]]:
    found = cv2.HoughCircles(binary, **params)
    if found is None:
        return []
    return [(float(x), float(y), float(r), _support(binary, x, y, r)) for x, y, r in found[0, :, :3]]


def _global(processed: np.ndarray) -> list[tuple[float, float, float, float]]:
    processed[processed <= np.quantile(processed, ALPHA1)] = 0
    binary = (255 * (_min_max(processed, 255).astype(np.uint8) > 0)).astype(np.uint8)
    return _hough(binary, HOUGH1)


def _local(processed: np.ndarray, circles: list) -> list[tuple[float, float, float, float]]:
    h, w = processed.shape
    out = []
    for x, y, r, _ in circles:
        cx, cy, cr = int(x), int(y), int(r)
        x1 = min(max(cx - PATCH // 2, 0), max(w - PATCH, 0))
        y1 = min(max(cy - PATCH // 2, 0), max(h - PATCH, 0))
        patch = processed[y1 : y1 + PATCH, x1 : x1 + PATCH].copy()
        disk = cv2.circle(np.zeros(processed.shape), (cx, cy), cr, 1, -1).astype(bool)
        disk = disk[y1 : y1 + PATCH, x1 : x1 + PATCH]
        mean = patch.mean()
        values = patch[disk]
        values[values <= mean] = mean
        patch[disk] = values
        alpha2 = np.quantile(patch[patch > 0], ALPHA2)
        patch[patch <= alpha2] = alpha2
        if patch.max() <= alpha2:
            continue
        binary = (255 * (_min_max(patch, 255).astype(np.uint8) > 0)).astype(np.uint8)
        out += [(px + x1, py + y1, pr, s) for px, py, pr, s in _hough(binary, HOUGH2)]
    return out


def propose(image: np.ndarray, mask: np.ndarray | None) -> Candidates:
    """Same algorithm and parameters as the ``hough`` plugin's defaults, written the direct (slow) way."""
    image = np.asarray(image, dtype=np.float32)
    mask = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool)
    if image.max() <= image.min() or not mask.any():
        return Candidates.empty()
    processed = _enhance(image, mask)
    circles = _local(processed, _global(processed))
    circles = [c for c in circles if mask[min(int(np.rint(c[1])), image.shape[0] - 1),
                                          min(int(np.rint(c[0])), image.shape[1] - 1)]]
    if not circles:
        return Candidates.empty()
    xyrs = np.array(circles)
    order = np.lexsort((xyrs[:, 2], xyrs[:, 1], xyrs[:, 0], -xyrs[:, 3]))
    alive = np.ones(len(xyrs), bool)
    kept = []
    for i in order:
        if alive[i]:
            kept.append(i)
            alive &= np.hypot(xyrs[:, 0] - xyrs[i, 0], xyrs[:, 1] - xyrs[i, 1]) > MIN_DISTANCE
    xyrs = xyrs[np.sort(kept)]
    radius = np.maximum(xyrs[:, 2] - RADIUS_OFFSET, 0.5)
    return Candidates.from_columns(xyrs[:, 0], xyrs[:, 1], radius, xyrs[:, 3])
