"""faster-rcnn with `calcdet train` output: train and detect on flipped, cropped DICOMs (boxes in the stored
grid); its backbone initialised from a saliency model directory, mismatches and changed files refused."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from calcdet_faster_rcnn.detector import FasterRCNNDetector
from calcdet_faster_rcnn.model import build_model, initialise_backbone

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


TRANSFER = {**PARAMS, "backbone": "saliency-resnet", "saliency_width": 8, "saliency_stages": 3}


def test_backbone_transfer_starts_training_from_the_saliency_classifier(saliency_model):
    (weights,) = saliency_model.glob("components/*/resnet.safetensors")
    source = load_arrays(weights)
    detector = FasterRCNNDetector(**{**TRANSFER, "backbone_from": str(saliency_model), "epochs": 1,
                                     "learning_rate": 1e-12})
    model = build_model(detector.config)
    initialise_backbone(model, saliency_model)
    body = {k: v.numpy() for k, v in model.backbone.body.state_dict().items()}
    stem = body["stem.0.weight"]  # the grey filter spread over three equal channels: the same response
    np.testing.assert_array_equal(stem, np.repeat(stem[:, :1], 3, axis=1))
    np.testing.assert_allclose(stem.sum(axis=1, keepdims=True), source["stem.0.weight"], rtol=1e-6, atol=1e-7)
    for name in body:
        if name.startswith("layer"):
            stage, rest = name.split(".", 1)
            key = f"stages.{int(stage[5:]) - 1}.{rest}"
            np.testing.assert_array_equal(body[name].reshape(-1), source[key].reshape(-1))
    train, validation = detector_streams()
    detector.fit(train, validation, TrainingContext.temporary(seed=0))  # fit starts from them (lr ~ 0: stays)
    np.testing.assert_allclose(detector.weights_["backbone.body.layer3.1.conv2.weight"],
                               source["stages.2.1.conv2.weight"], atol=1e-6)


@pytest.mark.parametrize(("change", "message"), [
    ({"saliency_width": 16}, r"resnet\.safetensors tensor 'stem\.0\.weight' has shape \(8, 1, 3, 3\)"),
    ({"saliency_stages": 4}, r"resnet\.safetensors has no tensor 'stages\.3\.0\.conv1\.weight'"),
    ({"saliency_stages": 2}, r"resnet\.safetensors tensor 'stages\.2\.\S+' has no place in the backbone"),
])
def test_backbone_transfer_refuses_a_saliency_net_of_another_architecture(saliency_model, change, message):
    detector = FasterRCNNDetector(**{**TRANSFER, **change, "backbone_from": str(saliency_model)})
    with pytest.raises(ValueError, match=message):
        initialise_backbone(build_model(detector.config), saliency_model)


def test_backbone_transfer_refuses_a_file_that_changed_after_training(saliency_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(saliency_model, copy)
    sums = json.loads((copy / "checksums.json").read_text())
    (name,) = [k for k in sums["files"] if k.endswith("resnet.safetensors")]
    sums["files"][name] = "0" * 64
    (copy / "checksums.json").write_text(json.dumps(sums))
    detector = FasterRCNNDetector(**{**TRANSFER, "backbone_from": str(copy)})
    with pytest.raises(ValueError, match=r"resnet\.safetensors has SHA-256 [0-9a-f]{64}, .*checksums\.json records 0"):
        initialise_backbone(build_model(detector.config), copy)


def test_backbone_transfer_is_refused_for_a_torchvision_backbone(saliency_model):
    with pytest.raises(ValueError, match="backbone_from needs backbone 'saliency-resnet'"):
        FasterRCNNDetector(backbone="resnet18", backbone_from=str(saliency_model))


def test_backbone_transfer_refuses_a_padding_free_saliency_net(saliency_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(saliency_model, copy)
    pipeline = copy / "pipeline.yaml"
    assert "padding: true" in pipeline.read_text()
    pipeline.write_text(pipeline.read_text().replace("padding: true", "padding: false"))
    detector = FasterRCNNDetector(**{**TRANSFER, "backbone_from": str(copy)})
    with pytest.raises(ValueError, match=r"pipeline\.yaml has detector\.params\.padding false"):
        initialise_backbone(build_model(detector.config), copy)
