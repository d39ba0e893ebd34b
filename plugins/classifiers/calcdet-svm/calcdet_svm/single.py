"""One-model classifiers: plain SVM and random forest, the study's Table 2 alternatives."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from calcdet_core.api import TrainingContext, fit_threads, grow_forest, reporter_of, timed_step
from calcdet_svm.base import SkopsClassifier
from calcdet_svm.kernels import decision_values
from calcdet_svm.models import BalancedConfig, SvmConfig, check_forest_memory, train_svm, tuned_params
from calcdet_svm.persist import FOREST_TYPES, SVM_TYPES
from calcdet_svm.sampling import check_training_set, downsample


class Svm(SkopsClassifier):
    """One SVC on normalised features; score = its decision function."""

    name = "svm"
    description = "Single SVM (RBF, C=10, gamma=0.1 on min-max normalised features) on 1:10 balanced candidates."
    Config = SvmConfig
    config: SvmConfig
    MODEL_TYPES: ClassVar[dict[str, tuple[str, frozenset[str]]]] = {"svm": ("sklearn.pipeline.Pipeline", SVM_TYPES)}

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            validation: tuple[np.ndarray, np.ndarray] | None = None, context: TrainingContext | None = None) -> Svm:
        X, y = check_training_set(features, labels, groups)
        rng = np.random.default_rng(self.config.seed)
        params, tuning = tuned_params(X, y, np.asarray(groups), self.config, rng)
        model, sample = train_svm(X, y, np.asarray(groups), self.config, rng, params)
        self.models_ = {"svm": model}
        self.info_ = {"n_features": X.shape[1], "train": sample, "tuning": tuning}
        self._report(context)
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        X = self._check_fitted(features)
        if len(X) == 0:
            return np.zeros(0)
        return decision_values(self.models_["svm"], X)


class RandomForestConfig(BalancedConfig):
    """scikit-learn's defaults, as the study's untuned Table 2 comparison used."""

    n_estimators: int = Field(100, ge=1, le=10_000, description="Number of trees.")
    max_depth: int | None = Field(None, ge=1, le=1000, description="Maximum tree depth (None: grow fully).")
    min_samples_leaf: int = Field(1, ge=1, le=100_000, description="Minimum candidates per leaf.")

    @model_validator(mode="after")
    def _fits_in_memory(self) -> RandomForestConfig:
        check_forest_memory(("n_estimators", self.n_estimators), ("max_train_samples", self.max_train_samples),
                            self.min_samples_leaf, self.max_depth)
        return self


class RandomForest(SkopsClassifier):
    """Random forest on raw features; score = fraction of trees voting MC."""

    name = "random-forest"
    description = "Random forest (scikit-learn defaults) trained on 1:10 balanced candidates."
    Config = RandomForestConfig
    config: RandomForestConfig
    MODEL_TYPES: ClassVar[dict[str, tuple[str, frozenset[str]]]] = {
        "forest": ("sklearn.ensemble._forest.RandomForestClassifier", FOREST_TYPES)}

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            context: TrainingContext | None = None) -> RandomForest:
        from sklearn.ensemble import RandomForestClassifier

        X, y = check_training_set(features, labels, groups)
        rng = np.random.default_rng(self.config.seed)
        rows = downsample(y, self.config.negatives_per_positive, self.config.max_train_samples, rng)
        threads = fit_threads(context)
        forest = RandomForestClassifier(n_estimators=self.config.n_estimators, max_depth=self.config.max_depth,
                                        min_samples_leaf=self.config.min_samples_leaf,
                                        random_state=self.config.seed, n_jobs=threads)
        reporter = reporter_of(context)
        seconds: dict[str, dict[str, float]] = {}
        with timed_step(reporter, f"{self.name}: {self.config.n_estimators} trees on {len(rows)} rows",
                        self.config.n_estimators, seconds, "fit") as task:  # kept single-threaded for detection
            self.models_ = {"forest": grow_forest(forest, X[rows], y[rows], task).set_params(n_jobs=1)}
        self.info_: dict[str, Any] = {"n_features": X.shape[1],
                                      "train": {"rows": len(rows), "tp": int(y[rows].sum())}}
        self._report(context)
        reporter.record(seconds=seconds, threads=threads)
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        X = self._check_fitted(features)
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.models_["forest"].predict_proba(X)[:, 1], dtype=np.float64)
