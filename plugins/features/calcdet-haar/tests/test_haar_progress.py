"""The selection shows its progress through the run's reporter and takes its threads from ``--workers``."""

import os

import numpy as np
from calcdet_haar import HaarExtractor
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from calcdet_core.api import TrainingContext, fit_threads, grow_forest
from calcdet_core.testing import RecordingReporter


def problem(n: int = 160, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    patches = rng.normal(0.4, 0.1, (n, 8, 8)).astype(np.float32)
    labels = (np.arange(n) % 4 == 0).astype(int)
    patches[labels == 1, 3:5, 3:5] += 0.2
    return patches, labels, np.arange(n) % 8


def test_bank_and_every_forest_advance_the_run_progress(tmp_path):
    reporter = RecordingReporter()
    context = TrainingContext(tmp_path, reporter=reporter)
    patches, labels, groups = problem()
    HaarExtractor(patch_size=8, n_selected=10, n_estimators=25, cv_folds=3).fit(patches, labels, groups,
                                                                                 context=context)
    (bank_bar, forest_bar) = reporter.bars
    assert bank_bar[1] == len(patches) and sum(bank_bar[2]) == len(patches)
    assert forest_bar[1] == 3 * 25 and sum(forest_bar[2]) == 75
    assert len(forest_bar[2]) == 3 * 9, "each forest advances chunk by chunk (25 trees: 8 chunks of 3, one of 1)"
    assert set(reporter.facts["seconds"]) == {"bank", "forests"}


def test_forest_threads_follow_the_run_workers_and_never_exceed_the_cores(tmp_path):
    cores = len(os.sched_getaffinity(0))
    assert fit_threads(None) == 1
    assert fit_threads(TrainingContext(tmp_path, workers=1)) == 1
    assert fit_threads(TrainingContext(tmp_path, workers=cores + 3)) == cores
    patches, labels, groups = problem()
    for workers in (1, 2):
        context = TrainingContext(tmp_path, workers=workers)
        HaarExtractor(patch_size=8, n_selected=10, n_estimators=8, cv_folds=3).fit(patches, labels, groups,
                                                                                    context=context)
        assert context.reporter.facts["n_jobs"] == min(workers, cores)
    explicit = TrainingContext(tmp_path, workers=2)
    HaarExtractor(patch_size=8, n_selected=10, n_estimators=8, cv_folds=3, n_jobs=1).fit(
        patches, labels, groups, context=explicit)
    assert explicit.reporter.facts["n_jobs"] == 1, "a configured n_jobs wins over the run's workers"


def test_selection_is_the_same_for_any_thread_count(tmp_path):
    patches, labels, groups = problem(seed=4)
    chosen = []
    for workers in (1, 2):
        haar = HaarExtractor(patch_size=8, n_selected=10, n_estimators=12, cv_folds=3)
        haar.fit(patches, labels, groups, context=TrainingContext(tmp_path, workers=workers))
        chosen.append((haar.selected_, haar.selection_.importance, haar.selection_.fold_auroc))
    np.testing.assert_array_equal(chosen[0][0], chosen[1][0])
    assert chosen[0][1:] == chosen[1][1:]


def test_a_forest_grown_in_chunks_on_two_threads_equals_one_fit_on_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    for make in (lambda j: RandomForestClassifier(n_estimators=23, random_state=7, n_jobs=j),
                 lambda j: ExtraTreesClassifier(n_estimators=23, min_samples_leaf=2, random_state=7, n_jobs=j,
                                                class_weight="balanced_subsample")):
        once = make(1).fit(X, y)
        grown = grow_forest(make(2), X, y)
        assert grown.n_estimators == 23 and len(grown.estimators_) == 23 and not grown.warm_start
        np.testing.assert_array_equal(once.feature_importances_, grown.feature_importances_)
        np.testing.assert_array_equal(once.predict_proba(X), grown.set_params(n_jobs=1).predict_proba(X))
