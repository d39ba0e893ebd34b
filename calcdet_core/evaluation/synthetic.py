"""Synthetic scored detections with known truth: for tests, benchmarks and report demos.

Not a model of any real system: a fixed share of detections lands near targets with
higher scores, the rest is uniform clutter. Scores are rounded so ties occur.
"""

from __future__ import annotations

import numpy as np

from calcdet_core.contracts.data import Annotation, Candidates, ImageResult, Target


def synthetic_results(n_images: int = 30, n_normal: int = 12, detections_per_image: int = 20,
                      size: int = 200, seed: int = 0, decimals: int = 2) -> list[ImageResult]:
    """``n_images`` results, the first ``n_normal`` without targets; about 1-5 point targets elsewhere."""
    rng = np.random.default_rng(seed)
    results = []
    for i in range(n_images):
        normal = i < n_normal
        n_targets = 0 if normal else int(rng.integers(1, 6))
        targets = tuple(Target(*(float(v) for v in rng.uniform(20, size - 20, 2))) for _ in range(n_targets))
        k = int(rng.integers(0, 2 * detections_per_image + 1))
        xy = rng.uniform(0, size, (k, 2))
        score = rng.random(k)
        if targets:
            near = min(k // 3, 3 * n_targets)
            centres = np.array([[t.x, t.y] for t in targets])[rng.integers(0, n_targets, near)]
            xy[:near] = centres + rng.normal(0, 4, (near, 2))
            score[:near] = 0.3 + 0.7 * rng.random(near)
        image_id = f"im{i:04d}"
        results.append(ImageResult(
            image_id,
            Candidates.from_columns(xy[:, 0], xy[:, 1], np.full(k, 3.0), np.round(score, decimals), image_id),
            Annotation(targets=targets),
            seconds=float(rng.uniform(0.5, 2.0)),
        ))
    return results
