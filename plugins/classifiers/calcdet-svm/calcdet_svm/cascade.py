"""The study's two-stage SVM (after Bria et al. 2014) and its hard-negative fine-tuning twin.

Stage 1 is an SVM trained on 1:10 balanced training candidates. Its threshold is the
highest one that keeps ``stage1_sensitivity`` (98%) of the *validation* TPs; without a
validation set holding a TP it is chosen on out-of-fold stage-1 scores of a case-grouped
K-fold over the training rows (documented fallback; with a single case, on in-sample
scores). Stage 2 is trained on the training candidates that pass stage 1 (hard
negatives and TPs). The study's stage 2 (``stage2="svm"``, ``stage2_negatives="downsample"``,
``stage2_tune=False``, ``stage2_score="stage2"``) is stage 1's SVM again, 1:10 balanced; the
options give stage 2 its own learner, its own hyperparameters or every hard negative, and let
both stages' scores add up for the stage-1 positives as in a soft cascade (see the README).

Stage-2 scores are mapped to (0, 1): an SVM's decision value by the logistic function (a
monotone map, not a calibrated probability), a tree ensemble's MC-vote fraction as it is.

* ``svm-cascade``: ``1 + s2`` in (1, 2) for stage-1 positives (``s2`` the stage-2 score, or with
  ``stage2_score="sum"`` the mean of it and ``sigmoid(stage 1 - threshold)``), and
  ``sigmoid(stage 1 - threshold)`` in (0, 0.5) for the rest, so every candidate is ranked:
  stage-1 negatives below every positive, among themselves by stage-1 score.
* ``svm-hardneg``: the stage-2 score for every candidate (the study's
  "fine-tuned" variant: the same second model, applied without the stage-1 gate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from calcdet_core.api import Reporter, TrainingContext, fit_threads, grow_forest, reporter_of, timed_step
from calcdet_svm.base import SkopsClassifier
from calcdet_svm.kernels import decision_values
from calcdet_svm.models import SvmConfig, check_forest_memory, svm_from_config, tune_svm, tuned_params
from calcdet_svm.persist import EXTRA_TREES_TYPES, FOREST_TYPES, SVM_TYPES
from calcdet_svm.sampling import cap_negatives, check_training_set, downsample, keep_sensitivity_threshold

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


class CascadeConfig(SvmConfig):
    """By default (the study) stage 2 is an SVM with stage 1's kernel parameters; ``stage2*`` change that."""

    stage1_sensitivity: float = Field(0.98, gt=0, le=1, description="Share of validation TPs stage 1 must keep; "
                                      "sets its threshold (study: 98%).")
    threshold_folds: int = Field(3, ge=2, le=20, description="Without validation TPs: folds of the case-grouped "
                                 "out-of-fold scoring used to set the stage-1 threshold instead.")
    stage2: Literal["svm", "random-forest", "extra-trees"] = Field(
        "svm", description="Stage-2 learner on the stage-1 positives: 'svm' (the study), 'random-forest' or "
        "'extra-trees' (extremely randomised trees; stage2_trees trees, at least 2 candidates per leaf).")
    stage2_negatives: Literal["downsample", "all"] = Field(
        "downsample", description="Stage-1-positive FPs that train stage 2: 'downsample' to 1:negatives_per_positive "
        "as stage 1 (the study), or 'all' hard negatives with the classes weighted 'balanced' (an SVM takes at "
        "most max_train_samples rows, ratio kept; a tree ensemble every stage-1 positive, up to stage2_max_rows).")
    stage2_trees: int = Field(300, ge=1, le=10_000, description="Trees of a 'random-forest' or 'extra-trees' stage 2.")
    stage2_max_rows: int = Field(200_000, ge=20, le=5_000_000,
                                 description="Cap on the rows of a tree-ensemble stage 2 with stage2_negatives 'all': "
                                             "every TP stays, FPs are drawn at random to fill it (bounds time and "
                                             "memory on full-size mammograms).")
    stage2_score: Literal["stage2", "sum"] = Field(
        "stage2", description="How stage-1 positives are ranked: by the stage-2 score alone (the study) or by "
        "the sum of both stages' scores, each mapped to (0, 1), as a soft cascade accumulates its stages "
        "(svm-cascade only; svm-hardneg always scores by stage 2).")
    stage2_tune: bool = Field(False, description="Choose the stage-2 SVM's kernel, C, gamma and degree over the "
                              "Appendix 1 grid by case-grouped CV on the training stage-1 positives, instead of "
                              "reusing stage 1's (study: shared).")

    @model_validator(mode="after")
    def _tune_needs_svm(self) -> CascadeConfig:
        if self.stage2_tune and self.stage2 != "svm":
            raise ValueError(f"stage2_tune grid-searches an SVM; stage2 is {self.stage2!r}")
        if self.stage2 != "svm":
            rows = (("stage2_max_rows", self.stage2_max_rows) if self.stage2_negatives == "all"
                    else ("max_train_samples", self.max_train_samples))
            check_forest_memory(("stage2_trees", self.stage2_trees), rows, min_leaf=2)
        return self


_TREE_ENSEMBLES: dict[str, tuple[str, str]] = {
    "random-forest": ("stage2-forest", "RandomForestClassifier"),
    "extra-trees": ("stage2-extra-trees", "ExtraTreesClassifier"),
}
"""Tree-ensemble stage-2 learners: option value -> (model file name, class in ``sklearn.ensemble``)."""

class _TwoStageSvm(SkopsClassifier):
    Config = CascadeConfig
    config: CascadeConfig
    MODEL_TYPES: ClassVar[dict[str, tuple[str, frozenset[str]]]] = {
        "stage1": ("sklearn.pipeline.Pipeline", SVM_TYPES), "stage2": ("sklearn.pipeline.Pipeline", SVM_TYPES),
        "stage2-forest": ("sklearn.ensemble._forest.RandomForestClassifier", FOREST_TYPES),
        "stage2-extra-trees": ("sklearn.ensemble._forest.ExtraTreesClassifier", EXTRA_TREES_TYPES)}

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            context: TrainingContext | None = None) -> _TwoStageSvm:
        X, y = check_training_set(features, labels, groups)
        groups = np.asarray(groups).reshape(-1)
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        reporter, threads = reporter_of(context), fit_threads(context)
        seconds: dict[str, dict[str, float]] = {}
        if cfg.tune:
            with timed_step(reporter, f"{self.name}: grid search", 1, seconds, "tuning") as task:
                params, tuning = tuned_params(X, y, groups, cfg, rng)
                task.advance()
        else:
            params, tuning = tuned_params(X, y, groups, cfg, rng)
        rows1 = downsample(y, cfg.negatives_per_positive, cfg.max_train_samples, rng)
        with timed_step(reporter, f"{self.name} stage 1: fit the SVM on {len(rows1)} rows", 1, seconds,
                        "stage1_fit") as task:
            stage1 = svm_from_config(cfg, params).fit(X[rows1], y[rows1])
            task.advance()
        threshold, threshold_info = self._choose_threshold(stage1, X, y, groups, rows1, validation, params,
                                                           reporter, seconds, threads)
        with timed_step(reporter, f"{self.name} stage 1: score {len(X)} training candidates ({threads} threads)",
                        len(X), seconds, "stage1_score") as task:
            passed = np.flatnonzero(decision_values(stage1, X, task, threads) >= threshold)
        y_passed = y[passed]
        self.models_ = {"stage1": stage1}
        stage2_info: dict[str, Any] = {"candidates": len(passed), "tp": int(y_passed.sum())}
        if 0 < y_passed.sum() < len(passed):
            key, model, rows2, fit_info = self._fit_stage2(X, y, groups, passed, params, rng, reporter, seconds,
                                                           threads)
            self.models_[key] = model
            self.stage2_index_ = rows2
            stage2_info.update(rows=len(rows2), **fit_info)
        else:  # stage 1 passed one class only: nothing for stage 2 to learn; stage 1 ranks alone
            self.stage2_index_ = np.zeros(0, dtype=np.intp)
            stage2_info["skipped"] = "stage-1 positives hold a single class; stage 1 scores alone"
        self.info_ = {
            "n_features": X.shape[1], "threshold": threshold, "threshold_choice": threshold_info,
            "stage1": {"rows": len(rows1), "tp": int(y[rows1].sum()),
                       "train_fp_removed": float(1 - (y_passed == 0).sum() / max((y == 0).sum(), 1))},
            "stage2": stage2_info, "tuning": tuning,
        }
        self._report(context)
        reporter.record(seconds=seconds, threads=threads)  # not in info_: classifier.json stays the same run to run
        return self

    def _fit_stage2(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, passed: np.ndarray,
                    params: dict[str, Any] | None, rng: np.random.Generator, reporter: Reporter,
                    seconds: dict[str, dict[str, float]], threads: int
                    ) -> tuple[str, Any, np.ndarray, dict[str, Any]]:
        """(model name, fitted stage 2, its training rows, facts) on the training stage-1 positives.

        A tree ensemble grows on ``threads`` threads (the same trees as on one) and is kept with
        ``n_jobs=1``: detection's worker processes score single-threaded, as their share of the cores says.
        """
        cfg = self.config
        y_passed = y[passed]
        every = cfg.stage2_negatives == "all"
        info: dict[str, Any] = {"learner": cfg.stage2, "negatives": cfg.stage2_negatives}
        if cfg.stage2 in _TREE_ENSEMBLES:  # trees scale ~n log n: a cap of their own, not the SVM's
            from sklearn import ensemble as ensembles

            rows2 = passed[cap_negatives(y_passed, cfg.stage2_max_rows, rng) if every else
                           downsample(y_passed, cfg.negatives_per_positive, cfg.max_train_samples, rng)]
            key, class_name = _TREE_ENSEMBLES[cfg.stage2]
            ensemble = getattr(ensembles, class_name)
            weight = "balanced_subsample" if every else None
            trees = ensemble(n_estimators=cfg.stage2_trees, min_samples_leaf=2, class_weight=weight,
                             random_state=cfg.seed, n_jobs=threads)
            with timed_step(reporter, f"{self.name} stage 2: {cfg.stage2_trees} {cfg.stage2} on {len(rows2)} rows "
                            f"({threads} threads)", cfg.stage2_trees, seconds, "stage2_fit") as task:
                grow_forest(trees, X[rows2], y[rows2], task).set_params(n_jobs=1)
            return key, trees, rows2, {**info, "class_weight": weight, "trees": cfg.stage2_trees}
        ratio = float(len(passed)) if every else cfg.negatives_per_positive
        weight = "balanced" if every else None
        rows2 = passed[downsample(y_passed, ratio, cfg.max_train_samples, rng)]
        info["class_weight"] = weight
        with timed_step(reporter, f"{self.name} stage 2: fit the SVM on {len(rows2)} rows", 1, seconds,
                        "stage2_fit") as task:
            if cfg.stage2_tune:
                tune_rows = passed[downsample(y_passed, ratio, cfg.tune_max_samples, rng)]
                info["tuning"] = tune_svm(X[tune_rows], y[tune_rows], groups[tune_rows], cfg, weight, "stage2_tune")
                params = info["tuning"]["best"]
            model = svm_from_config(cfg, params, weight).fit(X[rows2], y[rows2])
            task.advance()
        return "stage2", model, rows2, info

    def _choose_threshold(self, stage1: Pipeline, X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                          rows1: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None,
                          params: dict[str, Any] | None, reporter: Reporter,
                          seconds: dict[str, dict[str, float]], threads: int) -> tuple[float, dict[str, Any]]:
        from sklearn.model_selection import GroupKFold

        s = self.config.stage1_sensitivity
        if validation is not None:
            Xv = np.asarray(validation[0], dtype=np.float64)
            yv = np.asarray(validation[1]).reshape(-1)
            if Xv.ndim != 2 or Xv.shape[1] != X.shape[1] or len(yv) != len(Xv) or not np.isfinite(Xv).all():
                raise ValueError(f"validation features must be finite (N, {X.shape[1]}) with N labels; "
                                 f"got {Xv.shape} and {len(yv)} labels")
            if (yv == 1).any():
                with timed_step(reporter, f"{self.name} stage 1 threshold: score {len(Xv)} validation candidates",
                                len(Xv), seconds, "threshold") as task:
                    dv = decision_values(stage1, Xv, task, threads)
                t = keep_sensitivity_threshold(dv, yv, s)
                return t, {"source": "validation", "tp_kept": float((dv[yv == 1] >= t).mean()),
                           "fp_kept": float((dv[yv == 0] >= t).mean()) if (yv == 0).any() else None}
        sample_groups = groups[rows1]
        n_folds = min(self.config.threshold_folds, len(np.unique(sample_groups)))
        if n_folds < 2:
            d = decision_values(stage1, X[rows1])
            return keep_sensitivity_threshold(d, y[rows1], s), {"source": "training rows (in-sample: one case)"}
        oof = np.empty(len(rows1))
        with timed_step(reporter, f"{self.name} stage 1 threshold: {n_folds} out-of-fold SVMs", n_folds, seconds,
                        "threshold") as task:
            for fit_idx, out_idx in GroupKFold(n_splits=n_folds).split(rows1, y[rows1], sample_groups):
                fold_y = y[rows1[fit_idx]]
                if fold_y.min() == fold_y.max():  # a fold with one class cannot train; use the full model there
                    oof[out_idx] = decision_values(stage1, X[rows1[out_idx]])
                else:
                    model = svm_from_config(self.config, params).fit(X[rows1[fit_idx]], fold_y)
                    oof[out_idx] = decision_values(model, X[rows1[out_idx]])
                task.advance()
        return keep_sensitivity_threshold(oof, y[rows1], s), {"source": f"grouped {n_folds}-fold out-of-fold "
                                                                          "scores of training rows"}

    def stage1_score(self, features: np.ndarray) -> np.ndarray:
        """Stage-1 decision values alone (what the study calls the original model)."""
        X = self._check_fitted(features)
        return decision_values(self.models_["stage1"], X) if len(X) else np.zeros(0)

    def _has_stage2(self) -> bool:
        return len(self.models_) > 1

    def _stage2(self, X: np.ndarray) -> np.ndarray:
        """Stage-2 scores in (0, 1): sigmoid of the SVM's decision values, or the trees' MC-vote fractions."""
        from scipy.special import expit

        if "stage2" in self.models_:
            return expit(decision_values(self.models_["stage2"], X))
        (trees,) = (self.models_[key] for key, _ in _TREE_ENSEMBLES.values() if key in self.models_)
        return np.asarray(trees.predict_proba(X)[:, 1], dtype=np.float64)


class SvmCascade(_TwoStageSvm):
    """Two cascaded SVMs: stage 1 discards easy negatives, stage 2 ranks what passes."""

    name = "svm-cascade"
    description = "The study's two-stage cascaded RBF SVM: stage 1 keeps 98% of validation TPs, stage 2 ranks them."

    def score(self, features: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        X = self._check_fitted(features)
        d1 = self.stage1_score(X)
        threshold = float(self.info_["threshold"])
        out = expit(d1 - threshold)
        passed = d1 >= threshold
        if passed.any():
            if not self._has_stage2():
                out[passed] = 1.0 + out[passed]
            elif self.config.stage2_score == "sum":
                out[passed] = 1.0 + (self._stage2(X[passed]) + out[passed]) / 2
            else:
                out[passed] = 1.0 + self._stage2(X[passed])
        return out


class SvmHardNegative(_TwoStageSvm):
    """Stage-2 SVM (trained on stage-1 positives: hard negatives and TPs) scoring every candidate."""

    name = "svm-hardneg"
    description = "The study's hard-negative fine-tuned SVM: a second SVM trained on stage-1 positives scores all."

    def score(self, features: np.ndarray) -> np.ndarray:
        X = self._check_fitted(features)
        if not self._has_stage2() or len(X) == 0:
            return self.stage1_score(X)
        return self._stage2(X)
