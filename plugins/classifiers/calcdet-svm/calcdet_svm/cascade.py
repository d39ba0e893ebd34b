"""The study's two-stage SVM (after Bria et al. 2014) and its hard-negative fine-tuning twin.

Stage 1 is an SVM trained on 1:10 balanced training candidates. Its threshold is the
highest one that keeps ``stage1_sensitivity`` (98%) of the *validation* TPs; without a
validation set holding a TP it is chosen on out-of-fold stage-1 scores of a case-grouped
K-fold over the training rows (documented fallback; with a single case, on in-sample
scores). Stage 2 is an SVM trained on the training candidates that pass stage 1 (hard
negatives and TPs), again 1:10 balanced.

Scores are decision-function values squashed by the logistic function (a monotone map,
not a calibrated probability):

* ``svm-cascade``: ``1 + sigmoid(stage 2)`` in (1, 2) for stage-1 positives, and
  ``sigmoid(stage 1 - threshold)`` in (0, 0.5) for the rest, so every candidate is ranked:
  stage-1 negatives below every positive, among themselves by stage-1 score.
* ``svm-hardneg``: the stage-2 decision value for every candidate (the study's
  "fine-tuned" variant: the same second model, applied without the stage-1 gate).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from scipy.special import expit
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from calcdet_svm.base import SkopsClassifier
from calcdet_svm.models import SvmConfig, svm_from_config, tuned_params
from calcdet_svm.persist import SVM_TYPES
from calcdet_svm.sampling import check_training_set, downsample, keep_sensitivity_threshold


class CascadeConfig(SvmConfig):
    """Stage-1 and stage-2 SVMs share the kernel parameters (the study's tuned RBF)."""

    stage1_sensitivity: float = Field(0.98, gt=0, le=1, description="Share of validation TPs stage 1 must keep; "
                                      "sets its threshold (study: 98%).")
    threshold_folds: int = Field(3, ge=2, description="Without validation TPs: folds of the case-grouped "
                                 "out-of-fold scoring used to set the stage-1 threshold instead.")


class _TwoStageSvm(SkopsClassifier):
    Config = CascadeConfig
    MODEL_TYPES: ClassVar[dict[str, tuple[type, frozenset[str]]]] = {
        "stage1": (Pipeline, SVM_TYPES), "stage2": (Pipeline, SVM_TYPES)}

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            validation: tuple[np.ndarray, np.ndarray] | None = None) -> _TwoStageSvm:
        X, y = check_training_set(features, labels, groups)
        groups = np.asarray(groups).reshape(-1)
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        params, tuning = tuned_params(X, y, groups, cfg, rng)
        rows1 = downsample(y, cfg.negatives_per_positive, cfg.max_train_samples, rng)
        stage1 = svm_from_config(cfg, params).fit(X[rows1], y[rows1])
        threshold, threshold_info = self._choose_threshold(stage1, X, y, groups, rows1, validation, params)

        passed = np.flatnonzero(stage1.decision_function(X) >= threshold)
        y_passed = y[passed]
        self.models_ = {"stage1": stage1}
        stage2_info: dict[str, Any] = {"candidates": len(passed), "tp": int(y_passed.sum())}
        if 0 < y_passed.sum() < len(passed):
            rows2 = passed[downsample(y_passed, cfg.negatives_per_positive, cfg.max_train_samples, rng)]
            self.models_["stage2"] = svm_from_config(cfg, params).fit(X[rows2], y[rows2])
            self.stage2_index_ = rows2
            stage2_info["rows"] = len(rows2)
        else:  # stage 1 passed one class only: nothing for stage 2 to learn; stage 1 ranks alone
            self.stage2_index_ = np.zeros(0, dtype=np.intp)
            stage2_info["skipped"] = "stage-1 positives hold a single class; stage 1 scores alone"
        self.info_ = {
            "n_features": X.shape[1], "threshold": threshold, "threshold_choice": threshold_info,
            "stage1": {"rows": len(rows1), "tp": int(y[rows1].sum()),
                       "train_fp_removed": float(1 - (y_passed == 0).sum() / max((y == 0).sum(), 1))},
            "stage2": stage2_info, "tuning": tuning,
        }
        return self

    def _choose_threshold(self, stage1: Pipeline, X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                          rows1: np.ndarray, validation: tuple[np.ndarray, np.ndarray] | None,
                          params: dict[str, Any] | None) -> tuple[float, dict[str, Any]]:
        s = self.config.stage1_sensitivity
        if validation is not None:
            Xv = np.asarray(validation[0], dtype=np.float64)
            yv = np.asarray(validation[1]).reshape(-1)
            if Xv.ndim != 2 or Xv.shape[1] != X.shape[1] or len(yv) != len(Xv) or not np.isfinite(Xv).all():
                raise ValueError(f"validation features must be finite (N, {X.shape[1]}) with N labels; "
                                 f"got {Xv.shape} and {len(yv)} labels")
            if (yv == 1).any():
                dv = stage1.decision_function(Xv)
                t = keep_sensitivity_threshold(dv, yv, s)
                return t, {"source": "validation", "tp_kept": float((dv[yv == 1] >= t).mean()),
                           "fp_kept": float((dv[yv == 0] >= t).mean()) if (yv == 0).any() else None}
        sample_groups = groups[rows1]
        n_folds = min(self.config.threshold_folds, len(np.unique(sample_groups)))
        if n_folds < 2:
            d = stage1.decision_function(X[rows1])
            return keep_sensitivity_threshold(d, y[rows1], s), {"source": "training rows (in-sample: one case)"}
        oof = np.empty(len(rows1))
        for fit_idx, out_idx in GroupKFold(n_splits=n_folds).split(rows1, y[rows1], sample_groups):
            fold_y = y[rows1[fit_idx]]
            if fold_y.min() == fold_y.max():  # a fold with one class cannot train; use the full model there
                oof[out_idx] = stage1.decision_function(X[rows1[out_idx]])
                continue
            model = svm_from_config(self.config, params).fit(X[rows1[fit_idx]], fold_y)
            oof[out_idx] = model.decision_function(X[rows1[out_idx]])
        return keep_sensitivity_threshold(oof, y[rows1], s), {"source": f"grouped {n_folds}-fold out-of-fold "
                                                                          "scores of training rows"}

    def stage1_score(self, features: np.ndarray) -> np.ndarray:
        """Stage-1 decision values alone (what the study calls the original model)."""
        X = self._check_fitted(features)
        return np.asarray(self.models_["stage1"].decision_function(X), dtype=np.float64) if len(X) else np.zeros(0)

    def _stage2(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.models_["stage2"].decision_function(X), dtype=np.float64)


class SvmCascade(_TwoStageSvm):
    """Two cascaded SVMs: stage 1 discards easy negatives, stage 2 ranks what passes."""

    name = "svm-cascade"
    description = "The study's two-stage cascaded RBF SVM: stage 1 keeps 98% of validation TPs, stage 2 ranks them."

    def score(self, features: np.ndarray) -> np.ndarray:
        X = self._check_fitted(features)
        d1 = self.stage1_score(X)
        threshold = float(self.info_["threshold"])
        out = expit(d1 - threshold)
        passed = d1 >= threshold
        if passed.any():
            second = self._stage2(X[passed]) if "stage2" in self.models_ else d1[passed] - threshold
            out[passed] = 1.0 + expit(second)
        return out


class SvmHardNegative(_TwoStageSvm):
    """Stage-2 SVM (trained on stage-1 positives: hard negatives and TPs) scoring every candidate."""

    name = "svm-hardneg"
    description = "The study's hard-negative fine-tuned SVM: a second SVM trained on stage-1 positives scores all."

    def score(self, features: np.ndarray) -> np.ndarray:
        X = self._check_fitted(features)
        if "stage2" not in self.models_ or len(X) == 0:
            return self.stage1_score(X)
        return self._stage2(X)
