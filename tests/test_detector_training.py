"""A trainable detector through the engine and the CLI: lazy streams, checkpoints, resume, seeds, devices, batches.

The detector and dataset are ``tests/trainable_detector.py``, installed for the subprocess runs as the
entry point of a distribution on the path, and registered with ``extra_plugins`` in this process.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.contracts.training import ImageStream, TrainingContext
from calcdet_core.io.arrays import load_arrays
from calcdet_core.io.detections_csv import read_detections_csv
from calcdet_core.io.model_dir import load_model, save_model
from calcdet_core.plugins.registry import build_registry
from calcdet_core.run.detection import run_detection
from calcdet_core.run.executor import ProcessExecutor, SerialExecutor
from calcdet_core.run.pipeline import PreprocessSpec, build_pipeline
from calcdet_core.run.sources import ImageSource
from calcdet_core.run.training import train_pipeline, training_stream
from calcdet_core.testing import add_disks
from tests import trainable_detector as td
from tests.fake_dists import trainable_test_env

PIPELINE = "name: threshold\ndetector: {plugin: threshold-test, params: {epochs: 3, batch_size: 2}}\n"


# --------------------------------------------------------------------------- running calcdet as a user does


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return trainable_test_env(tmp_path_factory.mktemp("site"))


def calcdet(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True,
                          env={**env, **extra}, timeout=600)


def train_args(folder: Path, root: Path, out: Path) -> list[str]:
    return ["train", str(folder / "pipeline.yaml"), "--dataset", "synthetic-test", "--root", str(root),
            "--out", str(out), "--device", "cpu"]


def epoch_lines(stderr: str) -> list[int]:
    return [int(n) for n in re.findall(r"^detector: epoch (\d+)\b", stderr, flags=re.M)]


def learned_level(model: Path) -> float:
    (state,) = model.glob(f"components/*/{td.STATE_FILE}")
    return float(load_arrays(state)["level"][0])


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path]:
    """A pipeline file and a 12-image synthetic dataset (4 train, 2 validation images)."""
    folder = tmp_path_factory.mktemp("study")
    (folder / "pipeline.yaml").write_text(PIPELINE)
    return folder, td.write_dataset(folder / "data", 12, 160)


@pytest.fixture(scope="module")
def trained(env, study) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder, root = study
    out = folder / "model"
    return out, calcdet(env, *train_args(folder, root, out))


def test_train_writes_history_and_a_summary_that_fits_a_detector(trained):
    model, run = trained
    assert run.returncode == 0, run.stderr
    assert f"trained {model}" in run.stdout and "3 epoch(s)" in run.stdout
    assert epoch_lines(run.stderr) == [1, 2, 3]
    history = json.loads((model / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["val_sensitivity"] > 0.5
    assert history[-1]["val_fp_per_image"] < history[0]["val_fp_per_image"], "the level was learned"
    assert (model / "history.png").read_bytes().startswith(b"\x89PNG")
    files = json.loads((model / "checksums.json").read_text())["files"]
    assert {"history.json", "history.png"} <= set(files)
    metrics = json.loads((model / "training_metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["best_epoch"] in (1, 2, 3) and metrics["device"] == "cpu"
    assert metrics["train"]["images"] == metrics["detector"]["train_images"] > 0
    assert metrics["final"]["level"] == pytest.approx(learned_level(model))
    assert not (model / "work").exists()


def test_detect_from_the_cli_writes_boxes_in_the_stored_grid(env, trained, study, tmp_path):
    model, _ = trained
    _, root = study
    out = tmp_path / "detections.csv"
    run = calcdet(env, "detect", str(model), "--dataset", "synthetic-test", "--root", str(root), "--split", "test",
                  "--out", str(out), "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert out.read_text().splitlines()[0] == "image_id,x,y,radius,score,x0,y0,x1,y1,finding"
    found = read_detections_csv(out)
    truth = {f"img{i:03d}": td.synthetic_truth(i, 160) for i in range(12)}
    for dets in found.values():
        assert dets.boxes is not None and (dets.boxes[:, 0] <= dets.x).all() and (dets.x <= dets.boxes[:, 2]).all()
    split = [record.image_id for record in td.SyntheticDataset().index(root).select("test")]
    hits = total = 0
    for image_id in split:  # every MC of the split counts, on an image with no detection too
        total += len(truth[image_id])
        if image_id in found:
            dets = found[image_id]
            hits += sum(bool((np.hypot(dets.x - x, dets.y - y) <= td.MATCH_PX).any()) for x, y in truth[image_id])
    assert split and hits >= 0.8 * total, f"the learned level finds {hits} of {total} MCs in the stored grid"


def test_an_unknown_device_is_a_clear_error(study, trained, tmp_path):
    folder, root = study
    model, _ = trained
    dataset = ["--dataset", "synthetic-test", "--root", str(root)]
    for command in (["train", str(folder / "pipeline.yaml"), *dataset, "--out", str(tmp_path / "m")],
                    ["detect", str(model), *dataset, "--out", str(tmp_path / "d.csv")],
                    ["evaluate", str(model), *dataset, "--out", str(tmp_path / "e")]):
        result = CliRunner().invoke(create_app(), [*command, "--device", "bogus"])
        assert result.exit_code == 2, result.output
        assert "'bogus'" in result.output and "cuda:N" in result.output
    assert not any(tmp_path.iterdir()), "nothing runs"


def test_interrupted_training_resumes_after_the_last_finished_epoch(env, study, trained, tmp_path):
    folder, root = study
    out = tmp_path / "model"
    with (tmp_path / "stderr-1.txt").open("w") as log:
        first = subprocess.Popen([sys.executable, "-m", "calcdet_core", *train_args(folder, root, out)],
                                 stdout=subprocess.DEVNULL, stderr=log, env={**env, td.HOLD_ENV: "1"})
        deadline = time.monotonic() + 300
        while not list(out.glob("work/*/fit/detector/checkpoints/last.json")) and first.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint after epoch 1"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL and not (out / "checksums.json").exists()
    assert epoch_lines((tmp_path / "stderr-1.txt").read_text()) == [1]

    second = calcdet(env, *train_args(folder, root, out))
    assert second.returncode == 0, second.stderr
    assert "resuming after epoch 1" in second.stderr
    assert epoch_lines(second.stderr) == [2, 3], "epochs continue, they do not restart"
    assert [row["epoch"] for row in json.loads((out / "history.json").read_text())] == [1, 2, 3]
    assert json.loads((out / "training_metrics.json").read_text())["resumed_from_epoch"] == 1
    uninterrupted, _ = trained
    assert learned_level(out) == learned_level(uninterrupted)
    assert json.loads((out / "history.json").read_text()) == json.loads((uninterrupted / "history.json").read_text())


TRACED_CALCDET = """
import sys, tracemalloc
from importlib.metadata import entry_points
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot  # history.png's

from calcdet_core.cli.app import main

for plugin in entry_points(group="calcdet"):
    plugin.load()
peak_file, sys.argv = Path(sys.argv[1]), ["calcdet", *sys.argv[2:]]
tracemalloc.start()  # after the imports (plugins, torch, matplotlib): traced, they take longer than training
try:
    main()
finally:
    peak_file.write_text(str(tracemalloc.get_traced_memory()[1]))
"""
"""``calcdet ARGS`` that writes to a file the peak of the memory it allocated (Python objects and numpy arrays)."""


def peak_traced_mb(env: dict[str, str], args: list[str], peak_file: Path) -> float:
    """Peak of what one ``calcdet`` process allocated, as tracemalloc counts it: the bytes asked for, whatever
    the allocator keeps resident, so the figure is the same on an idle and on a loaded machine."""
    done = subprocess.run([sys.executable, "-c", TRACED_CALCDET, str(peak_file), *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return int(peak_file.read_text()) / 2**20


def test_training_memory_does_not_grow_with_the_number_of_images(env, tmp_path):
    """8 then 32 training images of 768 x 768 px: holding the 24 more would take 54 MB (float32); the peak
    of what training allocates may grow by a quarter of that at most (per-image records, results, samples)."""
    (tmp_path / "pipeline.yaml").write_text("name: one\ndetector: {plugin: threshold-test, params: {epochs: 1}}\n")
    peaks, trained = {}, {}
    for images in (24, 96):  # the train split holds a third of the patients
        root = td.write_dataset(tmp_path / f"data-{images}", images, 768)
        args = train_args(tmp_path, root, tmp_path / f"model-{images}")
        peaks[images] = peak_traced_mb(env, args, tmp_path / f"peak-{images}")
        metrics = json.loads((tmp_path / f"model-{images}" / "training_metrics.json").read_text())
        trained[images] = metrics["train"]["images"]
        assert abs(trained[images] - images / 3) <= 2
    held_mb = (trained[96] - trained[24]) * 768 * 768 * 4 / 2**20
    assert peaks[96] - peaks[24] <= held_mb / 4, (
        f"peak allocated {peaks[24]:.1f} MB with {trained[24]} training images, {peaks[96]:.1f} MB with "
        f"{trained[96]}: it grows with the images (holding the extra ones would add {held_mb:.0f} MB)")


# --------------------------------------------------------------------------- in this process


@pytest.fixture(scope="module")
def registry():
    return build_registry(extra_plugins=[("calcdet-trainable-test", td)], autoload=False)


def detector_pipeline(registry, **params):
    return build_pipeline({"name": "threshold", "detector": {"plugin": "threshold-test", "params": params}},
                          registry=registry)


@pytest.fixture(scope="module")
def records():
    return td.synthetic_records(12, 160)


def test_same_seed_same_learned_state(registry, records, tmp_path):
    levels = []
    for run, seed in enumerate((3, 3, 4)):
        pipeline = detector_pipeline(registry)
        train_pipeline(pipeline, ImageSource(records[:6]), ImageSource(records[6:9]), SerialExecutor(),
                       tmp_path / f"work-{run}", seed=seed)
        model = save_model(tmp_path / f"model-{run}", pipeline, {}, registry=registry)
        levels.append(learned_level(model))
    assert levels[0] == levels[1]
    assert levels[2] != levels[0], "the seed draws the background samples"


def test_the_stream_reads_preprocessed_images_one_at_a_time_and_pickles(records):
    import pickle

    stream = training_stream(ImageSource(records[:3]), PreprocessSpec())
    assert stream.image_ids == ["img000", "img001", "img002"]
    assert stream.entries[0].annotation == records[0].annotation  # stored grid
    image = pickle.loads(pickle.dumps(stream))[1]
    strip = 160 // 8
    assert image.pixels.shape == (160, 160 - strip) and image.pixels.dtype == np.float32
    assert image.mask is not None and image.mask.all() and image.spacing_mm == (0.07, 0.07)
    assert image.annotation.targets[0].x == pytest.approx(records[1].annotation.targets[0].x - strip)
    assert (image.image_id, image.patient_id) == ("img001", "p001")


def test_the_detector_learns_through_a_plain_context(records):
    """What a notebook does: fit on streams with a temporary context, no engine."""
    detector = td.ThresholdDetector(epochs=2)
    context = TrainingContext.temporary(seed=1)
    images = [training_stream(ImageSource(records[i:i + 1]), PreprocessSpec())[0] for i in range(6)]
    detector.fit(ImageStream.from_images(images[:4]), ImageStream.from_images(images[4:]), context)
    assert [row["epoch"] for row in context.reporter.history] == [1, 2]
    assert context.last_checkpoint() is not None and context.reporter.facts["best_epoch"] in (1, 2)
    image = add_disks(np.full((64, 64), 0.3), [(30.0, 20.0, 2.0, 0.3)])
    found = detector.detect(image.astype(np.float32))
    assert len(found) and np.hypot(found.x[0] - 30, found.y[0] - 20) <= 1


def test_batched_detection_equals_one_by_one_and_places_the_detector(registry, records, tmp_path, monkeypatch):
    single = detector_pipeline(registry, epochs=2)
    train_pipeline(single, ImageSource(records[:6]), ImageSource(records[6:8]), SerialExecutor(), tmp_path / "w")
    model = save_model(tmp_path / "model", single, {}, registry=registry)
    batched = load_model(model, registry=registry)
    batched.detector = td.ThresholdDetector(epochs=2, batch_size=3)
    batched.detector.load_state(next((model / "components").iterdir()))
    calls = []
    original = td.ThresholdDetector.detect_batch
    monkeypatch.setattr(td.ThresholdDetector, "detect_batch",
                        lambda self, images, masks: calls.append(len(images)) or original(self, images, masks))
    source = ImageSource(records[8:12] + records[:3])
    one = run_detection(single, source, SerialExecutor(), tmp_path / "one", device="cpu")
    many = run_detection(batched, source, SerialExecutor(), tmp_path / "many", device="cpu")
    assert calls == [3, 3, 1] and batched.detector.device_ == "cpu"
    assert len(list((tmp_path / "many").glob("*.npz"))) == len(source.records), "saved per image, for resume"
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a.detections.xyr, b.detections.xyr)
        np.testing.assert_array_equal(a.detections.boxes, b.detections.boxes)
    again = run_detection(batched, source, ProcessExecutor(2), tmp_path / "parallel")
    for a, b in zip(one, again, strict=True):
        np.testing.assert_array_equal(a.detections.boxes, b.detections.boxes)


def test_a_trainable_component_that_saves_nothing_is_refused_at_save_time(records, tmp_path):
    class Forgetful:
        calcdet_contract = 2

        @staticmethod
        @td.hookimpl
        def calcdet_register_detectors():
            return [td.ForgetfulDetector]

    registry = build_registry(extra_plugins=[("calcdet-forgetful-test", Forgetful())], autoload=False)
    pipeline = build_pipeline({"name": "forgetful", "detector": {"plugin": "forgetful-test"}}, registry=registry)
    train_pipeline(pipeline, ImageSource(records[:4]), ImageSource(records[4:6]), SerialExecutor(), tmp_path / "w")
    with pytest.raises(ValueError, match=r"detector: trainable detector 'forgetful-test' .*wrote no file"):
        save_model(tmp_path / "model", pipeline, {}, registry=registry)
    assert list((tmp_path / "model").iterdir()) == [], "nothing half-written"


def test_the_console_reporter_keeps_its_history_for_a_resumed_run(tmp_path):
    from io import StringIO

    from rich.console import Console

    from calcdet_core.run.reporting import ConsoleReporter

    screen = StringIO()
    first = ConsoleReporter(tmp_path, "detector", Console(file=screen, width=200))
    with first.progress("epoch 1/2", total=2) as task:
        task.advance(loss=0.5)
        task.advance(loss=0.25)
    first.log_epoch(1, loss=0.25, val_sensitivity=0.5)
    assert "detector: epoch 1  loss 0.25  val_sensitivity 0.5" in screen.getvalue()
    again = ConsoleReporter(tmp_path, "detector", Console(file=StringIO()))
    assert again.history == [{"epoch": 1, "loss": 0.25, "val_sensitivity": 0.5}]


def test_a_diverged_figure_is_saved_as_null_not_lost(registry, records, tmp_path):
    pipeline = detector_pipeline(registry, epochs=1)
    train_pipeline(pipeline, ImageSource(records[:4]), ImageSource(records[4:6]), SerialExecutor(), tmp_path / "w")
    history = [{"epoch": 1, "loss": float("nan")}, {"epoch": 2, "loss": 0.5}]
    model = save_model(tmp_path / "model", pipeline, {"final": {"loss": float("inf")}}, registry=registry,
                       history=history)
    assert json.loads((model / "history.json").read_text())[0]["loss"] is None
    assert json.loads((model / "training_metrics.json").read_text())["final"]["loss"] is None
    load_model(model, registry=registry)
