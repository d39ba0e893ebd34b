"""Pipeline YAML: complete validation with YAML paths, before any work starts."""

from __future__ import annotations

import pytest
import yaml

from calcdet_core.plugins.registry import build_registry
from calcdet_core.run.pipeline import PipelineValidationError, build_pipeline, load_pipeline


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def issues_of(raw, registry) -> list[str]:
    with pytest.raises(PipelineValidationError) as info:
        build_pipeline(raw, registry=registry)
    return [str(i) for i in info.value.issues]


def test_proposer_only_pipeline_builds_with_defaults(registry):
    pipeline = build_pipeline({"name": "p", "proposer": {"plugin": "local-contrast", "params": {"k": 5}}},
                              registry=registry)
    assert pipeline.proposer is not None and pipeline.proposer.config.k == 5
    resolved = pipeline.resolved()
    assert resolved["proposer"] == {"plugin": "local-contrast",
                                    "params": {"surround_radius": 7, "k": 5.0, "radius": 3.0}}
    assert resolved["preprocess"] == {"crop_breast": True, "flip_to_left": True, "working_spacing_mm": 0.07}
    again = build_pipeline(yaml.safe_load(yaml.safe_dump(resolved)), registry=registry)
    assert again.resolved() == resolved


def test_every_error_is_reported_at_its_yaml_path(registry):
    raw = {
        "name": "bad",
        "preprocess": {"crop_breast": "maybe", "flip": True},
        "proposer": {"plugin": "local-contrast", "params": {"k": -1, "surround_radius": 0, "typo": 1}},
        "evaluators": [{"plugin": "no-such-evaluator"}],
    }
    found = issues_of(raw, registry)
    assert "preprocess.crop_breast: Input should be a valid boolean, unable to interpret input" in found
    assert "preprocess.flip: unknown key 'flip'; expected one of crop_breast, flip_to_left, working_spacing_mm" in found
    assert "proposer.params.k: Input should be greater than 0" in found
    assert "proposer.params.surround_radius: Input should be greater than or equal to 1" in found
    assert "proposer.params.typo: unknown local-contrast parameter 'typo'; expected one of surround_radius, k, " \
           "radius" in found
    assert any(i.startswith("evaluators[0].plugin: no evaluator plugin named 'no-such-evaluator'") for i in found)
    assert len(found) == 6


def test_unknown_plugin_gets_close_names(registry):
    found = issues_of({"name": "x", "proposer": {"plugin": "local-contrasts"}}, registry)
    assert found == ["proposer.plugin: no proposer plugin named 'local-contrasts'; did you mean 'local-contrast'?"]


def test_plugin_of_the_wrong_kind_in_a_slot(registry):
    found = issues_of({"name": "x", "proposer": {"plugin": "local-contrast"},
                       "features": [{"plugin": "local-contrast"}], "classifier": {"plugin": "local-contrast"}},
                      registry)
    assert any(i.startswith("features[0].plugin: no feature plugin named 'local-contrast' "
                            "('local-contrast' is a proposer plugin)") for i in found)
    assert any(i.startswith("classifier.plugin: no classifier plugin named 'local-contrast'") for i in found)


def test_structure_rules(registry):
    assert issues_of({"name": "x"}, registry) == [
        "a pipeline needs a 'proposer' (optionally with 'features' and 'classifier') or a 'detector'"]
    found = issues_of({"name": "x", "proposer": {"plugin": "local-contrast"}, "detector": {"plugin": "d"}},
                      registry)
    assert any(i.startswith("proposer: cannot be combined with 'detector'") for i in found)
    assert build_pipeline({"name": "x", "proposer": {"plugin": "local-contrast"}, "features": []},
                          registry=registry).features == []
    found = issues_of({"name": "x", "proposer": {"plugin": "local-contrast"}, "classifier": {"plugin": "c"}},
                      registry)
    assert "classifier: a classifier needs 'features' to score" in found


def test_missing_keys_and_wrong_types(registry):
    found = issues_of({"proposer": {"params": {}}, "features": "fos"}, registry)
    assert "name: Field required" in found
    assert "proposer.plugin: Field required" in found
    assert "features: Input should be a valid list" in found


def test_yaml_file_errors_name_the_file(tmp_path, registry):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(PipelineValidationError, match=r"(?s)broken\.yaml.*invalid YAML.*line 1"):
        load_pipeline(path, registry=registry)
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(PipelineValidationError, match="invalid YAML"):
        load_pipeline(path, registry=registry)
