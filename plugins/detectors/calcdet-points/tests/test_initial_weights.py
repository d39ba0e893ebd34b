"""point-heatmap ``initial_weights``: a fit starts from the saved weights, records which, and a missing file
or one of another architecture is refused at validation naming its YAML key (and both architectures)."""

import hashlib

import numpy as np
import pytest
from calcdet_points.detector import PointDetector

from calcdet_core.api import ImageStream, Reporter, TrainingContext, load_pipeline
from calcdet_core.testing import detector_streams, detector_test_image

SMALL = {"widths": (4, 8, 16), "window": 64, "windows_per_image": 8, "epochs": 4, "learning_rate": 0.01,
         "froc_images": 2}

RUNNING = ("running_mean", "running_var", "num_batches_tracked")
"""Batch-norm statistics: updated by a training pass whatever the learning rate."""


def streams_with_a_normal_validation_image() -> tuple[ImageStream, ImageStream]:
    train, _ = detector_streams()
    validation = [detector_test_image(10), detector_test_image(11), detector_test_image(12, n_disks=0)]
    return train, ImageStream.from_images(validation)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Weights of a short fit, saved as a model directory's point_net.safetensors."""
    train, validation = streams_with_a_normal_validation_image()
    detector = PointDetector(**SMALL).fit(train, validation, TrainingContext.temporary(seed=0))
    folder = tmp_path_factory.mktemp("pretrained")
    (path,) = detector.save_state(folder)
    return detector, path


def frozen_fit(**params):
    """One epoch at a learning rate too small to move a weight: its weights are where it started."""
    train, validation = streams_with_a_normal_validation_image()
    context = TrainingContext.temporary(seed=3, reporter=Reporter())
    detector = PointDetector(**{**SMALL, "epochs": 1, "learning_rate": 1e-9, **params}).fit(train, validation, context)
    return detector, context.reporter.facts


def test_a_fit_from_saved_weights_starts_from_them_and_records_them(saved):
    pretrained, path = saved
    tuned, facts = frozen_fit(initial_weights=path)
    scratch, scratch_facts = frozen_fit()
    learned = [k for k in pretrained.weights_ if not k.endswith(RUNNING)]
    for key in learned:
        np.testing.assert_allclose(tuned.weights_[key], pretrained.weights_[key], atol=1e-6, err_msg=key)
    assert any(not np.allclose(scratch.weights_[k], pretrained.weights_[k], atol=1e-3) for k in learned)
    assert facts["initial_weights"] == {"path": str(path.resolve()),
                                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert "initial_weights" not in scratch_facts
    assert tuned.config.initial_weights is None  # a model directory loads without its starting file
    assert facts["learned"] is True and scratch_facts["learned"] is False  # it finds the disks from its first epoch
    assert facts["best_val_froc_auc"] > scratch_facts["best_val_froc_auc"]


def refusal(tmp_path, params: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\ndetector: {{plugin: point-heatmap, params: {params}}}\n")
    with pytest.raises(Exception) as caught:
        load_pipeline(path)
    return str(caught.value)


def test_a_missing_file_is_refused_at_its_yaml_key(tmp_path):
    text = refusal(tmp_path, f"{{initial_weights: {tmp_path / 'none.safetensors'}}}")
    assert "detector.params.initial_weights" in text and "none.safetensors: no such file" in text, text


def test_weights_of_another_architecture_are_refused_at_its_yaml_key_naming_both(saved, tmp_path):
    _, path = saved
    text = refusal(tmp_path, f"{{widths: [4, 8], initial_weights: {path}}}")
    assert "detector.params.initial_weights" in text, text
    assert "holds widths [4, 8, 16], convs 2; this point-heatmap is configured for widths [4, 8], convs 2" in text


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    junk = tmp_path / "point_net.safetensors"
    junk.write_bytes(b"\x80\x04not a safetensors file")
    text = refusal(tmp_path, f"{{initial_weights: {junk}}}")
    assert "detector.params.initial_weights" in text and "not a readable safetensors file" in text, text
