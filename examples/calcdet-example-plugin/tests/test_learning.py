"""example-fcn learns: on unseen generated images its trained net finds MCs far better than the same net untrained.

The images have brighter, coarser parenchyma than the conformance kit's, so that brightness alone (what a
randomly initialised net responds to) does not find the MCs; the floor is relative to that untrained net.
"""

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from calcdet_example.fcn import FcnDetector

from calcdet_core.api import (
    Annotation,
    ImageResult,
    ImageStream,
    Target,
    TrainingContext,
    TrainingImage,
    froc_data,
    froc_point_estimate,
)
from calcdet_core.testing import add_disks, breast_like_mask, textured_background

SEED = 2
SIZE = 96
SMALL = {"epochs": 12, "patches_per_image": 16, "learning_rate": 0.02, "threshold": 0.001}
MARGIN = 0.3


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def scene(seed: int, mcs: int = 3) -> TrainingImage:
    """``mcs`` bright disks (radius 2-3.5 px, 20+ px apart) on parenchyma of 0.1 contrast in a breast-like mask."""
    rng = np.random.default_rng([seed, 11])
    mask = breast_like_mask((SIZE, SIZE))
    ys, xs = np.nonzero(mask)
    centres: list[tuple[float, float]] = []
    for i in rng.permutation(len(xs)):
        x, y = float(xs[i]), float(ys[i])
        inside = 10 <= x < SIZE - 10 and 10 <= y < SIZE - 10
        if len(centres) < mcs and inside and all(np.hypot(x - a, y - b) >= 20 for a, b in centres):
            centres.append((x, y))
    disks = [(x, y, float(rng.uniform(2.0, 3.5)), 0.3) for x, y in centres]
    pixels = add_disks(textured_background((SIZE, SIZE), seed=seed, contrast=0.1), disks)
    targets = tuple(Target(x, y, 2 * r) for x, y, r, _ in disks)
    return TrainingImage(f"scene-{seed}", f"patient-{seed}", pixels, mask, Annotation(targets=targets), (0.07, 0.07))


def froc_auc(detector: FcnDetector, images: list[TrainingImage]) -> float:
    """The FROC AUC up to 1 false positive per normal image; a hit lies within 2.5 px of an MC centre."""
    results = [ImageResult(i.image_id, detector.detect(i.pixels, i.mask), i.annotation) for i in images]
    return froc_point_estimate(froc_data(results, diameter=5.0), max_fppi=1.0)["auc"]


def test_a_trained_net_beats_the_same_net_untrained_on_unseen_images(one_torch_thread):
    base = 100 * SEED
    train = ImageStream.from_images([scene(base + i, mcs=0 if i == 4 else 3) for i in range(8)])
    validation = ImageStream.from_images([scene(base + 10), scene(base + 11), scene(base + 12, mcs=0)])
    test = [scene(base + 50 + i, mcs=0 if i % 3 == 2 else 3) for i in range(12)]  # 24 MCs, 4 normal images
    trained = FcnDetector(**SMALL).fit(train, validation, TrainingContext.temporary(seed=SEED))
    # the same net from the same seed, whose one epoch at learning rate 1e-9 leaves its initial weights
    untrained = FcnDetector(**{**SMALL, "epochs": 1, "learning_rate": 1e-9}).fit(
        train, validation, TrainingContext.temporary(seed=SEED))
    learned, chance = froc_auc(trained, test), froc_auc(untrained, test)
    assert learned >= chance + MARGIN, f"FROC AUC to 1 FP/normal image: trained {learned:.3f}, untrained {chance:.3f}"
