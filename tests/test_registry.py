"""Discovery: built-ins, third-party entry points, and failures that never hide the rest."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from calcdet_core.api import Candidates, Proposer
from calcdet_core.cli.app import create_app
from calcdet_core.contracts.hookspecs import hookimpl
from calcdet_core.plugins.registry import UnknownPluginError, build_registry, use_registry
from calcdet_core.run.pipeline import build_pipeline, load_pipeline
from calcdet_core.run.shipped import pipeline_path
from tests.fake_dists import (
    BROKEN_IMPORT,
    CLASHING,
    GM_NAMED_OUTSIDE,
    MISSPELLED_HOOK,
    RAISING_HOOK,
    THIRD_PARTY_FROC,
    WRONG_RETURN,
    write_dist,
)


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


@pytest.mark.parametrize("dist", ["aaa-clash-dist", "zzz-clash-dist"])  # sorts before / after the example plugin
def test_two_outside_plugins_with_one_name_are_both_loaded_under_their_qualified_names(fake_site, dist):
    write_dist(fake_site, dist, "clash_calcdet_mod", CLASHING)
    registry = build_registry()
    rows = [e for e in registry.entries if e.kind == "proposers" and e.name == "local-contrast"]
    assert {e.distribution for e in rows} == {dist, "calcdet-example-plugin"}
    assert not registry.errors(), "a shared name is no error: each component is reached by its qualified name"
    assert not any(e.bare for e in rows), "neither wins the bare name, whatever the install order"
    assert registry.get("proposers", f"{dist}:local-contrast").__name__ == "Other"
    assert registry.get("proposers", "calcdet-example-plugin:local-contrast").__module__.startswith("calcdet_example")
    with pytest.raises(UnknownPluginError) as info:
        registry.get("proposers", "local-contrast")
    for qualified in (f"{dist}:local-contrast", "calcdet-example-plugin:local-contrast"):
        assert repr(qualified) in str(info.value)
    assert registry.entry("proposers", "always-centre").distribution == dist, "its other names resolve bare"


@pytest.mark.parametrize("dists", [["aaa-froc-dist"], ["zzz-froc-dist"], ["aaa-froc-dist", "zzz-froc-dist"]])
def test_a_builtin_name_always_stays_the_builtin(fake_site, dists):
    for i, dist in enumerate(dists):
        write_dist(fake_site, dist, f"froc_calcdet_mod{i}", THIRD_PARTY_FROC)
    registry = build_registry()
    winner = registry.entry("evaluators", "froc")
    assert winner.distribution == "calcdet" and winner.component.__name__ != "ThirdPartyFroc"
    assert not registry.errors()
    for dist in dists:
        outside = registry.entry("evaluators", f"{dist}:froc")
        assert outside.component.__name__ == "ThirdPartyFroc" and not outside.bare
        assert "calcdet's built-in" in outside.note and f"'{dist}:froc'" in outside.note


def test_an_outside_component_named_like_calcdets_own_never_changes_a_shipped_pipeline(fake_site):
    write_dist(fake_site, "aaa-tophat-dist", "tophat_calcdet_mod", GM_NAMED_OUTSIDE)
    registry = build_registry()
    own = registry.entry("proposers", "gm")
    assert own.distribution == "calcdet-gm" and own.bare
    outside = registry.entry("proposers", "aaa-tophat-dist:gm")
    assert outside.component.__name__ == "TopHat" and outside.usable_name == "aaa-tophat-dist:gm"
    assert "calcdet-gm's (calcdet's own)" in outside.note
    assert not registry.errors()
    with use_registry(registry):
        for name in ("aia-ml", "gm"):
            pipeline = load_pipeline(pipeline_path(name))
            assert type(pipeline.proposer).__module__.startswith("calcdet_gm")
        chosen = build_pipeline({"name": "t", "proposer": {"plugin": "aaa-tophat-dist:gm"}})
        assert type(chosen.proposer).__name__ == "TopHat"
        assert chosen.resolved()["proposer"]["plugin"] == "aaa-tophat-dist:gm", "a model keeps the qualified name"
        assert build_pipeline(chosen.resolved()).proposer.__class__ is type(chosen.proposer)
    result = CliRunner().invoke(create_app(registry), ["list-plugins", "--strict", "--kind", "proposers", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads(result.output) if r["distribution"] == "aaa-tophat-dist"]
    assert row["qualified"] == "aaa-tophat-dist:gm" and row["error"] is None and "calcdet-gm" in row["note"]


def test_same_name_in_another_kind_is_no_clash():
    class Folder(Proposer):
        name = "folder"  # also the built-in dataset adapter's name

        def propose(self, image, mask=None):
            return Candidates.empty()

    class Plugin:
        calcdet_contract = 2

        @hookimpl
        def calcdet_register_proposers(self):
            return [Folder]

    registry = build_registry(extra_plugins=[("folder-proposer-dist", Plugin())], autoload=False)
    assert not registry.errors()
    assert registry.get("proposers", "folder") is Folder
    assert registry.entry("datasets", "folder").distribution == "calcdet"


def test_a_raising_hook_is_reported_and_the_plugin_named(fake_site):
    write_dist(fake_site, "raising-dist", "raising_calcdet_mod", RAISING_HOOK)
    registry = build_registry()
    (row,) = [e for e in registry.errors() if e.distribution == "raising-dist"]
    assert row.kind == "classifiers" and "RuntimeError: no licence file" in row.error


def test_hooks_are_called_through_pluggy_so_fewer_arguments_are_fine():
    calls = []

    class Plugin:
        calcdet_contract = 2

        @hookimpl
        def calcdet_register_commands(self):  # the spec passes `cli`; this implementation does not want it
            calls.append("called")

    registry = build_registry(extra_plugins=[("no-args-dist", Plugin())], autoload=False)
    callers = {source.distribution: call for source, call in registry.hook_callers("calcdet_register_commands")}
    assert next(iter(callers)) == "calcdet", "built-ins first"
    callers["no-args-dist"](cli=object())
    assert calls == ["called"]


def test_unknown_name_mentions_a_plugin_that_failed_to_import(fake_site):
    write_dist(fake_site, "calcdet-broken", "broken", BROKEN_IMPORT)
    registry = build_registry()
    with pytest.raises(UnknownPluginError) as info:
        registry.get("features", "broken")
    message = str(info.value)
    assert "failed to load" in message and "no_such_module_for_calcdet_tests" in message
    assert "calcdet-broken" in message and "none is installed" not in message


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
