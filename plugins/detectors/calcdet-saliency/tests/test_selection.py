"""resnet-saliency selects its epoch on what it is for: the validation FROC AUC of its own ``detect``, the loss only
when no FROC can be measured (said so), and a training that learned nothing says so at the end."""

import numpy as np
import pytest
from calcdet_saliency import train as saliency_train
from calcdet_saliency.detector import SaliencyDetector

from calcdet_core.api import TrainingContext
from calcdet_core.testing import RecordingReporter, detector_streams

SMALL = {"width": 4, "hidden": 16, "epochs": 3, "patience": 3, "learning_rate": 0.01, "negative_ratio": 4,
         "patch_batch": 32, "froc_images": 3}


def test_the_kept_weights_are_those_of_the_epoch_whose_detections_scored_best(monkeypatch):
    measured = []

    def detections(config, radius, weights, device, images):
        measured.append(weights)  # what the FROC of each epoch was measured with
        return real(config, radius, weights, device, images)

    real = saliency_train.detections
    monkeypatch.setattr(saliency_train, "detections", detections)
    train, validation = detector_streams(normal_validation=True)
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    detector = SaliencyDetector(**SMALL).fit(train, validation, context)
    aucs = [h["val_froc_auc"] for h in context.reporter.history]
    facts = context.reporter.facts
    assert len(aucs) == len(measured) == 3 and all(0 <= a <= 1 for a in aucs)
    assert facts["best_epoch"] == 1 + int(np.argmax(aucs))  # first of equals: later ones must beat it by min_delta
    assert facts["best_val_froc_auc"] == max(aucs) and facts["learned"] is True
    for key, value in measured[facts["best_epoch"] - 1].items():
        np.testing.assert_array_equal(detector.weights_[key], value, err_msg=key)
    assert context.reporter.messages == []


def test_without_a_normal_validation_image_it_selects_on_the_loss_and_says_so():
    train, validation = detector_streams()  # two validation images, both with MCs
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    SaliencyDetector(**{**SMALL, "epochs": 1}).fit(train, validation, context)
    assert "val_froc_auc" not in context.reporter.history[0] and "learned" not in context.reporter.facts
    assert context.reporter.facts["best_val_loss"] == context.reporter.history[0]["val_loss"]
    assert any("no FROC AUC can be measured; the best epoch is chosen on the validation loss" in m
               for m in context.reporter.messages), context.reporter.messages


def test_a_training_that_learned_nothing_says_so():
    train, validation = detector_streams(normal_validation=True)
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    params = {**SMALL, "epochs": 1, "learning_rate": 1e-9, "threshold": 0.99}
    SaliencyDetector(**params).fit(train, validation, context)
    assert context.reporter.facts["learned"] is False
    assert any("resnet-saliency: WARNING" in m and "has not learned to find MCs" in m
               for m in context.reporter.messages), context.reporter.messages


@pytest.mark.parametrize(("params", "message"), [({"froc_images": 1}, "froc_images 1 is below 2"),
                                                 ({"epochs": 2, "froc_every": 3}, "froc_every 3 exceeds epochs 2")])
def test_froc_settings_that_cannot_be_met_are_refused_unless_selecting_on_the_loss(params, message):
    with pytest.raises(ValueError, match=message):
        SaliencyDetector(**params)
    SaliencyDetector(**params, select_on="val_loss")
