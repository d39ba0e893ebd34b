"""resnet-saliency variants: the pipelines validate, torchvision nets train and round-trip, hard negatives."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from calcdet_saliency.detector import SaliencyDetector
from calcdet_saliency.inference import Inference, build_net
from calcdet_saliency.train import hard_candidates
from calcdet_torch.patches import PatchSpec, cut, far_from, sample_image, standardised, target_centres
from calcdet_torch.state import module_arrays
from pydantic import ValidationError

from calcdet_core.api import ImageStream, TrainingContext, load_pipeline
from calcdet_core.testing import detector_streams, detector_test_image

ROOT = Path(__file__).resolve().parents[4]
PIPELINES = sorted((ROOT / "pipelines").glob("resnet-saliency*.yaml"))
TINY_NET = {"architecture": "efficientnet_b0", "patch_size": 32, "inference": "study", "study_stride": 8,
            "epochs": 1, "negative_ratio": 2, "patch_batch": 16, "window_batch": 64}


def test_there_are_saliency_pipelines_besides_the_default():
    assert {p.name for p in PIPELINES} >= {"resnet-saliency.yaml", "resnet-saliency-study.yaml"}
    assert len(PIPELINES) >= 4


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_saliency_pipeline_passes_the_core_validation(path):
    pipeline = load_pipeline(path)
    assert pipeline.detector is not None and pipeline.detector.name == "resnet-saliency"
    assert path.read_text().startswith("#")  # the header says what the variant is


@pytest.mark.parametrize(("params", "field"), [
    ({"architecture": "resnet50", "patch_size": 224}, "inference"),
    ({"patch_size": 224}, "patch_size"),
    ({"architecture": "densenet121", "patch_size": 16, "inference": "study"}, "patch_size"),
    ({"hard_negatives": {"proposer": "no-such-proposer"}}, "no-such-proposer"),
    ({"hard_negatives": {"proposer": "hdog", "share": 1.5}}, "share"),
])
def test_invalid_combinations_name_the_field(params, field):
    with pytest.raises(ValidationError, match=field):
        SaliencyDetector.Config(**params)


@pytest.mark.parametrize("architecture", ["resnet50", "densenet121", "efficientnet_b0", "efficientnet_b3"])
def test_torchvision_nets_take_one_channel_and_give_one_logit(architecture):
    net = build_net(SaliencyDetector.Config(architecture=architecture, patch_size=32, inference="study")).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 1, 32, 32)).shape == (2,)


def test_a_torchvision_net_learns_a_fixed_batch():
    config = SaliencyDetector.Config(**TINY_NET)
    image = detector_test_image(seed=3)
    x, y = sample_image(image, PatchSpec(32, negative_ratio=3), 9, np.random.default_rng(0))
    torch.manual_seed(0)
    net = build_net(config).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    batch, labels = torch.from_numpy(x)[:, None], torch.from_numpy(y)
    losses = []
    for _ in range(8):
        loss = F.binary_cross_entropy_with_logits(net(batch), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_a_torchvision_detector_fits_with_hard_negatives_and_its_weights_round_trip(tmp_path):
    train, validation = detector_streams()
    hard = {"proposer": "hdog", "share": 0.5}
    detector = SaliencyDetector(**TINY_NET, hard_negatives=hard).fit(train, validation,
                                                                     TrainingContext.temporary(seed=0))
    assert len(detector.weights_) > 100 and any(k.startswith("backbone.features.") for k in detector.weights_)
    detector.save_state(tmp_path)
    again = SaliencyDetector(**TINY_NET)  # hard negatives shape training only
    again.load_state(tmp_path)
    image = detector_test_image(seed=50)
    first, second = detector.detect(image.pixels, image.mask), again.detect(image.pixels, image.mask)
    assert len(first) > 0
    np.testing.assert_array_equal(first.score, second.score)
    np.testing.assert_array_equal(first.x, second.x)


def test_windows_are_classified_in_batches_and_only_over_the_breast():
    config = SaliencyDetector.Config(**TINY_NET)
    torch.manual_seed(0)
    inference = Inference(config, module_arrays(build_net(config)), "cpu")
    image = detector_test_image(seed=5)
    pixels = standardised(image.pixels, image.mask)
    everywhere = inference.sliding(pixels, 8, batch=1024)
    breast = inference.sliding(pixels, 8, batch=7, region=image.mask)
    assert np.isfinite(everywhere).all() and not np.isfinite(breast).all() and np.isfinite(breast).any()
    kept = np.isfinite(breast)
    np.testing.assert_allclose(breast[kept], everywhere[kept], atol=1e-5)


def test_with_share_one_every_negative_is_a_proposer_candidate_away_from_targets():
    image = detector_test_image(seed=2)
    config = SaliencyDetector.Config(hard_negatives={"proposer": "hdog", "share": 1.0})
    candidates = hard_candidates(config, ImageStream.from_images([image]))[0]
    spec = PatchSpec(16, exclusion=8.0)
    allowed = candidates[far_from(candidates, target_centres(image), spec.exclusion)]
    assert len(allowed) >= 2 and len(allowed) < len(candidates)  # some candidates lie on the disks
    x, y = sample_image(image, spec, 30, np.random.default_rng(1), hard=candidates, hard_share=1.0)
    negatives = x[y == 0]
    assert len(negatives) == 30
    source = standardised(image.pixels, image.mask)
    choices = cut(source, allowed, 16)
    for patch in negatives:
        assert np.abs(choices - patch).max(axis=(1, 2)).min() == 0  # cut at one of the allowed candidates


def test_without_hard_negatives_the_draws_are_unchanged():
    image = detector_test_image(seed=2)
    spec = PatchSpec(16)
    plain = sample_image(image, spec, 20, np.random.default_rng(4))
    off = sample_image(image, spec, 20, np.random.default_rng(4), hard=np.array([[40.0, 40.0]]), hard_share=0.0)
    for a, b in zip(plain, off, strict=True):
        np.testing.assert_array_equal(a, b)
