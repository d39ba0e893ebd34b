"""Resumable jobs after a crash or an infrastructure fault: damaged results recomputed, one line for what failed."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from calcdet_core.errors import CalcdetUserError, InvalidInputError
from calcdet_core.run import executor
from calcdet_core.run.executor import SerialExecutor, make_executor, run_jobs


def square(context: int, item: int) -> dict[str, np.ndarray]:
    return {"value": np.array(context * item * item)}


def test_a_saved_result_cut_short_by_a_crash_is_computed_again_with_a_note(tmp_path, capsys):
    keys = ["a", "b", "c"]
    first = run_jobs(square, 2, [1, 2, 3], keys, tmp_path, SerialExecutor(), "jobs")
    damaged = tmp_path / "b.npz"
    damaged.write_bytes(damaged.read_bytes()[:40])  # kill -9 mid-write, as a crash without the atomic rename would
    again = run_jobs(square, 2, [1, 2, 3], keys, tmp_path, SerialExecutor(), "jobs")
    assert {k: int(v["value"]) for k, v in again.items()} == {k: int(v["value"]) for k, v in first.items()}
    err = capsys.readouterr().err
    assert "1 saved result(s)" in err and "damaged" in err and "computed again" in err
    assert int(executor.load_result(damaged)["value"]) == 8


def test_a_full_disk_is_one_line_saying_the_finished_results_are_kept(tmp_path, monkeypatch):
    saved = []

    def save(path, result):
        if saved:
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(path)
        np.savez(path, **result)

    monkeypatch.setattr(executor, "save_result", save)  # a disk that fills after the first result
    with pytest.raises(CalcdetUserError, match=r"No space left on device; the 1 finished before are kept"):
        run_jobs(square, 1, [1, 2], ["a", "b"], tmp_path, SerialExecutor(), "jobs")
    assert [p.name for p in saved] == ["a.npz"]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "no-such-scheme://x"])
def test_a_scheduler_that_cannot_be_reached_is_named(address):
    with pytest.raises(InvalidInputError, match=f"--scheduler {address}: cannot reach a Dask scheduler"):
        make_executor(scheduler=address)
