"""Every faster-rcnn pipeline (the default and the study's backbones) passes the core's pipeline validation."""

from pathlib import Path

import pytest

from calcdet_core.api import load_pipeline

ROOT = Path(__file__).resolve().parents[4]
PIPELINES = sorted((ROOT / "pipelines").glob("faster-rcnn*.yaml"))
STUDY_BACKBONES = {"faster-rcnn-resnet50.yaml": "resnet50", "faster-rcnn-densenet121.yaml": "densenet121",
                   "faster-rcnn-efficientnet-b3.yaml": "efficientnet-b3"}


def test_the_study_backbones_are_variants_beside_the_default():
    assert {p.name for p in PIPELINES} >= {"faster-rcnn.yaml", *STUDY_BACKBONES}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_faster_rcnn_pipeline_passes_the_core_validation(path):
    pipeline = load_pipeline(path)
    assert pipeline.detector is not None and pipeline.detector.name == "faster-rcnn"
    assert path.read_text().startswith("#")  # the header says what the pipeline is
    if path.name in STUDY_BACKBONES:
        config = pipeline.detector.config
        assert config.backbone == STUDY_BACKBONES[path.name]
        assert (config.window, config.train_stride, config.stride, config.anchor_sizes) == (224, 100, 200, (14,))
        assert (config.learning_rate, config.lr_step, config.lr_gamma, config.patience) == (1e-4, 3, 0.1, 3)
