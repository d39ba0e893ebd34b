import pickle
import subprocess
import sys

import numpy as np
import pytest
from calcdet_example.fcn import FcnDetector, suppress
from calcdet_example.local_contrast import LocalContrastProposer

from calcdet_core.api import ImageStream, ProgressTask, Reporter, TrainingContext, build_component
from calcdet_core.testing import detector_streams, detector_test_image, parametrize_with_checks, write_detector_dataset


@parametrize_with_checks([LocalContrastProposer(), LocalContrastProposer(k=6.0, surround_radius=10), FcnDetector()])
def test_conformance(component, check):
    check(component)


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, calcdet_example.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class Recorder(Reporter):
    """Keeps what the detector reports: progress bars opened and steps advanced."""

    def __init__(self):
        super().__init__()
        self.bars, self.steps = [], 0

    def progress(self, description, total=None):
        self.bars.append((description, total))
        reporter = self

        class Task(ProgressTask):
            def advance(self, steps=1, **fields):
                reporter.steps += steps

        return Task()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, validation = detector_streams()
    context = TrainingContext(tmp_path_factory.mktemp("work"), seed=1, reporter=Recorder())
    return FcnDetector(epochs=6).fit(train, validation, context), context


def test_fit_reports_epochs_progress_and_checkpoints(trained):
    detector, context = trained
    history = context.reporter.history
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5, 6]
    assert all(set(row) == {"epoch", "loss", "val_loss"} for row in history)
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["val_loss"] < history[0]["val_loss"]
    assert [total for _, total in context.reporter.bars] == [5] * 6 and context.reporter.steps == 30
    assert context.reporter.facts["radius"] == pytest.approx(detector.radius_)
    assert context.last_checkpoint().epoch == 6


def test_trained_detector_finds_unseen_disks(trained):
    detector, _ = trained
    image = detector_test_image(seed=99)
    found = detector.detect(image.pixels, image.mask)
    best = found.subset(np.argsort(-found.score)[:3])
    for t in image.annotation.targets:
        assert np.hypot(best.x - t.x, best.y - t.y).min() <= 2.5


def test_a_rerun_with_every_epoch_checkpointed_trains_no_more(trained):
    detector, context = trained
    train, validation = detector_streams()
    again = FcnDetector(epochs=6).fit(train, validation, context)
    assert len(context.reporter.bars) == 6  # no epoch bar opened again
    for key, value in detector.weights_.items():
        np.testing.assert_array_equal(again.weights_[key], value)


def test_seed_changes_the_weights():
    train, validation = detector_streams()
    weights = [FcnDetector(epochs=1).fit(train, validation, TrainingContext.temporary(seed=s)).weights_
               for s in (0, 0, 1)]
    assert all(np.array_equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not np.array_equal(weights[0]["0.weight"], weights[2]["0.weight"])


def test_reading_workers_do_not_change_the_weights():
    train, validation = detector_streams()
    one, three = (FcnDetector(epochs=1).fit(train, validation, TrainingContext.temporary(seed=0, workers=w)).weights_
                  for w in (1, 3))
    assert all(np.array_equal(one[k], three[k]) for k in one)


def test_pickle_carries_numpy_weights_not_torch(trained):
    detector, _ = trained
    detector.detect(detector_test_image(seed=5).pixels)  # builds the torch net
    payload = pickle.dumps(detector)
    assert b"torch" not in payload
    assert len(payload) < 20_000


def test_load_state_refuses_weights_of_another_shape(trained, tmp_path):
    detector, _ = trained
    detector.save_state(tmp_path)
    with pytest.raises(ValueError, match=r"fcn\.safetensors: do not fit the network"):
        FcnDetector(channels=4).load_state(tmp_path)


def test_clear_errors_before_fit_and_without_targets(tmp_path):
    with pytest.raises(ValueError, match="before fit"):
        FcnDetector().detect(detector_test_image(seed=1).pixels)
    with pytest.raises(ValueError, match="nothing to save"):
        FcnDetector().save_state(tmp_path)
    normal = ImageStream.from_images([detector_test_image(seed=2, n_disks=0)])
    with pytest.raises(ValueError, match="no annotated MC"):
        FcnDetector().fit(normal, normal[:0], TrainingContext(tmp_path))


def test_suppression_keeps_the_best_of_close_peaks():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [50.0, 50.0]])
    kept = suppress(xy, np.array([0.5, 0.9, 0.4, 0.1]), 14.0)
    assert kept.tolist() == [1, 3]


def test_train_then_detect_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    truth = write_detector_dataset(data)
    (tmp_path / "fcn.yaml").write_text("name: fcn\ndetector: {plugin: example-fcn}\n")  # the defaults
    where = ["--dataset", "folder", "--root", str(data), "--device", "cpu"]

    def calcdet(*args):
        out = subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out

    trained = calcdet("train", str(tmp_path / "fcn.yaml"), *where, "--out", str(tmp_path / "model"))
    assert "epoch 8" in trained.stderr
    assert (tmp_path / "model" / "components" / "detector-example-fcn" / "fcn.safetensors").is_file()
    calcdet("detect", str(tmp_path / "model"), *where, "--split", "test", "--out", str(tmp_path / "found.csv"))
    lines = (tmp_path / "found.csv").read_text().splitlines()[1:]
    found = {}
    for line in lines:
        image_id, x, y, _, score = line.split(",")[:5]
        found.setdefault(image_id, []).append((float(x), float(y), float(score)))
    hits = total = 0
    # every MC of the test split counts, on an image without a detection too; in the stored grid (right breasts
    # mapped back through the flip)
    for record in build_component("datasets", "folder").index(data).select("test"):
        best = np.array(sorted(found.get(record.image_id, []), key=lambda r: -r[2])[:6]).reshape(-1, 3)[:, :2]
        for x, y in truth[record.image_id]:
            total += 1
            hits += bool(len(best)) and np.hypot(*(best - (x, y)).T).min() <= 3
    assert len(found) >= 4 and hits >= 0.8 * total, (hits, total)
