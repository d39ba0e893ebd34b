"""Worker processes share the machine's cores: processes times BLAS/OpenMP threads stays at most the core count."""

from __future__ import annotations

import os

import numpy as np
import pytest

from calcdet_core.run.executor import THREAD_VARIABLES, ProcessExecutor


def _thread_settings(_context: object, _item: int) -> dict[str, np.ndarray]:
    return {name: np.array(os.environ.get(name, "")) for name in THREAD_VARIABLES}


def _run(workers: int) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in result.items()}
            for _, result in ProcessExecutor(workers).run(_thread_settings, None, [0, 1])]


def test_each_worker_gets_its_share_of_the_cores(monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert all(settings == dict.fromkeys(THREAD_VARIABLES, share) for settings in _run(2))
    assert not any(name in os.environ for name in THREAD_VARIABLES), "the parent's environment is restored"


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "NUMBA_NUM_THREADS"])
def test_a_limit_the_user_set_is_kept(monkeypatch, name):
    monkeypatch.setenv(name, "7")
    assert all(settings[name] == "7" for settings in _run(2))
