"""Per-epoch detection figures: box AP/AR, FROC AUC, the FROC's image sample, the loop logging them, and model
selection on the FROC AUC (its settings, the fallback to the loss, the verdict on a training that learned nothing)."""

import numpy as np
import pytest
import torch
from calcdet_torch.loop import LoopSettings, train_loop
from calcdet_torch.metrics import box_figures, froc_auc, froc_sample
from calcdet_torch.selection import (
    UNLEARNED_AUC,
    FrocEvery,
    FrocFigures,
    FrocImages,
    SelectOn,
    monitored,
    report_learning,
)
from pydantic import BaseModel, ValidationError

from calcdet_core.api import Annotation, Detections, ImageResult, ImageStream, Reporter, Target, TrainingContext
from calcdet_core.testing import detector_test_image


def _result(image_id, targets, found, scores):
    annotation = Annotation(targets=tuple(Target(x, y, 6.0) for x, y in targets))
    xy = np.asarray(found, np.float64).reshape(-1, 2)
    boxes = np.column_stack([xy - 7, xy + 7])
    return ImageResult(image_id, Detections(np.column_stack([xy, np.full(len(xy), 3.0)]), np.asarray(scores, float),
                                            boxes=boxes), annotation)


def test_box_figures_and_froc_auc_of_perfect_and_of_missed_detections():
    perfect = [_result("a", [(20, 20), (60, 40)], [(20, 20), (60, 40)], [0.9, 0.8]), _result("n", [], [], [])]
    assert box_figures(perfect) == {"ap50": 1.0, "ar": 1.0}
    assert froc_auc(perfect) == 1.0
    missed = [_result("a", [(20, 20)], [(80, 80)], [0.9]), _result("n", [], [(10, 10)], [0.7])]
    assert box_figures(missed) == {"ap50": 0.0, "ar": 0.0}
    assert froc_auc(missed) == 0.0
    assert froc_auc(perfect[:1]) is None  # no normal image: no FP rate
    assert box_figures([perfect[1]]) == {}  # no target: no AP or AR


def test_froc_sample_takes_both_kinds_spread_evenly():
    normal = [False] * 6 + [True] * 4
    assert froc_sample(normal, 4) == [0, 5, 6, 9]
    assert froc_sample(normal, 3) == [0, 5, 6]  # the odd one to the images with targets
    assert froc_sample([True, False], 10) == [0, 1]
    assert froc_sample([True, True, False, False, False], 10) == [0, 1, 2, 3, 4]
    assert froc_sample([False] * 5, 2) == [] and froc_sample(normal, 1) == []  # the FROC would be undefined


def test_the_loop_logs_the_epoch_figures_beside_the_loss(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    x, y = torch.randn(16, 2), torch.randn(16)
    seen = []

    def figures(m, epoch):
        seen.append(epoch)
        return {"val_figure": epoch / 10} if epoch % 2 == 0 else {}

    context = TrainingContext(tmp_path, seed=0)
    train_loop(model, torch.optim.Adam(model.parameters(), 0.01), lambda m, b: ((m(b[0])[:, 0] - b[1]) ** 2).mean(),
               lambda epoch: (1, [(x, y)]), lambda m: {"val_loss": 1.0}, LoopSettings("toy", 3, patience=5), context,
               figures)
    assert seen == [1, 2, 3]
    assert [h.get("val_figure") for h in context.reporter.history] == [None, 0.2, None]


class _Recording(Reporter):
    def __init__(self):
        super().__init__()
        self.messages = []

    def message(self, text):
        self.messages.append(text)


def _validation(normal_too=True):
    images = [detector_test_image(10), detector_test_image(11)] + ([detector_test_image(12, n_disks=0)]
                                                                  if normal_too else [])
    return ImageStream.from_images(images)


def _finds_every_target(model, images):
    return [Detections.from_columns([t.x for t in im.annotation.targets], [t.y for t in im.annotation.targets],
                                    np.full(len(im.annotation.targets), 3.0), np.full(len(im.annotation.targets), 0.9))
            for im in images]


def test_froc_figures_measure_the_detections_on_a_sample_with_both_kinds_every_few_epochs():
    seen = []

    def detect(model, images):
        seen.append([im.image_id for im in images])
        return _finds_every_target(model, images)

    figures = FrocFigures(_validation(), 2, 2, detect)
    assert [figures(None, epoch) for epoch in (1, 2)] == [{}, {"val_froc_auc": 1.0}]
    assert seen == [["kit-10", "kit-12"]]  # one image with MCs and the normal one
    assert FrocFigures(_validation(normal_too=False), 8, 1, detect).picks == []


def test_selection_falls_back_to_the_validation_loss_and_says_so_when_no_froc_can_be_measured():
    context = TrainingContext.temporary(reporter=_Recording())
    assert monitored("toy", "val_froc_auc", FrocFigures(_validation(), 8, 1, _finds_every_target), context) == (
        "val_froc_auc", True)
    assert monitored("toy", "val_loss", FrocFigures(_validation(), 8, 1, _finds_every_target), context) == (
        "val_loss", False)
    assert context.reporter.messages == []
    unmeasurable = FrocFigures(_validation(normal_too=False), 8, 1, _finds_every_target)
    assert monitored("toy", "val_froc_auc", unmeasurable, context) == ("val_loss", False)
    assert context.reporter.messages == ["toy: the validation images lack normal images or images with MCs, so no "
                                         "FROC AUC can be measured; the best epoch is chosen on the validation loss"]


@pytest.mark.parametrize(("aucs", "learned"), [([0.01, None, 0.3], True), ([0.0, 0.049], False), ([None], False)])
def test_report_learning_records_the_best_froc_auc_and_warns_below_the_floor(aucs, learned):
    context = TrainingContext.temporary(reporter=_Recording())
    for epoch, auc in enumerate(aucs, 1):
        context.reporter.log_epoch(epoch, loss=1.0, **({} if auc is None else {"val_froc_auc": auc}))
    report_learning("toy", FrocFigures(_validation(), 8, 1, _finds_every_target), context)
    measured = [a for a in aucs if a is not None]
    assert context.reporter.facts == {"best_val_froc_auc": max(measured) if measured else None, "learned": learned}
    warned = [m for m in context.reporter.messages if "WARNING" in m and "has not learned to find MCs" in m]
    assert len(warned) == (not learned) and UNLEARNED_AUC == 0.05
    silent = TrainingContext.temporary(reporter=_Recording())
    report_learning("toy", FrocFigures(_validation(normal_too=False), 8, 1, _finds_every_target), silent)
    assert silent.reporter.facts == {} and silent.reporter.messages == []  # nothing measured: nothing to say


class _Config(BaseModel):
    epochs: int = 3
    select_on: SelectOn = "val_froc_auc"
    froc_images: FrocImages = 8
    froc_every: FrocEvery = 1


@pytest.mark.parametrize(("params", "message"), [({"froc_images": 1}, "froc_images 1 is below 2"),
                                                 ({"froc_every": 4}, "froc_every 4 exceeds epochs 3")])
def test_froc_settings_that_cannot_be_met_are_refused_at_their_key_unless_selecting_on_the_loss(params, message):
    with pytest.raises(ValidationError, match=message) as caught:
        _Config(**params)
    assert caught.value.errors()[0]["loc"] == (next(iter(params)),)
    _Config(**params, select_on="val_loss")
