"""A fitted SVM's decision values through matrix products instead of libsvm's row-by-row loop.

libsvm evaluates the kernel one candidate and one support vector at a time, on one core: with
thousands of support vectors and ~10,000 candidates per full-size mammogram, scoring took longer
than every feature extractor together. The decision function is ``K(x, SV) @ dual_coef + b``;
computing ``K`` a block of candidates at a time as one BLAS product gives the same values (to
rounding, ~1e-12) many times faster, on as many threads as BLAS is allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from calcdet_core.api import ProgressTask

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

BLOCK_BYTES = 64 * 2**20
"""Memory of one block's kernel matrix (candidates x support vectors, float64): bounds the peak."""


def _kernel(svc: SVC, X: np.ndarray, sv: np.ndarray, sv_sq: np.ndarray) -> np.ndarray:
    """libsvm's kernel between the rows of ``X`` and the support vectors."""
    dots = X @ sv.T
    if svc.kernel == "linear":
        return dots
    if svc.kernel == "poly":
        return (svc._gamma * dots + svc.coef0) ** svc.degree
    if svc.kernel == "rbf":
        sq = np.einsum("ij,ij->i", X, X)[:, None] + sv_sq[None, :] - 2.0 * dots
        return np.exp(-svc._gamma * np.maximum(sq, 0.0, out=sq), out=sq)
    raise ValueError(f"kernel {svc.kernel!r} has no matrix-product decision function here")


def decision_values(model: Pipeline, X: np.ndarray, task: ProgressTask | None = None,
                    threads: int | None = None) -> np.ndarray:
    """``model.decision_function(X)`` for a (scaler, binary SVC) pipeline, a block of rows at a time.

    ``task`` advances by each block's rows (for long scorings during training); ``threads`` sets
    the BLAS threads for the call (a fit's share of the cores; ``None`` keeps the process's limit).
    """
    if threads is None:
        return _decision_values(model, X, task)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        return _decision_values(model, X, task)


def _decision_values(model: Pipeline, X: np.ndarray, task: ProgressTask | None) -> np.ndarray:
    svc = model[-1]
    if len(svc.classes_) != 2:
        raise ValueError(f"decision_values scores binary SVMs; this one has {len(svc.classes_)} classes")
    scaled = np.asarray(model[:-1].transform(X), dtype=np.float64) if len(model) > 1 else np.asarray(X, np.float64)
    sv = np.asarray(svc.support_vectors_, dtype=np.float64)
    sv_sq = np.einsum("ij,ij->i", sv, sv)
    weights, bias = np.asarray(svc.dual_coef_[0], np.float64), float(svc.intercept_[0])
    out = np.empty(len(scaled), np.float64)
    block = max(1, BLOCK_BYTES // (8 * max(len(sv), 1)))
    for start in range(0, len(scaled), block):
        rows = scaled[start : start + block]
        out[start : start + len(rows)] = _kernel(svc, rows, sv, sv_sq) @ weights + bias
        if task is not None:
            task.advance(len(rows))
    return out
