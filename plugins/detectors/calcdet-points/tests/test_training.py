"""point-heatmap training: finds bright spots after a short fit, selects on validation FROC AUC, says when it has
not learned, resumes to identical weights, refuses weights of another architecture, validates its pipelines."""

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from calcdet_points.detector import PointDetector
from calcdet_points.inference import Inference
from calcdet_points.mining import false_peaks
from calcdet_points.net import build_net
from calcdet_points.train import mined
from calcdet_torch.state import load_module_arrays

from calcdet_core.api import TrainingContext, load_pipeline
from calcdet_core.testing import RecordingReporter, detector_streams, detector_test_image

SMALL = {"widths": (4, 8, 16), "window": 64, "windows_per_image": 8, "epochs": 4, "learning_rate": 0.01,
         "froc_images": 2}
ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def trained():
    train, validation = detector_streams(normal_validation=True)
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    return PointDetector(**SMALL).fit(train, validation, context), context


def test_a_short_training_finds_unseen_bright_spots(trained):
    detector, _ = trained
    found = total = 0
    for seed in (50, 51, 52):
        image = detector_test_image(seed)
        out = detector.detect(image.pixels, image.mask)
        top = out.subset(np.argsort(-out.score, kind="stable")[: len(image.annotation.targets)])
        for t in image.annotation.targets:
            total += 1
            found += bool(len(top)) and np.hypot(top.x - t.x, top.y - t.y).min() <= 2.0
    assert found >= total - 1, f"{found} of {total} unseen disks among the N best detections within 2 px"


def test_the_best_epoch_is_the_one_with_the_highest_validation_froc_auc(trained):
    _, context = trained
    history, facts = context.reporter.history, context.reporter.facts
    aucs = [h["val_froc_auc"] for h in history]  # a normal validation image: measured every epoch
    assert len(aucs) == 4 and all(0 <= a <= 1 for a in aucs)
    assert facts["best_epoch"] == 1 + int(np.argmax(aucs))  # first of equals: later ones must beat it by min_delta
    assert facts["best_val_froc_auc"] == max(aucs) and facts["learned"] is True
    assert not any("WARNING" in m for m in context.reporter.messages)


def test_a_training_that_learned_nothing_says_so():
    train, validation = detector_streams(normal_validation=True)
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    PointDetector(**{**SMALL, "epochs": 1, "learning_rate": 1e-9, "threshold": 0.5}).fit(train, validation, context)
    assert context.reporter.facts["learned"] is False
    assert any("has not learned to find MCs" in m for m in context.reporter.messages), context.reporter.messages


@pytest.mark.parametrize("extra", [{}, {"hard_share": 0.5, "weight_average": 0.9}], ids=["plain", "mined-averaged"])
def test_resume_from_a_checkpoint_gives_identical_weights(tmp_path, extra):
    """Also with hard windows mined by the net being trained and a moving average of its weights kept."""
    train, validation = detector_streams(normal_validation=True)
    settings = {**SMALL, **extra}

    class Interrupted(Exception):
        pass

    class StopAfterTwo(TrainingContext):
        saved: ClassVar[list[int]] = []

        def save_checkpoint(self, epoch, arrays, state=None):
            path = super().save_checkpoint(epoch, arrays, state)
            self.saved.append(epoch)
            if epoch == 2 and len(self.saved) == 2:
                raise Interrupted
            return path

    whole = PointDetector(**settings).fit(train, validation, TrainingContext(tmp_path / "whole", seed=5))
    with pytest.raises(Interrupted):
        PointDetector(**settings).fit(train, validation, StopAfterTwo(tmp_path / "cut", seed=5))
    resumed_context = StopAfterTwo(tmp_path / "cut", seed=5)
    assert resumed_context.last_checkpoint().epoch == 2
    resumed = PointDetector(**settings).fit(train, validation, resumed_context)
    assert StopAfterTwo.saved == [1, 2, 3, 4]  # the resumed fit trained epochs 3 and 4 only
    assert whole.weights_.keys() == resumed.weights_.keys()
    for key, value in whole.weights_.items():
        np.testing.assert_array_equal(resumed.weights_[key], value, err_msg=key)


def test_mined_centres_are_the_false_detections_the_net_makes_on_each_image(trained):
    """A copy of an MC pasted far from every target, unannotated, is where the net's false detection is mined."""
    detector, _ = trained
    train, _ = detector_streams(normal_validation=True)
    images = [train[k] for k in range(len(train))]
    first = next(im for im in images if im.annotation.targets)
    x, y = round(first.annotation.targets[0].x), round(first.annotation.targets[0].y)
    pasted = first.pixels.copy()
    far = max(((px, py) for px in range(12, 68, 4) for py in range(12, 68, 4) if first.mask[py, px]),
              key=lambda p: min(np.hypot(p[0] - t.x, p[1] - t.y) for t in first.annotation.targets))
    pasted[far[1] - 5 : far[1] + 6, far[0] - 5 : far[0] + 6] = first.pixels[y - 5 : y + 6, x - 5 : x + 6]
    images[images.index(first)] = replace(first, pixels=pasted)
    net = build_net(detector.config)
    load_module_arrays(net, detector.weights_)
    hard = mined(net, images, detector.config, torch.device("cpu"))
    assert net.training  # its mode is restored
    assert sorted(hard) == sorted(im.image_id for im in images)
    for image in images:
        expected = false_peaks(detector.detect(image.pixels, image.mask), image.annotation)
        np.testing.assert_allclose(hard[image.image_id], expected, atol=1e-3)
    assert np.hypot(*(hard[first.image_id] - far).T).min() <= 2.0, (hard[first.image_id], far)


def test_weights_of_another_architecture_are_refused_naming_both(trained, tmp_path):
    detector, _ = trained
    detector.save_state(tmp_path)
    other = PointDetector(**{**SMALL, "widths": (4, 8)})
    with pytest.raises(ValueError, match=r"point_net\.safetensors: holds widths \[4, 8, 16\], convs 2; this "
                                         r"point-heatmap is configured for widths \[4, 8\], convs 2"):
        other.load_state(tmp_path)
    with pytest.raises(ValueError, match=r"convs 2; .* widths \[4, 8, 16\], convs 1"):
        PointDetector(**{**SMALL, "convs": 1}).load_state(tmp_path)


def test_the_heat_map_has_the_image_s_own_size_whatever_it_is(trained):
    detector, _ = trained
    net = Inference(detector.config, detector.weights_, "cpu")
    rng = np.random.default_rng(0)
    maps = net.heatmaps([rng.normal(size=(37, 53)).astype(np.float32)])
    assert maps[0].shape == (37, 53) and ((maps[0] >= 0) & (maps[0] <= 1)).all()


@pytest.mark.parametrize(("params", "key"), [({"window": 66}, "window"),
                                             ({"epochs": 3, "froc_every": 5}, "froc_every"),
                                             ({"froc_images": 1}, "froc_images"),
                                             ({"strip_rows": 6}, "strip_rows"),
                                             ({"initial_weights": "shipped:nope"}, "initial_weights")])
def test_settings_that_cannot_be_met_are_refused_at_their_yaml_key(tmp_path, params, key):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\ndetector: {{plugin: point-heatmap, params: {params}}}\n")
    with pytest.raises(Exception) as caught:
        load_pipeline(path)
    assert f"detector.params.{key}" in str(caught.value), str(caught.value)


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("point-heatmap*.yaml")), ids=lambda p: p.name)
def test_every_point_heatmap_pipeline_passes_the_core_validation(path):
    if "shipped:" in path.read_text():
        pytest.importorskip("calcdet_point_weights", reason="it starts from the weights calcdet-point-weights ships")
    pipeline = load_pipeline(path)
    assert pipeline.detector is not None and pipeline.detector.name == "point-heatmap"
    assert pipeline.detector.config.min_distance == 14 and path.read_text().startswith("#")
