"""Per-candidate reference for the ``context`` extractor: one candidate at a time, from the definitions.

The oracle of calcdet-context's tests (their ``per_patch_reference`` fixture), and what ``benchmarks/features.py``
times ``extract`` against, so its speed ratio compares equal work.
"""

from __future__ import annotations

import numpy as np

from calcdet_core.api import Candidates


def reference(extractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    cfg = extractor.config
    score = np.log(candidates.score) if cfg.log_score else candidates.score
    far = float(np.hypot(*image.shape[:2]))
    return brute_force(candidates.xyr[:, :2], score, cfg.radii, cfg.strong_share, cfg.nearest, far)


def brute_force(xy: np.ndarray, score: np.ndarray, radii: list[float], share: float, k: int,
                far: float) -> np.ndarray:
    """(N, 6 + len(radii)) context features, each candidate compared with every other in a loop."""
    n = len(xy)
    median = np.median(score) if n else 0.0

    def rank(j: int) -> float:
        return float(((score < score[j]).sum() + ((score == score[j]).sum() - 1) / 2 + 0.5) / n)

    rows = []
    for i in range(n):
        d = np.hypot(*(xy - xy[i]).T)
        others = np.flatnonzero(np.arange(n) != i)
        near = others[d[others] <= radii[-1]]
        relative = score[near] - median
        kth = np.sort(d[others])[k - 1] if len(others) >= k else far
        rows.append([rank(i), score[i] - median, *(np.log1p((d[others] <= r).sum()) for r in radii),
                     np.log1p(sum(rank(j) >= 1 - share for j in near)),
                     relative.max() if len(near) else 0.0, relative.mean() if len(near) else 0.0,
                     np.log1p(min(kth, far))])
    return np.array(rows, dtype=np.float64).reshape(n, 6 + len(radii))
