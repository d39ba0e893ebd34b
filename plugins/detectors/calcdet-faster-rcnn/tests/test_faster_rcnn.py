"""faster-rcnn: window geometry is exact, training lowers the loss, the kept epoch is the one that detects best
(validation FROC AUC; the loss when none can be measured), NMS joins window seams, state round-trips."""

import itertools

import numpy as np
import pytest
import torch
from calcdet_faster_rcnn import train as faster_rcnn_train
from calcdet_faster_rcnn.detector import FasterRCNNDetector
from calcdet_faster_rcnn.model import as_input, build_model
from calcdet_torch.state import module_arrays
from calcdet_torch.windows import cut, flip_rotate, grid, target_boxes, to_grid

from calcdet_core.api import Detections, ImageStream, Mammogram, TrainingContext, preprocess
from calcdet_core.testing import RecordingReporter, detector_streams, detector_test_image

SMALL = {"fpn_channels": 32, "representation": 64, "window": 64, "train_stride": 32, "stride": 48, "epochs": 3,
         "patience": 3, "learning_rate": 1e-3, "lr_step": 100, "rpn_samples": 64, "roi_samples": 64}


@pytest.mark.parametrize(("flip_x", "flip_y", "turns"), list(itertools.product([False, True], [False, True], range(4))))
def test_flips_and_rotations_move_boxes_with_the_pixels(flip_x, flip_y, turns):
    window = np.zeros((32, 32), np.float32)
    window[5:9, 20:27] = 1  # pixels x 20..26, y 5..8: the continuous box [20, 5, 27, 9]
    moved, boxes = flip_rotate(window, np.array([[20.0, 5.0, 27.0, 9.0]]), flip_x, flip_y, turns)
    ys, xs = np.nonzero(moved)
    np.testing.assert_array_equal(boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_a_target_comes_back_at_its_grid_position_through_any_window():
    centres = np.array([[130.0, 47.0], [301.0, 222.0]])
    image = np.zeros((300, 400), np.float32)
    corners = grid(image.shape, 224, 100)
    assert {tuple(c) for c in corners} == {(0, 0), (100, 0), (176, 0), (0, 76), (100, 76), (176, 76)}
    for corner in corners:
        boxes = to_grid(target_boxes(centres, 14, corner, 224), corner)
        inside = ((centres - corner >= 0) & (centres - corner < 224)).all(axis=1)
        unclipped = ((centres - corner - 7 >= -0.5) & (centres - corner + 7 <= 223.5)).all(axis=1)
        middle = (boxes[:, :2] + boxes[:, 2:]) / 2
        np.testing.assert_array_equal(middle[unclipped[inside]], centres[inside & unclipped])
    assert cut(image, (350, 250), 224).shape == (224, 224)  # beyond the image: zeros


def _flipped_cropped():
    """A right breast (64 x 128 px block of texture) in an 80 x 200 stored image: preprocess crops and mirrors it."""
    stored = np.zeros((80, 200), np.uint16)
    stored[8:72, 72:200] = np.random.default_rng(0).integers(1000, 4000, (64, 128))
    return stored


def _to_stored(boxes, working):
    return Detections(np.zeros((len(boxes), 3)), np.zeros(len(boxes)), boxes=boxes).mapped(
        working.transform.to_stored).boxes


def test_a_box_in_a_known_window_of_a_cropped_flipped_image_comes_back_in_the_stored_grid_exactly():
    stored = _flipped_cropped()
    stored[46:60, 100:114] = 60000  # stored pixels x 100..113, y 46..59: the box [99.5, 45.5, 113.5, 59.5]
    working = preprocess(Mammogram(stored, "r", laterality="R"))
    assert working.transform.flipped and (working.transform.x0, working.transform.y0) == (72, 8)
    corner = (36, 0)  # working pixels x 86..99 (mirrored: 127 - (x - 72)), y 38..51 lie in this window
    assert corner in {tuple(c) for c in grid(working.shape, 64, 36)}
    window = cut(working.pixels, corner, 64)
    ys, xs = np.nonzero(window == window.max())
    box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float64)  # continuous window box
    np.testing.assert_array_equal(box, [[50, 38, 64, 52]])
    np.testing.assert_array_equal(_to_stored(to_grid(box, corner), working), [[99.5, 45.5, 113.5, 59.5]])


def test_the_real_network_s_boxes_from_one_window_land_in_the_stored_grid_exactly():
    working = preprocess(Mammogram(_flipped_cropped(), "r", laterality="R"))
    detector = FasterRCNNDetector(**{**SMALL, "stride": 64, "threshold": 0.0})
    detector.weights_ = module_arrays(build_model(detector.config))  # untrained, real
    corners = grid(working.shape, 64, 64)
    np.testing.assert_array_equal(corners, [[0, 0], [64, 0]])
    mask = working.mask.copy()
    mask[:, :64] = False  # only the window at (64, 0) holds breast
    found = detector.detect(working.pixels, mask)
    with torch.inference_mode():
        out = detector._net().model(as_input(torch.from_numpy(cut(working.pixels, (64, 0), 64))[None]))[0]
    window_boxes = out["boxes"].numpy().astype(np.float64)
    assert len(found) > 0 and len(found) == len(window_boxes)
    order = np.lexsort(window_boxes.T[::-1])
    expected = np.column_stack([72 + 127 - (64 + window_boxes[:, 2] - 0.5), 8 + window_boxes[:, 1] - 0.5,
                                72 + 127 - (64 + window_boxes[:, 0] - 0.5), 8 + window_boxes[:, 3] - 0.5])
    stored = _to_stored(found.boxes, working)
    np.testing.assert_allclose(stored[np.lexsort(found.boxes.T[::-1])], expected[order], rtol=0, atol=1e-9)


def test_the_transform_keeps_window_size_and_z_scores_each_window():
    config = FasterRCNNDetector(**{**SMALL, "window": 224}).config
    model = build_model(config).eval()
    window = torch.rand(224, 224) * 0.2 + 0.5
    images, _ = model.transform(as_input(window[None]))
    assert tuple(images.tensors.shape[-2:]) == (224, 224)
    assert abs(float(images.tensors.mean())) < 1e-5 and abs(float(images.tensors.std()) - 1) < 1e-3


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50", "densenet121", "efficientnet-b3", "saliency-resnet"])
def test_every_backbone_builds_and_detects_on_a_window(backbone):
    config = FasterRCNNDetector(**{**SMALL, "backbone": backbone}).config
    with torch.inference_mode():
        out = build_model(config).eval()(as_input(torch.rand(1, 64, 64)))
    assert out[0]["boxes"].shape[1:] == (4,)


@pytest.fixture(scope="module")
def trained():
    train, validation = detector_streams()  # two validation images, both with MCs: no FROC can be measured
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    return FasterRCNNDetector(**SMALL).fit(train, validation, context), context


def test_training_lowers_the_loss_and_reports_validation_figures(trained):
    _, context = trained
    history = context.reporter.history
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    assert {"loss", "val_loss", "val_ap50", "val_ar", "lr"} <= set(history[0])


def test_without_a_normal_validation_image_it_selects_on_the_validation_loss_and_says_so(trained):
    _, context = trained
    facts = context.reporter.facts
    assert all("val_froc_auc" not in h for h in context.reporter.history) and "learned" not in facts
    assert facts["best_val_loss"] == min(h["val_loss"] for h in context.reporter.history[: facts["best_epoch"]])
    assert any("faster-rcnn: the validation images lack normal images or images with MCs" in m
               for m in context.reporter.messages), context.reporter.messages


def _validation_with_a_normal_image():
    return ImageStream.from_images([detector_test_image(10), detector_test_image(12, n_disks=0)])


def test_every_epoch_logs_ap_ar_and_the_froc_auc_of_its_detections_which_selects_the_kept_weights(monkeypatch):
    measured = []

    def window_boxes(model, *args):
        measured.append(module_arrays(model))  # the weights each epoch's FROC was measured with, per image
        return real(model, *args)

    real = faster_rcnn_train.window_boxes
    monkeypatch.setattr(faster_rcnn_train, "window_boxes", window_boxes)
    train, _ = detector_streams()
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    detector = FasterRCNNDetector(**{**SMALL, "epochs": 2}).fit(train, _validation_with_a_normal_image(), context)
    history, facts = context.reporter.history, context.reporter.facts
    assert [h["epoch"] for h in history] == [1, 2] and len(measured) == 4  # two images each epoch
    for row in history:
        assert all(0 <= row[key] <= 1 for key in ("val_ap50", "val_ar", "val_froc_auc")), row
    aucs = [h["val_froc_auc"] for h in history]
    assert facts["best_epoch"] == 1 + int(np.argmax(aucs))  # first of equals: later ones must beat it by min_delta
    assert facts["best_val_froc_auc"] == max(aucs) and facts["learned"] == (max(aucs) >= 0.05)
    for key, value in measured[2 * (facts["best_epoch"] - 1)].items():
        np.testing.assert_array_equal(detector.weights_[key], value, err_msg=key)


def test_a_training_that_learned_nothing_says_so():
    train, _ = detector_streams()
    context = TrainingContext.temporary(seed=0, reporter=RecordingReporter())
    params = {**SMALL, "epochs": 1, "learning_rate": 1e-9, "threshold": 0.99}
    FasterRCNNDetector(**params).fit(train, _validation_with_a_normal_image(), context)
    assert context.reporter.facts["learned"] is False
    assert any("faster-rcnn: WARNING" in m and "has not learned to find MCs" in m
               for m in context.reporter.messages), context.reporter.messages


def test_nms_across_window_seams_leaves_one_detection_per_object(trained):
    detector, _ = trained
    dense = FasterRCNNDetector(**{**SMALL, "stride": 8})  # every object lies in many overlapping windows
    dense.weights_ = detector.weights_
    image = detector_test_image(60)
    found = dense.detect(image.pixels, image.mask)
    b = found.boxes
    x0, y0 = np.maximum(b[:, None, 0], b[None, :, 0]), np.maximum(b[:, None, 1], b[None, :, 1])
    x1, y1 = np.minimum(b[:, None, 2], b[None, :, 2]), np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / (area[:, None] + area[None, :] - inter)
    np.fill_diagonal(iou, 0)
    assert len(found) and iou.max() <= 0.5
    raw = sum(len(out["boxes"]) for out in _per_window(dense, image.pixels))
    assert raw > len(found)  # the windows overlapped: duplicates were there to join


def _per_window(detector, pixels):
    net = detector._net()
    corners = grid(pixels.shape, 64, 8)
    with torch.inference_mode():
        return net.model(as_input(torch.from_numpy(np.stack([cut(pixels, c, 64) for c in corners]))))


def test_checkpoint_and_state_round_trip_through_safetensors(trained, tmp_path):
    detector, context = trained
    checkpoint = context.last_checkpoint()
    assert checkpoint.epoch == 3
    assert {k.split(".")[0] for k in checkpoint.arrays} == {"model", "optim", "best"}
    files = detector.save_state(tmp_path)
    assert [f.name for f in files] == ["faster_rcnn.safetensors"]
    again = FasterRCNNDetector(**SMALL)
    again.load_state(tmp_path)
    for key, value in detector.weights_.items():
        np.testing.assert_array_equal(np.reshape(again.weights_[key], np.shape(value)), value)
    with pytest.raises(ValueError, match=r"faster_rcnn\.safetensors: do not fit"):
        FasterRCNNDetector(**{**SMALL, "fpn_channels": 16}).load_state(tmp_path)


def test_strides_wider_than_the_window_are_refused():
    with pytest.raises(ValueError, match="must not exceed window"):
        FasterRCNNDetector(window=64, stride=96)
