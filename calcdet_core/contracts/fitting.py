"""How a component's ``fit`` uses the machine: threads from the run's ``--workers``, progress per step.

Shared by every plugin that fits scikit-learn models (plugins may import only
:mod:`calcdet_core.api`, so helpers several of them need live here, once). A fit runs in the
calcdet process while no per-image worker runs, so it may use as many threads as ``--workers``
asked for processes (never more than the cores this process may run on): processes times threads
stays at most the core count. Growing a forest a chunk of trees at a time (scikit-learn's
``warm_start``) draws the same per-tree seeds as one fit, so the trees, importances and votes do
not depend on the chunking or on the thread count; only the progress display does.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from calcdet_core.contracts.training import ProgressTask, Reporter, TrainingContext

TREE_CHUNKS = 10
"""Progress steps per forest (each a warm-started chunk of its trees)."""


def fit_threads(context: TrainingContext | None) -> int:
    """Threads for a fit in this process: the run's ``--workers``, at most this process's cores (1 without a run)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(context.workers if context is not None else 1, cores))


def reporter_of(context: TrainingContext | None) -> Reporter:
    """The run's reporter, or a bare one (records only) when ``fit`` is called without a context."""
    return context.reporter if context is not None else Reporter()


def grow_forest(forest: Any, X: np.ndarray, y: np.ndarray, task: ProgressTask | None = None) -> Any:
    """Fit a scikit-learn forest ``TREE_CHUNKS`` chunks at a time, advancing ``task`` by the trees of each chunk.

    The fitted forest is left with ``warm_start=False``, as a single ``fit`` leaves it.
    """
    total = forest.n_estimators
    chunk = max(1, -(-total // TREE_CHUNKS))
    forest.set_params(warm_start=True)
    for grown in range(chunk, total + chunk, chunk):
        forest.set_params(n_estimators=min(grown, total))
        with warnings.catch_warnings():  # every chunk sees the same rows, so class weights are the same
            warnings.filterwarnings("ignore", "class_weight presets", UserWarning)
            forest.fit(X, y)
        if task is not None:
            task.advance(min(chunk, total - (grown - chunk)))
    forest.set_params(warm_start=False)
    return forest


@contextmanager
def timed_step(reporter: Reporter, description: str, total: int | None, seconds: dict[str, dict[str, float]],
               name: str) -> Iterator[ProgressTask]:
    """A progress bar for one step; its wall and CPU seconds (all threads) land in ``seconds[name]``."""
    wall, cpu = time.perf_counter(), time.process_time()
    with reporter.progress(description, total=total) as task:
        yield task
    seconds[name] = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
