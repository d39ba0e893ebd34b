"""Every pipeline the project ships validates, builds its components and is named after its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcdet_core.run.pipeline import load_pipeline

SHIPPED = sorted((Path(__file__).resolve().parents[1] / "pipelines").glob("*.yaml"))


def test_the_project_ships_pipelines():
    assert len(SHIPPED) >= 19


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_pipeline_validates_and_builds_every_component(path):
    pipeline = load_pipeline(path)
    assert pipeline.spec.name == path.stem, "reproduce keeps each model in a folder of the pipeline's name"
    assert list(pipeline.components()), "a pipeline holds at least one component"
    assert pipeline.detector is not None or pipeline.proposer is not None
