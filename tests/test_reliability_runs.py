"""Runs that must not silently reuse, lose or leave behind anything: stale resumes, two runs on one --out,
outputs of the wrong kind, workers whose parent was killed. Real `calcdet` processes on tiny phantom releases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.run.locks import OutputLock, OutputLocked, lock_path
from calcdet_core.run.stamps import STAMPS_FILE, refresh_work

PIPELINE = "name: gm-only\nproposer: {plugin: gm}\n"
REPO = Path(__file__).resolve().parents[1]


def calcdet(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200"), timeout=120)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "gm.yaml"
    path.write_text(PIPELINE)
    return path


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return generate_release(tmp_path_factory.mktemp("release"), 4, seed=1, height=256, width=192)


def dicoms(root: Path) -> list[Path]:
    return sorted((root / "AllDICOMs").glob("*.dcm"))


def test_stale_resume_recomputes_results_of_other_inputs(pipeline, tmp_path):
    """A run that failed, rerun on another dataset with the same image ids, must not reuse the old results."""
    first = generate_release(tmp_path / "first", 4, seed=1, height=256, width=192)
    second = generate_release(tmp_path / "second", 4, seed=1, height=320, width=224)  # same ids, other pixels
    assert [p.name for p in dicoms(first)] == [p.name for p in dicoms(second)]
    broken = dicoms(first)[0]
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size - 4000])  # pixel data cut short: that image fails
    out = tmp_path / "out" / "detections.csv"
    failed = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", first, "--out", out)
    assert failed.returncode == 1 and "1 image(s) failed" in failed.stderr, failed.stderr
    assert len(list((tmp_path / "out").rglob("*.npz"))) == 3  # the finished images are kept for a resume

    resumed = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", second, "--out", out)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 saved result(s)" in resumed.stderr and "computing them again" in resumed.stderr
    fresh = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", second, "--out", tmp_path / "fresh.csv")
    assert fresh.returncode == 0, fresh.stderr
    assert out.read_text() == (tmp_path / "fresh.csv").read_text()
    assert not (tmp_path / "out" / "detections.csv.work").exists() and not lock_path(out).exists()


def test_a_changed_file_invalidates_its_saved_result_only(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for key in ("a", "b"):
        (work / f"{key}.npz").write_bytes(b"result")
    (work / "sub").mkdir()
    (work / "sub" / "a.npz").write_bytes(b"result")
    assert refresh_work(work, {"a": "1", "b": "1"}) == ["a", "b"]  # no stamps recorded yet: nothing is trusted
    for key in ("a", "b"):
        (work / f"{key}.npz").write_bytes(b"result")
    (work / "sub" / "a.npz").write_bytes(b"result")
    assert refresh_work(work, {"a": "2", "b": "1"}) == ["a"]
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*.npz")) == ["b.npz"]
    assert json.loads((work / STAMPS_FILE).read_text()) == {"a": "2", "b": "1"}


HOLD_LOCK = """
import sys
from calcdet_core.run.locks import OutputLock
lock = OutputLock(sys.argv[1]).acquire()
print("held", flush=True)
sys.stdin.read()
"""
"""Holds the lock until killed or its stdin is closed (the test's end, however it ends): no duration to outlast."""


def test_second_run_on_the_same_out_is_refused_and_a_dead_holder_is_taken_over(pipeline, release, tmp_path):
    out = tmp_path / "detections.csv"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", release, "--out", out)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"pid {holder.pid} on {os.uname().nodename}" in second.stderr and "started" in second.stderr
        assert not out.exists() and not out.with_name(out.name + ".work").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_path(out).exists()  # left by the killed run: stale, and taken over
    third = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", release, "--out", out)
    assert third.returncode == 0, third.stderr
    assert out.is_file() and not lock_path(out).exists()


def test_two_locks_in_one_process_and_release(tmp_path):
    out = tmp_path / "run"
    with OutputLock(out), pytest.raises(OutputLocked, match=r"in use by another calcdet run \(pid \d+"):
        OutputLock(out).acquire()
    with OutputLock(out):  # released: free again
        pass


def test_only_this_runs_work_is_deleted(pipeline, release, tmp_path):
    out = tmp_path / "detections.csv"
    other = out.with_name(out.name + ".work") / "other-model"
    other.mkdir(parents=True)
    (other / "x.npz").write_bytes(b"someone else's")
    done = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", release, "--out", out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.parent.rglob("*") if p.is_file()) == ["detections.csv", "x.npz"]


@pytest.fixture(scope="module")
def app():
    return create_app()


def test_outputs_of_the_wrong_kind_are_refused_before_any_work(app, pipeline, release, tmp_path):
    runner = CliRunner()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = runner.invoke(app, ["detect", str(pipeline), "--dataset", "inbreast", "--root", str(release),
                                 "--out", str(folder)])
    assert result.exit_code == 1 and "--out" in result.output and "is a folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == [folder] and not any(folder.iterdir())

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = runner.invoke(app, ["detect", str(pipeline), "--dataset", "inbreast", "--root", str(release),
                                 "--out", str(tmp_path / "d.csv"), "--overlay", str(a_file)])
    assert result.exit_code == 1 and "--overlay" in result.output and "is a file" in result.output
    result = runner.invoke(app, ["evaluate", str(pipeline), "--dataset", "inbreast", "--root", str(release),
                                 "--out", str(a_file)])
    assert result.exit_code == 1 and "is a file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["out-is-the-dicom", "out-replaces-the-table", "sr-into-the-inputs",
                                  "overlay-into-the-root", "evaluate-into-the-model"])
def test_an_output_is_never_an_input_or_inside_one(app, pipeline, release, tmp_path, case):
    dicom = dicoms(release)[0]
    before = _snapshot(release)
    args = {
        "out-is-the-dicom": ["detect", pipeline, dicom, "--out", dicom],
        "out-replaces-the-table": ["detect", pipeline, "--dataset", "inbreast", "--root", release,
                                   "--out", release / "INbreast.csv"],
        "sr-into-the-inputs": ["detect", pipeline, release / "AllDICOMs", "--out", tmp_path / "d.csv",
                               "--dicom-sr", release / "AllDICOMs"],
        "overlay-into-the-root": ["detect", pipeline, "--dataset", "inbreast", "--root", release,
                                  "--out", tmp_path / "d.csv", "--overlay", release / "overlays"],
        "evaluate-into-the-model": ["evaluate", pipeline, "--dataset", "inbreast", "--root", release,
                                    "--out", release / "AllXML"],
    }[case]
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 1 and "never writes over or into its inputs" in result.output, result.output
    assert _snapshot(release) == before, "the input is exactly as it was"
    assert not any(tmp_path.iterdir()), "nothing was written anywhere"


def test_a_release_is_never_written_into_another(release, tmp_path):
    target = tmp_path / "existing"
    generate_release(target, 2, seed=3, height=128, width=96)
    before = _snapshot(target)
    done = calcdet("phantom", target, "--images", "2", "--seed", "5", "--height", "128", "--width", "96")
    assert done.returncode == 1 and "not an empty folder" in done.stderr, done.stderr
    assert _snapshot(target) == before


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched(pipeline, release, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    out = tmp_path / "det.csv"
    lock_path(out).symlink_to(victim)
    done = calcdet("detect", pipeline, "--dataset", "inbreast", "--root", release, "--out", out)
    assert done.returncode == 1 and "symbolic link" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert victim.read_text() == "keep me" and lock_path(out).is_symlink() and not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output_folder_is_refused_with_a_message(app, pipeline, release, tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = CliRunner().invoke(app, ["detect", str(pipeline), "--dataset", "inbreast", "--root", str(release),
                                          "--out", str(locked / "sub" / "d.csv")])
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 1 and "permission denied" in result.output


ORPHANS = """
import os, sys, time
from pathlib import Path

from calcdet_core.run.executor import ProcessExecutor


def job(context, item):
    Path(context, f"{os.getpid()}.pid").write_text("")
    while not Path(context, "stop").exists():  # the test's end, however it ends; else killed with the parent
        time.sleep(0.1)
    return {}


if __name__ == "__main__":
    for _ in ProcessExecutor(2).run(job, sys.argv[1], [0, 1]):
        pass
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "orphans.py"
    script.write_text(textwrap.dedent(ORPHANS))
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=REPO)
    workers: list[int] = []
    try:
        try:
            deadline = time.monotonic() + 600  # bounds a broken run only: the wait ends when both workers are up
            while len(list(tmp_path.glob("*.pid"))) < 2 and parent.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
            assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        finally:
            parent.send_signal(signal.SIGKILL)
            parent.wait()
        deadline = time.monotonic() + 120
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if _alive(pid)]
        for pid in left:  # do not leave them behind if the check failed
            os.kill(pid, signal.SIGKILL)
        assert not left
    finally:
        (tmp_path / "stop").touch()  # a worker that started late or survived stops waiting
