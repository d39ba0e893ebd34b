"""Discovery: built-ins, third-party entry points, and failures that never hide the rest."""

from __future__ import annotations

import pytest

from calcdet_core.plugins.registry import UnknownPluginError, build_registry
from tests.fake_dists import BROKEN_IMPORT, CLASHING, MISSPELLED_HOOK, WRONG_RETURN, write_dist


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_example_third_party_plugin_is_discovered():
    registry = build_registry()
    entry = registry.entry("proposers", "local-contrast")
    assert entry.distribution == "calcdet-example-plugin"
    assert entry.module == "calcdet_example.local_contrast:LocalContrastProposer"
    assert entry.error is None


def test_broken_import_is_reported_and_others_still_load(fake_site):
    write_dist(fake_site, "broken-dist", "broken_calcdet_mod", BROKEN_IMPORT)
    registry = build_registry()
    errors = [e for e in registry.errors() if e.distribution == "broken-dist"]
    assert len(errors) == 1
    assert "Error importing plugin 'broken_calcdet_mod'" in errors[0].error
    assert "no_such_module_for_calcdet_tests" in errors[0].error
    assert "local-contrast" in registry.components("proposers")


def test_name_clash_names_both_distributions(fake_site):
    write_dist(fake_site, "aaa-clash-dist", "clash_calcdet_mod", CLASHING)
    registry = build_registry()
    winner = registry.entry("proposers", "local-contrast")
    clash = [e for e in registry.errors() if e.distribution == "aaa-clash-dist"]
    assert len(clash) == 1 and clash[0].name == "local-contrast"
    assert winner.distribution in clash[0].error
    assert registry.entry("proposers", "always-centre").distribution == "aaa-clash-dist"


def test_misspelled_hook_is_reported(fake_site):
    write_dist(fake_site, "typo-dist", "typo_calcdet_mod", MISSPELLED_HOOK)
    errors = [e for e in build_registry().errors() if e.distribution == "typo-dist"]
    assert len(errors) == 1 and "calcdet_register_proposer" in errors[0].error


def test_non_component_return_is_reported(fake_site):
    write_dist(fake_site, "wrong-dist", "wrong_calcdet_mod", WRONG_RETURN)
    errors = [e for e in build_registry().errors() if e.distribution == "wrong-dist"]
    assert len(errors) == 1 and "not a subclass of calcdet_core.FeatureExtractor" in errors[0].error
    assert errors[0].kind == "features"


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv("CALCDET_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = build_registry()
    assert "local-contrast" not in registry.components("proposers")
    assert all(e.distribution == "calcdet" for e in registry.entries)


def test_unknown_name_suggests_close_names():
    registry = build_registry()
    with pytest.raises(UnknownPluginError, match="did you mean 'local-contrast'"):
        registry.get("proposers", "local-contrst")


def test_unknown_name_of_another_kind_says_so():
    registry = build_registry()
    with pytest.raises(UnknownPluginError, match="is a proposer plugin"):
        registry.get("classifiers", "local-contrast")
