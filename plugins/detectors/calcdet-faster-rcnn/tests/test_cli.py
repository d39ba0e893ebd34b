"""faster-rcnn with `calcdet train` output: train and detect on flipped, cropped DICOMs (boxes in the stored
grid); its backbone initialised from a saliency model's exported backbone file, other architectures refused."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from calcdet_faster_rcnn.detector import FasterRCNNDetector
from calcdet_faster_rcnn.model import build_model, initialise_backbone
from calcdet_torch.backbone import read_spec, save_backbone
from pydantic import ValidationError

from calcdet_core.api import TrainingContext, load_arrays
from calcdet_core.testing import detector_streams, write_detector_dataset

PARAMS = {"fpn_channels": 32, "representation": 64, "window": 64, "train_stride": 32, "stride": 48, "epochs": 2,
          "learning_rate": 0.001, "rpn_samples": 64, "roi_samples": 64, "threshold": 0.01}


def test_train_then_detect_from_the_command_line_gives_boxes_in_the_stored_grid(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_detector_dataset(data, images=8)
    params = ", ".join(f"{k}: {v}" for k, v in PARAMS.items())
    (tmp_path / "frcnn.yaml").write_text(f"name: frcnn\ndetector: {{plugin: faster-rcnn, params: {{{params}}}}}\n")
    where = ["--dataset", "folder", "--root", str(data), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def calcdet(*args):
        out = subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr

    calcdet("train", str(tmp_path / "frcnn.yaml"), *where, "--out", str(tmp_path / "model"))
    assert (tmp_path / "model" / "components" / "detector-faster-rcnn" / "faster_rcnn.safetensors").is_file()
    calcdet("detect", str(tmp_path / "model"), *where, "--split", "test", "--out", str(tmp_path / "found.csv"))
    lines = (tmp_path / "found.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert {"x0", "y0", "x1", "y1"} <= set(header)
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert rows
    for row in rows:  # every box holds its centre, in the 112 px stored image, right breasts mapped back
        x, y = float(row["x"]), float(row["y"])
        x0, y0, x1, y1 = (float(row[k]) for k in ("x0", "y0", "x1", "y1"))
        assert -0.5 <= x0 <= x <= x1 <= 111.5 and -0.5 <= y0 <= y <= y1 <= 111.5
        assert abs((x0 + x1) / 2 - x) < 1e-6 and abs((y0 + y1) / 2 - y) < 1e-6


@pytest.fixture(scope="module")
def saliency_model(tmp_path_factory):
    """A saliency model directory as `calcdet train` writes it: the resnet-saliency detector, one epoch."""
    root = tmp_path_factory.mktemp("saliency")
    (root / "data").mkdir()
    write_detector_dataset(root / "data", images=8)
    (root / "sal.yaml").write_text("name: sal\ndetector: {plugin: resnet-saliency, params: {patch_size: 16, width: 8, "
                                   "epochs: 1, negative_ratio: 2}}\n")
    out = subprocess.run([sys.executable, "-m", "calcdet_core", "train", str(root / "sal.yaml"), "--dataset", "folder",
                          "--root", str(root / "data"), "--device", "cpu", "--out", str(root / "model")],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    return root / "model"


@pytest.fixture(scope="module")
def backbone_file(saliency_model):
    """The saliency model's trunk as `calcdet export-backbone` writes it: the only file faster-rcnn reads."""
    out = saliency_model.parent / "trunk.safetensors"
    done = subprocess.run([sys.executable, "-m", "calcdet_core", "export-backbone", str(saliency_model), str(out)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "small-resnet (width 8, 3 stages, padding same" in done.stdout
    return out


TRANSFER = {**PARAMS, "backbone": "saliency-resnet", "saliency_width": 8, "saliency_stages": 3}


def test_backbone_transfer_starts_training_from_the_exported_saliency_trunk(backbone_file):
    source = load_arrays(backbone_file)
    detector = FasterRCNNDetector(**{**TRANSFER, "backbone_weights": str(backbone_file), "epochs": 1,
                                     "learning_rate": 1e-12})
    model = build_model(detector.config)
    initialise_backbone(model, backbone_file, detector.config)
    body = {k: v.numpy() for k, v in model.backbone.body.state_dict().items()}
    assert body.keys() == source.keys()
    stem = body["stem.0.weight"]  # the grey filter spread over three equal channels: the same response
    np.testing.assert_array_equal(stem, np.repeat(stem[:, :1], 3, axis=1))
    np.testing.assert_allclose(stem.sum(axis=1, keepdims=True), source["stem.0.weight"], rtol=1e-6, atol=1e-7)
    for name in body:
        if name.startswith("layer"):
            np.testing.assert_array_equal(body[name].reshape(-1), source[name].reshape(-1))
    train, validation = detector_streams()
    detector.fit(train, validation, TrainingContext.temporary(seed=0))  # fit starts from them (lr ~ 0: stays)
    np.testing.assert_allclose(detector.weights_["backbone.body.layer3.1.conv2.weight"],
                               source["layer3.1.conv2.weight"], atol=1e-6)
    assert detector.config.backbone_weights is None  # the trained model no longer needs the file


@pytest.mark.parametrize(("change", "wanted"), [
    ({"saliency_width": 16}, "width 16, 3 stages"),
    ({"saliency_stages": 4}, "width 8, 4 stages"),
    ({"saliency_stages": 2}, "width 8, 2 stages"),
])
def test_a_backbone_file_of_another_architecture_is_refused_at_validation_naming_both(backbone_file, change, wanted):
    with pytest.raises(ValidationError, match=rf"backbone_weights\n.*trunk\.safetensors: holds a small-resnet "
                                              rf"\(width 8, 3 stages, padding same, 1 input channel\(s\)\) backbone; "
                                              rf"this one is small-resnet \({wanted}, padding same"):
        FasterRCNNDetector(**{**TRANSFER, **change, "backbone_weights": str(backbone_file)})


def test_a_padding_free_trunk_is_refused_naming_both(backbone_file, tmp_path):
    valid = tmp_path / "valid.safetensors"
    save_backbone(valid, replace(read_spec(backbone_file), padding="valid"), load_arrays(backbone_file))
    with pytest.raises(ValidationError, match=r"valid\.safetensors: holds a small-resnet \(width 8, 3 stages, "
                                              r"padding valid.*this one is small-resnet \(width 8, 3 stages, padding "
                                              r"same"):
        FasterRCNNDetector(**{**TRANSFER, "backbone_weights": str(valid)})


def test_another_plugins_private_weights_are_not_a_backbone_file(saliency_model):
    (private,) = saliency_model.glob("components/*/resnet.safetensors")
    with pytest.raises(ValidationError, match=r"resnet\.safetensors: not a calcdet backbone file"):
        FasterRCNNDetector(**{**TRANSFER, "backbone_weights": str(private)})


def test_a_backbone_file_missing_a_tensor_is_refused_naming_it(backbone_file, tmp_path):
    short = tmp_path / "short.safetensors"
    arrays = load_arrays(backbone_file)
    del arrays["layer2.0.bn1.running_var"]
    save_backbone(short, read_spec(backbone_file), arrays)
    detector = FasterRCNNDetector(**{**TRANSFER, "backbone_weights": str(short)})
    with pytest.raises(ValueError, match=r"short\.safetensors has no tensor 'layer2\.0\.bn1\.running_var'"):
        initialise_backbone(build_model(detector.config), short, detector.config)


def test_backbone_transfer_is_refused_for_a_torchvision_backbone(backbone_file):
    with pytest.raises(ValueError, match="backbone_weights needs backbone 'saliency-resnet'"):
        FasterRCNNDetector(backbone="resnet18", backbone_weights=str(backbone_file))
