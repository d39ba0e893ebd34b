"""Reference HDoG proposer: the study's steps written the direct way.

Every Gaussian with ``scipy.ndimage.gaussian_filter`` (the study's kernel width), the whole DoG cube in
memory, 3x3x3 maxima with ``scipy.ndimage.maximum_filter``, Hessians by ``numpy.gradient`` twice and
their eigenvalues by ``numpy.linalg.eigvalsh`` pixel by pixel (one 2x2 LAPACK problem each), greedy
suppression over a k-d tree's pairs. Parameters are ``calcdet_hdog.HDoGProposer()``'s defaults, the
study's Appendix 1 values (``hessian_divider`` 300 included). Outputs match the plugin's on images
without a clip or other large bright object: the plugin leaves those out of the Hessian test's
maximum, this reference takes it over the whole breast mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from calcdet_core.api import Candidates

MIN_SIGMA, MAX_SIGMA, N_SCALES, THRESHOLD, OVERLAP, MIN_DISTANCE, DIVIDER = 1.0, 3.0, 20, 0.006, 0.2, 6.0, 300.0


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    size = int(4 * sigma + 0.5)
    size = size if size % 2 == 1 else size + 1
    return ndimage.gaussian_filter(image, sigma, mode="mirror", radius=size // 2)


def _eigenvalues(layer: np.ndarray) -> np.ndarray:
    d_row, d_col = np.gradient(layer.astype(np.float64))
    hrr, hrc, hcc = np.gradient(d_row, axis=0), np.gradient(d_col, axis=0), np.gradient(d_col, axis=1)
    hessian = np.stack([np.stack([hrr, hrc], -1), np.stack([hrc, hcc], -1)], -2)
    return np.linalg.eigvalsh(hessian)[..., ::-1]  # (larger, smaller) per pixel


def _overlap(d: float, r1: float, r2: float) -> float:
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return 1.0
    a1 = r1**2 * np.arccos(np.clip((d**2 + r1**2 - r2**2) / (2 * d * r1), -1, 1))
    a2 = r2**2 * np.arccos(np.clip((d**2 + r2**2 - r1**2) / (2 * d * r2), -1, 1))
    k = (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)
    return float((a1 + a2 - 0.5 * np.sqrt(abs(k))) / (np.pi * min(r1, r2) ** 2))


def propose(image: np.ndarray, mask: np.ndarray | None) -> Candidates:
    image = image.astype(np.float32)
    mask = image > 0 if mask is None else mask
    ratio = (MAX_SIGMA / MIN_SIGMA) ** (1 / N_SCALES)
    sigmas = MIN_SIGMA * ratio ** np.arange(N_SCALES + 2)  # one extra scale for the top layer's product
    gaussians = [_gaussian(image, s) for s in sigmas]
    cube = np.stack([(gaussians[j] - gaussians[j + 1]) * sigmas[j] / (sigmas[j + 1] - sigmas[j])
                     for j in range(N_SCALES + 1)])
    del gaussians
    peaks = cube[:N_SCALES] == ndimage.maximum_filter(cube[:N_SCALES], size=3, mode="constant", cval=0)
    peaks &= (cube[:N_SCALES] > THRESHOLD) & mask[None]
    layer, ys, xs = np.nonzero(peaks)
    score = cube[layer, ys, xs].astype(np.float64)
    passes = np.ones(len(ys), bool)
    upper = _eigenvalues(cube[0])
    for j in range(N_SCALES):
        lower, upper = upper, _eigenvalues(cube[j + 1])
        at = layer == j
        for k in range(2):
            product = lower[..., k] * upper[..., k]
            passes[at] &= product[ys[at], xs[at]] >= product[mask].max() / DIVIDER
    radii = sigmas[layer] * np.sqrt(2)
    order = np.lexsort((np.arange(len(score)), -score))
    pairs = cKDTree(np.column_stack([xs, ys])).query_pairs(max(2 * radii.max(), MIN_DISTANCE), output_type="ndarray")
    neighbours: list[list[int]] = [[] for _ in range(len(score))]
    for i, j in pairs:
        neighbours[i].append(j)
        neighbours[j].append(i)
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    kept = np.zeros(len(score), bool)
    for i in order:
        kept[i] = not any(
            kept[j] and rank[j] < rank[i]
            and (np.hypot(xs[i] - xs[j], ys[i] - ys[j]) < MIN_DISTANCE
                 or _overlap(float(np.hypot(xs[i] - xs[j], ys[i] - ys[j])), radii[i], radii[j]) > OVERLAP)
            for j in neighbours[i])
    keep = order[kept[order] & passes[order]]
    return Candidates.from_columns(xs[keep], ys[keep], radii[keep], score[keep])
