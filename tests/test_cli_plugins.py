"""The plugin commands, run as a user runs them: `calcdet` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.fake_dists import BROKEN_IMPORT, CLASHING, write_dist


def calcdet(*args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_list_plugins_json_shows_builtins_and_third_party():
    out = calcdet("list-plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert all(set(r) == {"kind", "name", "qualified", "note", "distribution", "version", "module", "description",
                          "error"} for r in rows)
    example = [r for r in rows if r["name"] == "local-contrast"]
    assert example == [{"kind": "proposers", "name": "local-contrast",
                        "qualified": "calcdet-example-plugin:local-contrast", "note": None,
                        "distribution": "calcdet-example-plugin",
                        "version": "0.1.0", "module": "calcdet_example.local_contrast:LocalContrastProposer",
                        "description": example[0]["description"], "error": None}]
    assert any(r["distribution"] == "calcdet" for r in rows), "built-ins register through the same hooks"


def test_list_plugins_kind_filter():
    rows = json.loads(calcdet("list-plugins", "--kind", "proposers", "--json").stdout)
    assert rows and {r["kind"] for r in rows} == {"proposers"}
    bad = calcdet("list-plugins", "--kind", "proposerz")
    assert bad.returncode != 0 and "unknown kind 'proposerz'" in bad.stderr


def test_broken_and_name_sharing_plugins_are_listed_without_hiding_others(tmp_path):
    write_dist(tmp_path, "broken-dist", "broken_calcdet_mod", BROKEN_IMPORT)
    write_dist(tmp_path, "aaa-clash-dist", "clash_calcdet_mod", CLASHING)
    out = calcdet("list-plugins", "--json", pythonpath=str(tmp_path))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    errors = {r["distribution"]: r["error"] for r in rows if r["error"]}
    assert "no_such_module_for_calcdet_tests" in errors["broken-dist"]
    assert "aaa-clash-dist" not in errors, "a shared name is no error"
    shared = {r["qualified"]: r["note"] for r in rows if r["name"] == "local-contrast"}
    assert set(shared) == {"aaa-clash-dist:local-contrast", "calcdet-example-plugin:local-contrast"}
    assert all("calcdet-example-plugin" in note and "aaa-clash-dist" in note for note in shared.values())
    assert "always-centre" in {r["name"] for r in rows if not r["error"]}
    table = calcdet("list-plugins", pythonpath=str(tmp_path))
    assert table.returncode == 0 and "broken-dist" in table.stdout and "local-contrast" in table.stdout
    strict = calcdet("list-plugins", "--strict", pythonpath=str(tmp_path))
    assert strict.returncode == 1


def test_describe_shows_parameters_and_schema():
    out = calcdet("describe", "local-contrast")
    assert out.returncode == 0, out.stderr
    for text in ("surround_radius", "Half-width of the surround box", "4.0", ">= 1, <= 64", "> 0"):
        assert text in out.stdout
    schema = json.loads(calcdet("describe", "local-contrast", "--json").stdout)
    assert schema["properties"]["k"]["default"] == 4.0 and schema["additionalProperties"] is False
    missing = calcdet("describe", "local-contrst")
    assert missing.returncode == 1 and "did you mean 'local-contrast'" in missing.stderr


def test_validate_reports_every_error_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nproposer:\n  plugin: local-contrast\n  params: {k: 0, surround_radius: -2}\n")
    out = calcdet("validate", str(bad))
    assert out.returncode == 1
    assert "proposer.params.k: Input should be greater than 0" in out.stderr
    assert "proposer.params.surround_radius: Input should be greater than or equal to 1" in out.stderr
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nproposer: {plugin: local-contrast}\n")
    ok = calcdet("validate", str(good))
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_validate_suggests_parameter_and_key_names(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("name: typo\nproposr: {plugin: local-contrast}\n"
                   "proposer: {plugin: local-contrast, params: {surround_raduis: 5, zzz: 1}}\n")
    out = calcdet("validate", str(bad))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "proposer.params.surround_raduis: unknown local-contrast parameter 'surround_raduis'; did you mean " \
           "'surround_radius'?" in out.stderr
    assert "proposer.params.zzz: unknown local-contrast parameter 'zzz'; expected one of surround_radius, k, " \
           "radius" in out.stderr
    assert "proposr: unknown key 'proposr'; did you mean 'proposer'?" in out.stderr


def test_validate_names_the_plugin_that_failed_to_import(tmp_path):
    write_dist(tmp_path, "calcdet-blobs", "blobs", BROKEN_IMPORT)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: p\nproposer: {plugin: blobs}\n")
    out = calcdet("validate", str(pipeline), pythonpath=str(tmp_path))
    assert out.returncode == 1
    message = " ".join(out.stderr.split())
    assert "proposer.plugin: no proposer plugin named 'blobs'" in message
    assert "blobs (calcdet-blobs): Error importing plugin 'blobs'" in message
    assert "No module named 'no_such_module_for_calcdet_tests'" in message and "none is installed" not in message
