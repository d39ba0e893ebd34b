"""Does a detector learn? Its trained net against the same net untrained, on images neither has seen.

The kit's own disks sit on faint parenchyma, where brightness alone (what a randomly initialised
net responds to) finds them, so passing the kit shows no learning. These scenes have brighter,
coarser parenchyma (contrast 0.1), and the floor is relative to the untrained net scored the
same way in the same test: a plugin's learning test is then one call and one assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from calcdet_core.contracts.components import Detector
from calcdet_core.contracts.data import Annotation, ImageResult, Target
from calcdet_core.contracts.training import ImageStream, TrainingContext, TrainingImage
from calcdet_core.evaluation.froc import froc_data, froc_point_estimate
from calcdet_core.testing._runtime import one_thread
from calcdet_core.testing.images import add_disks, breast_like_mask, textured_background

LEARNING_SCENE_SIZE = 96


def learning_scene(seed: int, mcs: int = 3, size: int = LEARNING_SCENE_SIZE) -> TrainingImage:
    """``mcs`` bright disks (radius 2-3.5 px, 20+ px apart) on parenchyma of 0.1 contrast in a breast-like mask."""
    rng = np.random.default_rng([seed, 11])
    mask = breast_like_mask((size, size))
    ys, xs = np.nonzero(mask)
    centres: list[tuple[float, float]] = []
    for i in rng.permutation(len(xs)):
        x, y = float(xs[i]), float(ys[i])
        inside = 10 <= x < size - 10 and 10 <= y < size - 10
        if len(centres) < mcs and inside and all(np.hypot(x - a, y - b) >= 20 for a, b in centres):
            centres.append((x, y))
    disks = [(x, y, float(rng.uniform(2.0, 3.5)), 0.3) for x, y in centres]
    pixels = add_disks(textured_background((size, size), seed=seed, contrast=0.1), disks)
    targets = tuple(Target(x, y, 2 * r) for x, y, r, _ in disks)
    return TrainingImage(f"scene-{seed}", f"patient-{seed}", pixels, mask, Annotation(targets=targets), (0.07, 0.07))


def held_out_froc_auc(detector: Detector, images: list[TrainingImage], diameter: float | None = None,
                      max_fppi: float = 1.0) -> float:
    """FROC AUC up to ``max_fppi`` false positives per normal image; a hit lies within ``diameter / 2`` of an MC
    centre (``None``: the study's matching)."""
    results = [ImageResult(i.image_id, detector.detect(i.pixels, i.mask), i.annotation) for i in images]
    data = froc_data(results) if diameter is None else froc_data(results, diameter=diameter)
    return float(froc_point_estimate(data, max_fppi=max_fppi)["auc"])


@dataclass(frozen=True)
class Learning:
    """What :func:`detector_learning` measured: the trained and the untrained net's held-out FROC AUC."""

    trained: float
    untrained: float

    def __str__(self) -> str:
        return f"FROC AUC to 1 FP/normal image: trained {self.trained:.3f}, untrained {self.untrained:.3f}"


def detector_learning(make: Callable[..., Detector], settings: dict[str, Any], seed: int,
                      diameter: float | None = None) -> Learning:
    """Train ``make(**settings)`` on 8 scenes (one normal), validate on 3, and score it on 12 unseen ones (24 MCs,
    4 normal images) beside the same net from the same seed whose one epoch at learning rate 1e-9 leaves its
    initial weights. Runs on one thread."""
    base = 100 * seed
    train = ImageStream.from_images([learning_scene(base + i, mcs=0 if i == 4 else 3) for i in range(8)])
    validation = ImageStream.from_images([learning_scene(base + 10), learning_scene(base + 11),
                                          learning_scene(base + 12, mcs=0)])
    test = [learning_scene(base + 50 + i, mcs=0 if i % 3 == 2 else 3) for i in range(12)]
    trained = make(**settings)
    with one_thread(trained):
        trained.fit(train, validation, TrainingContext.temporary(seed=seed))
        untrained = make(**{**settings, "epochs": 1, "learning_rate": 1e-9})
        untrained.fit(train, validation, TrainingContext.temporary(seed=seed))
        return Learning(held_out_froc_auc(trained, test, diameter), held_out_froc_auc(untrained, test, diameter))
