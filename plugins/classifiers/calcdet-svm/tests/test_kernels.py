"""Matrix-product decision values equal libsvm's for every kernel the plugin builds."""

from __future__ import annotations

import numpy as np
import pytest
from calcdet_svm import kernels
from calcdet_svm.models import make_svm


@pytest.mark.parametrize(("kernel", "gamma"), [("rbf", 0.1), ("rbf", "scale"), ("poly", 0.5), ("linear", 0.1)])
def test_decision_values_equal_libsvm(kernel, gamma, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 12))
    y = (X[:, 0] + X[:, 1] ** 2 + 0.3 * rng.normal(size=400) > 1).astype(int)
    model = make_svm(kernel, 10.0, gamma, 3).fit(X, y)
    unseen = rng.normal(scale=1.5, size=(1000, 12))  # beyond the scaler's training range too
    monkeypatch.setattr(kernels, "BLOCK_BYTES", 8 * len(model[-1].support_vectors_) * 7)  # blocks of 7 rows
    np.testing.assert_allclose(kernels.decision_values(model, unseen), model.decision_function(unseen),
                               rtol=1e-9, atol=1e-9)


def test_decision_values_advance_the_progress_task():
    class Task:
        done = 0

        def advance(self, steps: int = 1) -> None:
            self.done += steps

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 2
    task = Task()
    kernels.decision_values(make_svm("rbf", 1.0, 0.1, 3).fit(X, y), X, task)
    assert task.done == 60


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_set_the_blas_pool_for_the_call(threads, monkeypatch):
    from threadpoolctl import threadpool_info

    seen = []
    kernel = kernels._kernel

    def recording(*args):
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return kernel(*args)

    monkeypatch.setattr(kernels, "_kernel", recording)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    kernels.decision_values(make_svm("rbf", 1.0, 0.1, 3).fit(X, y), X, threads=threads)
    assert seen and set(seen) == {threads}
