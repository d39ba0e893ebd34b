"""resnet-saliency: dense maps equal patch-wise classification, training lowers the loss, the CLI finds MCs."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from calcdet_saliency.detector import SaliencyDetector
from calcdet_saliency.inference import Inference, build_net
from calcdet_saliency.net import SmallResNet, folded
from calcdet_torch.backbone import BackboneSpec, read_spec
from calcdet_torch.state import module_arrays

from calcdet_core.api import InvalidInputError, TrainingContext, build_component, load_arrays
from calcdet_core.testing import detector_streams, detector_test_image, write_detector_dataset

SMALL = {"width": 4, "hidden": 16, "epochs": 6, "learning_rate": 0.01, "negative_ratio": 4, "patch_batch": 32}


class _Config:
    patch_size, width, hidden, dropout, padding = 32, 4, 8, 0.4, False


@pytest.mark.parametrize("stride", [1, 2])
def test_dense_map_of_a_padding_free_net_equals_patch_by_patch_classification(monkeypatch, stride):
    torch.manual_seed(0)
    net = SmallResNet(32, width=4, hidden=8, padding=False, stages=2)  # stride 2, 4x4 final map, no padding
    for m in net.modules():  # batch-norm statistics away from the identity, so they matter
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    monkeypatch.setattr("calcdet_saliency.inference.build_net",
                        lambda c: SmallResNet(32, width=4, hidden=8, padding=False, stages=2))
    inference = Inference(_Config(), module_arrays(net), "cpu")
    image = np.random.default_rng(0).normal(size=(75, 61)).astype(np.float32)
    dense = inference.dense(image, stride, tile=24)  # several tiles and shifted passes
    explicit = inference.sliding(image, stride)
    assert dense.shape == explicit.shape
    np.testing.assert_allclose(dense, explicit, atol=1e-5)


@pytest.mark.parametrize(("size", "stages", "padding"), [(16, None, True), (32, 2, False)])
def test_folding_batch_norm_into_the_convolutions_keeps_the_logits(size, stages, padding):
    torch.manual_seed(1)
    net = SmallResNet(size, width=4, hidden=8, padding=padding, stages=stages)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    fast = folded(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    patches, image = torch.randn(8, 1, size, size), torch.randn(1, 1, 70, 67)
    with torch.no_grad():
        torch.testing.assert_close(fast(patches), net(patches), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fast.dense(image), net.dense(image), atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def trained():
    train, validation = detector_streams()
    context = TrainingContext.temporary(seed=0)
    return SaliencyDetector(**SMALL).fit(train, validation, context), context


def test_training_lowers_the_loss_and_reports_validation_figures(trained):
    _, context = trained
    history = context.reporter.history
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"val_loss", "val_auroc", "val_f1", "val_threshold", "lr"} <= set(history[0])
    assert max(h["val_auroc"] for h in history) > 0.9


def test_checkpoint_and_state_round_trip_through_safetensors(trained, tmp_path):
    detector, context = trained
    checkpoint = context.last_checkpoint()
    assert checkpoint.epoch == len(context.reporter.history)
    assert any(k.startswith("optim.") for k in checkpoint.arrays) and any(k.startswith("best.") for k in
                                                                          checkpoint.arrays)
    files = detector.save_state(tmp_path)
    assert sorted(f.name for f in files) == ["resnet.safetensors", "saliency.json"]
    again = SaliencyDetector(**SMALL)
    again.load_state(tmp_path)
    for key, value in detector.weights_.items():
        np.testing.assert_array_equal(np.reshape(again.weights_[key], np.shape(value)), value)
    with pytest.raises(ValueError, match=r"resnet\.safetensors: do not fit"):
        SaliencyDetector(**{**SMALL, "width": 8}).load_state(tmp_path)


def test_load_state_refuses_a_missing_facts_file_naming_it_and_keeps_no_weights(trained, tmp_path):
    detector, _ = trained
    detector.save_state(tmp_path)
    (tmp_path / "saliency.json").unlink()
    again = SaliencyDetector(**SMALL)
    with pytest.raises(InvalidInputError, match=r"saliency\.json: unreadable or incomplete resnet-saliency facts"):
        again.load_state(tmp_path)
    assert again.weights_ is None


def test_export_backbone_writes_the_trunk_under_the_format_names(trained, tmp_path):
    detector, _ = trained
    path = detector.export_backbone(tmp_path / "trunk.safetensors")
    assert read_spec(path) == BackboneSpec("small-resnet", width=4, stages=3, padding="same", input_size=16)
    arrays = load_arrays(path)
    trunk = {k for k in detector.weights_ if k.startswith(("stem.", "stages."))}
    assert len(arrays) == len(trunk) and not any(k.startswith("fc") for k in arrays)  # the head stays behind
    for name in trunk:
        exported = name if name.startswith("stem.") else "layer" + str(int(name.split(".")[1]) + 1) + name[8:]
        np.testing.assert_array_equal(arrays[exported].reshape(-1), detector.weights_[name].reshape(-1))


def test_export_backbone_refuses_a_torchvision_net_and_an_unfitted_detector(tmp_path):
    config = SaliencyDetector.Config(architecture="efficientnet_b0", patch_size=32, inference="study")
    detector = SaliencyDetector(config)
    with pytest.raises(ValueError, match="no backbone to export; fit"):
        detector.export_backbone(tmp_path / "trunk.safetensors")
    detector.weights_ = module_arrays(build_net(config))
    with pytest.raises(InvalidInputError, match="resnet-saliency: architecture 'efficientnet_b0' has no exportable"):
        detector.export_backbone(tmp_path / "trunk.safetensors")
    assert not (tmp_path / "trunk.safetensors").exists()


def test_study_inference_finds_the_disks_too(trained):
    detector, _ = trained
    study = pickle.loads(pickle.dumps(detector))
    study.config = study.Config(**{**SMALL, "inference": "study"})
    image = detector_test_image(seed=50)
    found = study.detect(image.pixels, image.mask)
    best = found.subset(np.argsort(-found.score)[:6])
    hits = sum(np.hypot(best.x - t.x, best.y - t.y).min() <= 5 for t in image.annotation.targets)
    assert hits >= 2


def test_dense_with_patch_normalisation_is_refused():
    with pytest.raises(ValueError, match="needs inference 'study'"):
        SaliencyDetector(normalisation="patch")


def test_train_then_detect_from_the_command_line_in_the_stored_grid(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    truth = write_detector_dataset(data)
    params = ", ".join(f"{k}: {v}" for k, v in {**SMALL, "epochs": 12, "negative_ratio": 10}.items())
    pipeline = f"name: saliency\ndetector: {{plugin: resnet-saliency, params: {{{params}}}}}\n"
    (tmp_path / "saliency.yaml").write_text(pipeline)
    where = ["--dataset", "folder", "--root", str(data), "--device", "cpu"]

    def calcdet(*args):
        out = subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out

    calcdet("train", str(tmp_path / "saliency.yaml"), *where, "--out", str(tmp_path / "model"))
    weights = tmp_path / "model" / "components" / "detector-resnet-saliency" / "resnet.safetensors"
    assert weights.is_file()
    exported = calcdet("export-backbone", str(tmp_path / "model"), str(tmp_path / "trunk.safetensors"))
    assert "small-resnet (width 4, 3 stages, padding same" in exported.stdout
    assert read_spec(tmp_path / "trunk.safetensors").input_size == 16
    calcdet("detect", str(tmp_path / "model"), *where, "--split", "test", "--out", str(tmp_path / "found.csv"))
    found = {}
    for line in (tmp_path / "found.csv").read_text().splitlines()[1:]:
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
    assert len(found) >= 2 and hits >= 0.5 * total, (hits, total)
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")  # changed after training: exported from no more
    refused = subprocess.run([sys.executable, "-m", "calcdet_core", "export-backbone", str(tmp_path / "model"),
                              str(tmp_path / "again.safetensors")], capture_output=True, text=True)
    assert refused.returncode == 1 and "resnet.safetensors" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "again.safetensors").exists()
