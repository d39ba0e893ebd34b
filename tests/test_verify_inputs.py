"""Resuming on changed inputs: ``--verify-inputs`` stamps inputs by content, and training restarts on any change.

A saved per-image result is reused when its input's stamp matches. By default the stamp is the file's
size and modification time, so pixels rewritten under the same size and a restored mtime are reused
(as docs/running.md says); with ``--verify-inputs`` it is the file's SHA-256, and they are recomputed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.run.stamps import STAMPS_FILE, FileDigests, restart_if_inputs_changed
from tests import trainable_detector as td
from tests.fake_dists import trainable_test_env

PIPELINE = "name: gm-only\nproposer: {plugin: gm}\n"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return generate_release(tmp_path_factory.mktemp("release"), 3, seed=1, height=256, width=192)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "gm.yaml"
    path.write_text(PIPELINE)
    return path


def rewrite_pixels_keeping_size_and_mtime(target: Path, source: Path) -> None:
    """``target``'s pixel data (the end of an uncompressed file) replaced by ``source``'s; size and mtime kept."""
    before = target.stat()
    data, other = target.read_bytes(), source.read_bytes()
    header = pydicom.dcmread(target, stop_before_pixels=True)
    pixels = header.Rows * header.Columns * 2
    assert len(data) == before.st_size and data[-pixels:] != other[-pixels:]
    target.write_bytes(data[:-pixels] + other[-pixels:])
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def rows_of(csv: Path, image_id: str) -> list[str]:
    return [line for line in csv.read_text().splitlines() if line.startswith(f"{image_id},")]


@pytest.mark.parametrize("verify", [False, True])
def test_pixels_rewritten_under_the_same_size_and_mtime_are_recomputed_only_with_verify_inputs(
        pipeline, release, tmp_path, verify):
    app, runner = create_app(), CliRunner()
    first, second, third = sorted((release / "AllDICOMs").glob("*.dcm"))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    changed, broken = inputs / first.name, inputs / third.name
    changed.write_bytes(first.read_bytes())
    broken.write_bytes(third.read_bytes()[:-4000])  # pixel data cut short: this image fails, the other is kept
    out = tmp_path / "out" / "detections.csv"
    flag = ["--verify-inputs"] if verify else []
    detect = ["detect", str(pipeline), str(inputs), "--out", str(out), *flag]
    failed = runner.invoke(app, detect)
    assert failed.exit_code == 1 and "1 image(s) failed" in failed.output, failed.output
    (kept,) = out.parent.rglob("*.npz")
    stamp = json.loads(json.loads((kept.parent / STAMPS_FILE).read_text())[kept.stem])
    assert ("sha256" in stamp) is verify and ("mtime_ns" in stamp) is not verify

    old = runner.invoke(app, ["detect", str(pipeline), str(first), "--out", str(tmp_path / "old.csv")])
    new = runner.invoke(app, ["detect", str(pipeline), str(second), "--out", str(tmp_path / "new.csv")])
    assert old.exit_code == new.exit_code == 0
    old_rows, new_rows = rows_of(tmp_path / "old.csv", first.stem), rows_of(tmp_path / "new.csv", second.stem)
    new_rows = [row.replace(second.stem, first.stem, 1) for row in new_rows]
    assert old_rows != new_rows, "the two images give different detections"

    rewrite_pixels_keeping_size_and_mtime(changed, second)
    broken.write_bytes(third.read_bytes())
    resumed = runner.invoke(app, detect)
    assert resumed.exit_code == 0, resumed.output
    assert ("1 saved result(s)" in resumed.output) is verify, resumed.output
    assert rows_of(out, first.stem) == (new_rows if verify else old_rows)


def test_each_file_is_read_once_per_run_and_by_content(tmp_path):
    digests = FileDigests()
    path = tmp_path / "a.dcm"
    path.write_bytes(b"one")
    assert digests.of(path) == digests.of(tmp_path / "." / "a.dcm")
    path.write_bytes(b"two")
    assert digests.of(path) != FileDigests().of(path), "a run remembers the digest it took; the next reads again"


def test_training_work_restarts_on_any_changed_added_or_removed_input(tmp_path):
    work = tmp_path / "work"
    assert not restart_if_inputs_changed(work, {"a": "1"}), "nothing saved yet"
    (work / "fit" / "detector" / "checkpoints").mkdir(parents=True)
    (work / "fit" / "detector" / "checkpoints" / "last.json").write_text('{"epoch": 1}')
    assert restart_if_inputs_changed(work, {"a": "1"}), "work without recorded inputs is stale"
    for stamps, restarted in (({"a": "1", "b": "1"}, False), ({"a": "2", "b": "1"}, True), ({"a": "1"}, True),
                              ({"a": "1", "b": "1", "c": "1"}, True)):
        (work / "fit").mkdir(parents=True, exist_ok=True)
        (work / "fit" / "last.json").write_text('{"epoch": 1}')
        (work / STAMPS_FILE).write_text(json.dumps({"a": "1", "b": "1"}))
        assert restart_if_inputs_changed(work, stamps) is restarted, stamps
        assert (work / "fit" / "last.json").exists() is not restarted


# --------------------------------------------------------------------------- a killed training run, resumed


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return trainable_test_env(tmp_path_factory.mktemp("site"))


def killed_after_epoch_1(env: dict[str, str], args: list[str], out: Path, log: Path) -> None:
    with log.open("w") as stderr:
        run = subprocess.Popen([sys.executable, "-m", "calcdet_core", *args], stdout=subprocess.DEVNULL,
                               stderr=stderr, env={**env, td.HOLD_ENV: "1"})
        deadline = time.monotonic() + 120
        while not list(out.glob("work/*/fit/detector/checkpoints/last.json")) and run.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint after epoch 1"
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert run.returncode == -signal.SIGKILL, log.read_text()


@pytest.mark.parametrize(("verify", "change", "afresh"), [
    (False, "pixels and mtime", True),  # an ordinary change; before, the detector's checkpoint was resumed
    (True, "mtime", False),  # the same content touched: resumed, so training stamps by content (seen in detect)
])
def test_a_training_resume_after_an_input_changed_starts_afresh(env, tmp_path, verify, change, afresh):
    root = generate_release(tmp_path / "release", 8, seed=1, height=192, width=144)
    (tmp_path / "pipeline.yaml").write_text("name: t\ndetector: {plugin: threshold-test, params: {epochs: 2}}\n")
    out = tmp_path / "model"
    args = ["train", str(tmp_path / "pipeline.yaml"), "--dataset", "inbreast", "--root", str(root), "--out", str(out),
            "--device", "cpu", *(["--verify-inputs"] if verify else [])]
    killed_after_epoch_1(env, args, out, tmp_path / "first.txt")
    files = sorted((root / "AllDICOMs").glob("*.dcm"))  # the first is a train image of seed 0's split
    if "pixels" in change:
        rewrite_pixels_keeping_size_and_mtime(files[0], files[1])
    if "mtime" in change:
        os.utime(files[0], ns=(time.time_ns(), time.time_ns()))
    second = subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, env=env,
                            timeout=300)
    assert second.returncode == 0, second.stderr
    assert ("training starts afresh" in second.stderr) is afresh, second.stderr
    assert ("resuming after epoch 1" in second.stderr) is not afresh, second.stderr
    epochs = [int(n) for n in re.findall(r"^detector: epoch (\d+)\b", second.stderr, flags=re.M)]
    assert epochs == ([1, 2] if afresh else [2])
