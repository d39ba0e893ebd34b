"""Per-epoch detection figures: box AP/AR, FROC AUC, the FROC's image sample, and the loop logging them."""

import numpy as np
import torch
from calcdet_torch.loop import LoopSettings, train_loop
from calcdet_torch.metrics import box_figures, froc_auc, froc_sample

from calcdet_core.api import Annotation, Detections, ImageResult, Target, TrainingContext


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
