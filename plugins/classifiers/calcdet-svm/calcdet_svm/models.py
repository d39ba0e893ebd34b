"""The SVM configuration shared by every SVM classifier, model construction and case-grouped tuning.

scikit-learn is imported by the functions that build or search models, not here: the
configurations are read when calcdet starts (every command), the models only when one trains.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from calcdet_core.api import ComponentConfig, InvalidInputError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

APPENDIX_GRID: list[dict[str, list[Any]]] = [
    {"svc__kernel": ["linear"], "svc__C": [1.0, 10.0, 100.0]},
    {"svc__kernel": ["poly"], "svc__degree": [3, 5, 7, 10], "svc__C": [1.0, 10.0, 100.0]},
    {"svc__kernel": ["rbf"], "svc__gamma": [0.01, 0.1, 1.0, "scale"], "svc__C": [1.0, 10.0, 100.0]},
]
"""The study's Appendix 1 grid (its best: RBF, gamma 0.1, C 10)."""

TUNE_MAX_ITER = 200_000
"""Iteration cap for grid-search fits only: high-degree polynomial kernels may otherwise never converge."""

MAX_FOREST_BYTES = 64 * 2**30
"""Most memory a forest's trees may take at worst: a workstation's."""
_NODE_BYTES = 80
"""One node of a scikit-learn tree: its 64-byte record and two class counts."""


def check_forest_memory(trees: tuple[str, int], rows: tuple[str, int], min_leaf: int = 1,
                        max_depth: int | None = None) -> None:
    """Refuse a forest whose trees, grown as far as the settings allow, could outgrow :data:`MAX_FOREST_BYTES`.

    Why: tree count and training rows multiply; each is plausible alone, together they can ask for terabytes.
    ``trees`` and ``rows`` are (YAML key, value), named in the message.
    """
    nodes = 2 * rows[1] // min_leaf
    if max_depth is not None:
        nodes = min(nodes, 2 ** (max_depth + 1))
    need = trees[1] * nodes * _NODE_BYTES
    if need > MAX_FOREST_BYTES:
        raise ValueError(f"{trees[0]}={trees[1]} trees x {rows[0]}={rows[1]} rows may grow to about "
                         f"{need / 2**30:.0f} GiB of tree nodes, over {MAX_FOREST_BYTES // 2**30} GiB; lower either")


class BalancedConfig(ComponentConfig):
    """Sampling parameters every classifier here shares."""

    negatives_per_positive: float = Field(10.0, gt=0, le=1000, description="FP candidates kept per TP when training "
                                          "(the study balanced TP:FP 1:10 by downsampling).")
    max_train_samples: int = Field(6000, ge=20, le=1_000_000,
                                   description="Cap on training rows after balancing, ratio kept; kernel SVM training "
                                               "grows ~quadratically with rows, this keeps it to seconds.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the downsampling (and of the forest).")


class SvmConfig(BalancedConfig):
    """An SVC on normalised features; defaults are the study's tuned values."""

    scaling: Literal["minmax", "standard"] = Field(
        "minmax", description="Feature normalisation before the SVC, fitted on training rows: 'minmax' to [0, 1] "
        "(the study 'normalized' its features; its gamma 0.1 assumes such a range) or 'standard' (z-scores; with "
        "hundreds of features gamma 0.1 then makes every RBF kernel value ~0, so use gamma 'scale' with it).")
    kernel: Literal["rbf", "linear", "poly"] = Field("rbf", description="SVC kernel.")
    C: float = Field(10.0, gt=0, le=1_000_000, description="SVC regularisation C (study: 10).")
    gamma: Annotated[float, Field(gt=0, le=10_000)] | Literal["scale"] = Field(
        0.1, description="RBF/poly kernel coefficient on the normalised features, or 'scale' (study: 0.1).")
    degree: int = Field(3, ge=1, le=10, description="Polynomial kernel degree.")
    tune: bool = Field(False, description="Grid-search kernel, C, gamma and degree over the study's Appendix 1 "
                       "grid with case-grouped cross-validation (GroupKFold) before training.")
    tune_folds: int = Field(5, ge=2, le=20, description="Folds of the grouped cross-validation (study: 5).")
    tune_max_samples: int = Field(2000, ge=20, le=100_000,
                                  description="Rows (balanced) used by the grid search, to bound its 27 x folds "
                                              "fits.")
    tune_scoring: Literal["roc_auc", "average_precision"] = Field(
        "average_precision", description="Cross-validation score the grid search maximises (AUROC or AUPRC).")


def make_svm(kernel: str, C: float, gamma: float | str, degree: int, scaling: str = "minmax",
             max_iter: int = -1, class_weight: str | None = None) -> Pipeline:
    """Normalise then SVC. Scores are ``decision_function`` values (no Platt scaling: it costs an
    internal 5-fold fit and ranking, all a FROC needs, is unchanged)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC

    scaler = MinMaxScaler() if scaling == "minmax" else StandardScaler()
    return make_pipeline(scaler, SVC(kernel=kernel, C=C, gamma=gamma, degree=degree, cache_size=500,
                                     max_iter=max_iter, class_weight=class_weight))


def svm_from_config(config: SvmConfig, params: dict[str, Any] | None = None,
                    class_weight: str | None = None) -> Pipeline:
    chosen = {"kernel": config.kernel, "C": config.C, "gamma": config.gamma, "degree": config.degree}
    chosen.update(params or {})
    return make_svm(chosen["kernel"], chosen["C"], chosen["gamma"], chosen["degree"], config.scaling,
                    class_weight=class_weight)


def tune_svm(X: np.ndarray, y: np.ndarray, groups: np.ndarray, config: SvmConfig,
             class_weight: str | None = None, key: str = "tune") -> dict[str, Any]:
    """Best SVC parameters over the Appendix grid by case-grouped CV; returns them and the CV scores.

    ``key`` is the parameter that asked for the search, named when the candidates cannot support it.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, GroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise InvalidInputError(f"{key}: true grid-searches by case-grouped cross-validation, which needs "
                                f"candidates from at least 2 cases; got {n_groups} (train on more cases or set "
                                f"{key}: false)")
    base = make_svm("rbf", 1.0, "scale", 3, config.scaling, max_iter=TUNE_MAX_ITER, class_weight=class_weight)
    search = GridSearchCV(base, APPENDIX_GRID,
                          scoring=config.tune_scoring, cv=GroupKFold(n_splits=min(config.tune_folds, n_groups)),
                          n_jobs=1, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # capped fits are ranked by their CV score anyway
        search.fit(X, y, groups=groups)
    folds = min(config.tune_folds, n_groups)
    if not np.isfinite(search.best_score_):  # every grid point failed or scored nan: no fold split fits the data
        raise InvalidInputError(f"{key}: no grid point has a {config.tune_scoring} score by {folds}-fold case-grouped "
                                "cross-validation (a fold whose validation cases hold one class only leaves it "
                                f"undefined); lower tune_folds (now {config.tune_folds}) or train on more cases")
    best = {key.removeprefix("svc__"): value for key, value in search.best_params_.items()}
    table = [{**{k.removeprefix("svc__"): v for k, v in p.items()}, "score": float(s) if np.isfinite(s) else None}
             for p, s in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True)]
    return {"best": best, "best_score": float(search.best_score_), "scoring": config.tune_scoring,
            "folds": folds, "rows": len(y), "grid": table}


def train_svm(X: np.ndarray, y: np.ndarray, groups: np.ndarray, config: SvmConfig,
              rng: np.random.Generator, params: dict[str, Any] | None = None) -> tuple[Pipeline, dict[str, Any]]:
    """Fit an SVM on a 1:``negatives_per_positive`` balanced, capped sample of (X, y)."""
    from calcdet_svm.sampling import downsample

    rows = downsample(y, config.negatives_per_positive, config.max_train_samples, rng)
    model = svm_from_config(config, params).fit(X[rows], y[rows])
    return model, {"rows": len(rows), "tp": int(y[rows].sum()), "fp": int(len(rows) - y[rows].sum())}


def tuned_params(X: np.ndarray, y: np.ndarray, groups: np.ndarray, config: SvmConfig,
                 rng: np.random.Generator) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(best parameters, tuning report) when ``config.tune``; (None, None) otherwise."""
    if not config.tune:
        return None, None
    from calcdet_svm.sampling import downsample

    rows = downsample(y, config.negatives_per_positive, config.tune_max_samples, rng)
    report = tune_svm(X[rows], y[rows], np.asarray(groups)[rows], config)
    return report["best"], report
