"""Small synthetic mammograms with known microcalcifications, for the engine, model and CLI tests."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import Annotation, ImageRecord, Mammogram, Target
from calcdet_core.testing import add_disks, textured_background

AIA_ML_SMALL = {
    "name": "aia-ml-small",
    "proposer": {"plugin": "gm"},
    "features": [{"plugin": "fos"}, {"plugin": "haar", "params": {"n_selected": 16, "n_estimators": 10,
                                                                 "cv_folds": 2}}],
    "classifier": {"plugin": "svm-cascade", "params": {"max_train_samples": 400}},
}


def synthetic_record(i: int, laterality: str = "R") -> ImageRecord:
    """A 14-bit 'mammogram': textured breast right of a dark strip (so crop and flip both act), bright MCs."""
    rng = np.random.default_rng(100 + i)
    h, w, strip = 150, 190, 24
    disks = [] if i % 4 == 3 else [(rng.uniform(strip + 25, w - 25), rng.uniform(25, h - 25), rng.uniform(1.5, 2.5),
                                    0.3) for _ in range(5)]
    image = add_disks(textured_background((h, w), seed=i, contrast=0.06), disks)
    stored = (image * 16000 + 200).astype(np.uint16)
    stored[:, :strip] = 0
    if laterality == "L":  # a left breast is stored with its chest wall on the left already
        stored = np.ascontiguousarray(stored[:, ::-1])
        disks = [(w - 1 - x, y, r, c) for x, y, r, c in disks]
    annotation = Annotation(targets=tuple(Target(x, y, 2 * r) for x, y, r, _ in disks))
    image_id = f"img{i}"
    return ImageRecord(image_id, f"patient{i}", Path(image_id), annotation,
                       read=partial(Mammogram, stored, image_id, laterality=laterality), laterality=laterality)
