"""Every cascade stage shows its progress through the run's reporter; tree stages take threads from ``--workers``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from calcdet_svm import RandomForest, SvmCascade

from calcdet_core.api import TrainingContext
from calcdet_core.testing import RecordingReporter


def problem(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    X = rng.normal(size=(n, 5))
    X[:, 0] += 1.5 * y
    return X, y, np.arange(n) % 8


TREES = {"stage2": "extra-trees", "stage2_negatives": "all", "stage2_trees": 30, "max_train_samples": 300}


def test_each_cascade_stage_advances_to_its_total(tmp_path: Path):
    reporter = RecordingReporter()
    (X, y, g), (Xv, yv, _) = problem(0, 600), problem(1, 300)
    SvmCascade(**TREES).fit(X, y, g, validation=(Xv, yv), context=TrainingContext(tmp_path, reporter=reporter))
    assert reporter.bar("stage 1: fit") == (1, 1)
    assert reporter.bar("threshold") == (len(Xv), len(Xv))
    assert reporter.bar("stage 1: score") == (len(X), len(X))
    assert reporter.bar("stage 2") == (30, 30)
    assert set(reporter.facts["seconds"]) == {"stage1_fit", "threshold", "stage1_score", "stage2_fit"}


def test_out_of_fold_threshold_advances_per_fold(tmp_path: Path):
    reporter = RecordingReporter()
    X, y, g = problem(2, 600)
    SvmCascade(max_train_samples=300, threshold_folds=3).fit(X, y, g, context=TrainingContext(tmp_path,
                                                                                                reporter=reporter))
    assert reporter.bar("out-of-fold") == (3, 3)
    assert reporter.bar("stage 2: fit the SVM") == (1, 1)


@pytest.mark.parametrize("make", [lambda: SvmCascade(**TREES), lambda: RandomForest(n_estimators=20)])
def test_trees_use_the_run_workers_and_learn_the_same_model(make, tmp_path: Path):
    (X, y, g), (Xv, yv, _) = problem(3, 600), problem(4, 300)
    cores = len(os.sched_getaffinity(0))
    scores, facts = [], []
    for workers in (1, 2):
        context = TrainingContext(tmp_path, workers=workers)
        model = make().fit(X, y, g, validation=(Xv, yv), context=context)
        scores.append(model.score(Xv))
        facts.append(context.reporter.facts)
        assert all(m.get_params().get("n_jobs", 1) == 1 for m in model.models_.values()), \
            "saved models score single-threaded in detection's workers"
    assert [f["threads"] for f in facts] == [1, min(2, cores)]
    np.testing.assert_array_equal(scores[0], scores[1])
