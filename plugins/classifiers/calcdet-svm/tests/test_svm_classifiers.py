"""Conformance of every classifier, and the cascade's own promises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from calcdet_svm import RandomForest, Svm, SvmCascade, SvmHardNegative
from calcdet_svm.sampling import downsample, keep_sensitivity_threshold
from sklearn.linear_model import LogisticRegression

from calcdet_core.api import CalcdetUserError, TrainingContext
from calcdet_core.testing import parametrize_with_checks

FAST = {"max_train_samples": 400}


@parametrize_with_checks([SvmCascade(**FAST), SvmHardNegative(**FAST), Svm(**FAST),
                          RandomForest(n_estimators=20, **FAST)])
def test_conformance(component, check):
    check(component)


def problem(seed: int, n: int = 1200, prevalence: float = 0.08) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping classes, so stage 1 cannot be perfect and stage 2 has hard negatives to learn."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    X = rng.normal(size=(n, 5))
    X[:, 0] += 1.6 * y
    X[:, 1] += 1.2 * y * np.sign(rng.normal(size=n))  # a part only a non-linear model separates
    return X, y, np.arange(n) % 12


@pytest.fixture(scope="module")
def cascade() -> tuple[SvmCascade, tuple, tuple]:
    train, val = problem(0), problem(1, n=800)
    model = SvmCascade(gamma="scale", max_train_samples=600).fit(*train, validation=val[:2])
    return model, train, val


def test_threshold_keeps_98_percent_of_validation_tps(cascade):
    model, _, (Xv, yv, _) = cascade
    kept = model.stage1_score(Xv)[yv == 1] >= model.info_["threshold"]
    assert kept.mean() >= 0.98
    assert model.info_["threshold_choice"]["source"] == "validation"
    assert model.info_["threshold_choice"]["fp_kept"] < 1.0, "stage 1 should discard some easy negatives"


def test_stage2_trains_only_on_stage1_positives(cascade):
    model, (X, y, _), _ = cascade
    rows = model.stage2_index_
    assert len(rows) > 0 and 0 < y[rows].sum() < len(rows)
    assert (model.stage1_score(X[rows]) >= model.info_["threshold"]).all()
    rejected = np.flatnonzero(model.stage1_score(X) < model.info_["threshold"])
    assert len(rejected) and not np.isin(rejected, rows).any()


def test_score_ranks_stage1_negatives_below_positives_by_stage1(cascade):
    model, _, (Xv, _, _) = cascade
    d1, s = model.stage1_score(Xv), model.score(Xv)
    passed = d1 >= model.info_["threshold"]
    assert passed.any() and (~passed).any()
    assert s[~passed].max() < s[passed].min()
    order = np.argsort(d1[~passed])
    assert np.all(np.diff(s[~passed][order]) >= 0), "stage-1 negatives should keep the stage-1 order"
    stage2 = model._stage2(Xv[passed])
    assert np.all(np.diff(s[passed][np.argsort(stage2)]) >= 0), "stage-1 positives are ranked by stage 2"


def test_without_validation_threshold_comes_from_grouped_out_of_fold_scores():
    X, y, g = problem(2, n=600)
    model = SvmCascade(max_train_samples=300).fit(X, y, g)
    assert model.info_["threshold_choice"]["source"].startswith("grouped 3-fold")


def test_hardneg_scores_every_candidate_with_stage2(cascade):
    model, train, val = cascade
    hard = SvmHardNegative(gamma="scale", max_train_samples=600).fit(*train, validation=val[:2])
    np.testing.assert_allclose(hard.score(val[0]), model._stage2(val[0]))


@pytest.mark.parametrize("make", [lambda: Svm(max_train_samples=200), lambda: RandomForest(n_estimators=5),
                                  lambda: SvmCascade(max_train_samples=200)])
def test_training_facts_go_to_the_run_reporter(make, tmp_path: Path):
    X, y, g = problem(8, n=400)
    Xv, yv, _ = problem(9, n=200)
    context = TrainingContext(tmp_path)
    model = make().fit(X, y, g, validation=(Xv, yv), context=context)
    timing = {"seconds", "threads"}  # how long each step took: the run's facts, not the model's record
    assert {k: v for k, v in context.reporter.facts.items() if k not in timing} == model.info_
    assert context.reporter.facts["n_features"] == 5
    json.dumps(context.reporter.facts, allow_nan=False)  # they land in the model's training metrics
    assert not hasattr(model, "training_info_"), "the engine reads the reporter, not the classifier"
    if isinstance(model, SvmCascade):
        assert context.reporter.facts["threshold_choice"]["source"] == "validation"


def test_downsample_keeps_ratio_and_cap():
    y = np.r_[np.ones(50, int), np.zeros(5000, int)]
    rows = downsample(y, 10, 10_000, np.random.default_rng(0))
    assert y[rows].sum() == 50 and len(rows) == 550
    capped = downsample(y, 10, 110, np.random.default_rng(0))
    assert y[capped].sum() == 10 and len(capped) == 110


def test_threshold_rule_on_known_scores():
    scores = np.arange(100.0)
    labels = np.ones(100, int)
    assert keep_sensitivity_threshold(scores, labels, 0.98) == 2.0  # keeps 98 of 100


def test_tuning_searches_the_appendix_grid_with_grouped_folds():
    X, y, g = problem(3, n=500, prevalence=0.15)
    model = Svm(tune=True, tune_folds=3, tune_max_samples=150, max_train_samples=300).fit(X, y, g)
    tuning = model.info_["tuning"]
    assert len(tuning["grid"]) == 27 and tuning["folds"] == 3
    assert set(tuning["best"]) >= {"kernel", "C"}


def test_bad_inputs_name_the_problem():
    X, y, g = problem(4, n=100)
    with pytest.raises(CalcdetUserError, match="both true-positive and false-positive"):
        Svm().fit(X, np.zeros(100, int), g)  # the data's fault: calcdet prints it as a user error
    with pytest.raises(ValueError, match="NaN") as nan:
        Svm().fit(np.where(X > 2, np.nan, X), y, g)
    assert not isinstance(nan.value, CalcdetUserError), "features come from code: a bug, shown with its traceback"
    model = Svm(max_train_samples=100).fit(X, y, g)
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        model.score(X[:, :3])


def test_tuning_on_one_case_names_the_parameter():
    X, y, _ = problem(4, n=300)
    one_case = np.zeros(300, int)
    with pytest.raises(CalcdetUserError, match=r"tune: true .* at least 2 cases; got 1 .*tune: false"):
        Svm(tune=True).fit(X, y, one_case)
    with pytest.raises(CalcdetUserError, match=r"stage2_tune: true .* at least 2 cases; got 1"):
        SvmCascade(stage2_tune=True, max_train_samples=300).fit(X, y, one_case)


def test_tampered_model_file_is_refused(tmp_path: Path):
    X, y, g = problem(5, n=300)
    model = Svm(max_train_samples=200).fit(X, y, g)
    model.save_state(tmp_path)
    sio.dump(LogisticRegression().fit(X, y), tmp_path / "svm.skops")  # swapped for another estimator
    with pytest.raises(CalcdetUserError, match="LogisticRegression"):
        Svm().load_state(tmp_path)


def test_model_json_cannot_smuggle_extra_model_files(tmp_path: Path):
    X, y, g = problem(6, n=300)
    Svm(max_train_samples=200).fit(X, y, g).save_state(tmp_path)
    meta = json.loads((tmp_path / "classifier.json").read_text())
    meta["models"].append("payload")
    (tmp_path / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(CalcdetUserError, match="payload"):
        Svm().load_state(tmp_path)


def test_stage2_all_hard_negatives_balanced(cascade):
    _, (X, y, g), (Xv, yv, _) = cascade
    alt = SvmCascade(gamma="scale", max_train_samples=2000, negatives_per_positive=1.0,
                     stage2_negatives="all").fit(X, y, g, validation=(Xv, yv))
    passed = np.flatnonzero(alt.stage1_score(X) >= alt.info_["threshold"])
    assert (y[passed] == 0).sum() > (y[passed] == 1).sum(), "1:1 downsampling would drop hard negatives here"
    np.testing.assert_array_equal(alt.stage2_index_, passed)  # every stage-1 positive, none downsampled away
    assert alt.models_["stage2"][-1].class_weight == "balanced"
    assert alt.info_["stage2"]["negatives"] == "all"


@pytest.mark.parametrize(("learner", "key"), [("random-forest", "stage2-forest"),
                                                ("extra-trees", "stage2-extra-trees")])
def test_stage2_tree_ensemble_persists_and_keeps_the_cascade_ranking(cascade, tmp_path: Path, learner, key):
    _, train, (Xv, yv, _) = cascade
    model = SvmCascade(gamma="scale", max_train_samples=600, stage2=learner, stage2_trees=30).fit(
        *train, validation=(Xv, yv))
    assert set(model.models_) == {"stage1", key}
    model.save_state(tmp_path)
    loaded = SvmCascade(stage2=learner)
    loaded.load_state(tmp_path)
    s = loaded.score(Xv)
    np.testing.assert_allclose(s, model.score(Xv))
    passed = model.stage1_score(Xv) >= model.info_["threshold"]
    assert s[~passed].max() < s[passed].min()
    votes = model.models_[key].predict_proba(Xv[passed])[:, 1]
    np.testing.assert_allclose(s[passed], 1 + votes)


def test_tree_stage2_on_all_negatives_takes_every_stage1_positive_uncapped(cascade):
    _, (X, y, g), val = cascade
    model = SvmCascade(gamma="scale", max_train_samples=100, stage2="extra-trees", stage2_negatives="all",
                       stage2_trees=10).fit(X, y, g, validation=val[:2])
    passed = np.flatnonzero(model.stage1_score(X) >= model.info_["threshold"])
    assert len(passed) > 100, "the SVM sample cap must not bound a tree ensemble"
    np.testing.assert_array_equal(model.stage2_index_, passed)
    trees = model.models_["stage2-extra-trees"]
    assert trees.class_weight == "balanced_subsample" and len(trees.estimators_) == 10


def test_tree_stage2_row_cap_keeps_every_tp(cascade):
    _, (X, y, g), val = cascade
    model = SvmCascade(gamma="scale", max_train_samples=100, stage2="extra-trees", stage2_negatives="all",
                       stage2_trees=10, stage2_max_rows=150).fit(X, y, g, validation=val[:2])
    passed = np.flatnonzero(model.stage1_score(X) >= model.info_["threshold"])
    rows = model.stage2_index_
    assert len(passed) > 150 and len(rows) == 150 and np.isin(rows, passed).all()
    assert set(np.flatnonzero(y == 1)) & set(passed) <= set(rows), "every stage-1-positive TP trains stage 2"


def test_sum_score_adds_both_stages_for_stage1_positives_only(cascade):
    model, train, (Xv, yv, _) = cascade
    summed = SvmCascade(gamma="scale", max_train_samples=600, stage2_score="sum").fit(*train, validation=(Xv, yv))
    d1, t = summed.stage1_score(Xv), summed.info_["threshold"]
    passed = d1 >= t
    s1 = 1 / (1 + np.exp(-(d1 - t)))
    s2 = 1 / (1 + np.exp(-summed.models_["stage2"].decision_function(Xv)))
    s = summed.score(Xv)
    np.testing.assert_allclose(s[passed], 1 + (s1[passed] + s2[passed]) / 2)
    np.testing.assert_allclose(s[~passed], s1[~passed])
    np.testing.assert_allclose(model.score(Xv)[passed], 1 + s2[passed])  # same seed: the study's ranking


def test_a_forest_file_in_place_of_extra_trees_is_refused(cascade, tmp_path: Path):
    _, train, (Xv, yv, _) = cascade
    forest = SvmCascade(gamma="scale", max_train_samples=600, stage2="random-forest", stage2_trees=5)
    forest.fit(*train, validation=(Xv, yv)).save_state(tmp_path)
    (tmp_path / "stage2-forest.skops").rename(tmp_path / "stage2-extra-trees.skops")
    meta = json.loads((tmp_path / "classifier.json").read_text())
    meta["models"] = ["stage1", "stage2-extra-trees"]
    (tmp_path / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(CalcdetUserError, match="RandomForestClassifier"):
        SvmCascade(stage2="extra-trees").load_state(tmp_path)


def test_stage2_tune_searches_the_grid_on_stage1_positives():
    X, y, g = problem(7, n=500, prevalence=0.15)
    model = SvmCascade(stage2_tune=True, tune_folds=3, tune_max_samples=150, max_train_samples=300).fit(X, y, g)
    tuning = model.info_["stage2"]["tuning"]
    assert len(tuning["grid"]) == 27 and tuning["folds"] == 3
    assert model.info_["tuning"] is None, "stage 1 keeps the configured parameters"
    with pytest.raises(ValueError, match="stage2_tune"):
        SvmCascade(stage2_tune=True, stage2="random-forest")


def test_a_folder_without_a_model_is_a_user_error(tmp_path: Path):
    with pytest.raises(CalcdetUserError, match=r"svm: cannot read .*classifier\.json"):
        Svm().load_state(tmp_path)
    (tmp_path / "classifier.json").write_text("[]")
    with pytest.raises(CalcdetUserError, match="is not a classifier record"):
        Svm().load_state(tmp_path)
    (tmp_path / "classifier.json").write_text(json.dumps({"models": ["svm"], "info": {}}))
    with pytest.raises(CalcdetUserError, match=r"model file .*svm\.skops is missing"):
        Svm().load_state(tmp_path)


def test_a_grid_search_no_fold_can_score_is_refused_naming_tune_folds():
    from calcdet_svm.models import tune_svm

    X, y, _ = problem(3, n=120)
    groups = np.where(y == 1, 0, 1 + np.arange(len(y)) % 3)  # every MC in one case: its fold has no negative
    with pytest.raises(CalcdetUserError, match=r"tune: no grid point has a .* lower tune_folds \(now 3\)"):
        tune_svm(X, y, groups, Svm(tune_folds=3, tune_scoring="roc_auc").config)
