"""A model directory reads nothing from outside itself, refuses malformed files with its own error, and can be
pinned by one digest (`calcdet model hash`, `--expect-digest`), since checksums.json only catches accidents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.io.model_dir import ModelDirError, load_model, model_digest, save_model, sha256
from calcdet_core.run.pipeline import build_pipeline

PIPELINE = {"name": "gm-only", "proposer": {"plugin": "gm"}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return save_model(tmp_path_factory.mktemp("models") / "gm", build_pipeline(PIPELINE), {"note": "untrained"})


@pytest.fixture
def model(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model", symlinks=True))


def resign(model: Path, extra: dict[str, str] | None = None) -> None:
    """What anyone who edits a model can do: recompute checksums.json (plus entries of their choice)."""
    doc = json.loads((model / "checksums.json").read_text())
    doc["files"] = {name: sha256(model / name) for name in doc["files"] if (model / name).is_file()} | (extra or {})
    (model / "checksums.json").write_text(json.dumps(doc))


def refused(model: Path, pattern: str) -> None:
    with pytest.raises(ModelDirError, match=pattern):
        load_model(model)


def test_untouched_copy_loads(model):
    assert load_model(model).proposer is not None


def test_absolute_entry_with_its_real_hash_is_refused(model, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    resign(model, {str(secret): sha256(secret)})
    refused(model, r"names '/.*secret\.txt', outside the model directory")


def test_wrong_hash_of_an_outside_file_tells_nothing(model, tmp_path):
    resign(model, {str(tmp_path / "exists-or-not"): "0" * 64, "../x": "0" * 64})
    with pytest.raises(ModelDirError) as caught:
        load_model(model)
    assert "outside the model directory" in str(caught.value) and "missing" not in str(caught.value)


def test_symlinked_file_and_folder_are_refused(model, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "state.json").write_text("{}")
    (model / "components").mkdir()
    (model / "components" / "proposer-gm").symlink_to(outside, target_is_directory=True)
    resign(model, {"components/proposer-gm/state.json": sha256(outside / "state.json")})
    refused(model, r"components/proposer-gm: a symbolic link")
    (model / "components" / "proposer-gm").unlink()
    (model / "components" / "proposer-gm").mkdir()
    (model / "components" / "proposer-gm" / "state.json").symlink_to(outside / "state.json")
    refused(model, r"components/proposer-gm/state\.json: a symbolic link")


@pytest.mark.parametrize("text, pattern", [
    ("not json", r"checksums\.json is unreadable"),
    ("[1, 2]", r"checksums\.json: expected"),
    ('{"files": ["pipeline.yaml"]}', r"checksums\.json: expected"),
    ('{"algorithm": "md5", "files": {}}', r"checksums\.json: expected"),
    ('{"files": {"pipeline.yaml": 5}}', r"checksums\.json: 'pipeline\.yaml': not a SHA-256"),
    ("[" * 100_000 + "]" * 100_000, r"checksums\.json is unreadable"),
])
def test_malformed_checksums_are_refused_by_name(model, text, pattern):
    (model / "checksums.json").write_text(text)
    refused(model, pattern)


@pytest.mark.parametrize("text", ['{"slot": "proposer"}', '["gm"]', '[{"slot": 1, "kind": "proposers"}]', "{",
                                  "[" * 100_000 + "]" * 100_000])
def test_malformed_plugins_json_is_refused_by_name(model, text):
    (model / "plugins.json").write_text(text)
    resign(model)
    refused(model, r"plugins\.json")


@pytest.mark.parametrize("text, pattern", [
    ("name: [unclosed", r"pipeline\.yaml is unreadable"),
    ("- a list\n", r"pipeline\.yaml: expected a mapping"),
    ("name: x\nproposer: {plugin: no-such-proposer}\n", r"no-such-proposer"),
    ("name: x\nname: y\n", r"pipeline\.yaml is unreadable.*duplicate key 'name'"),
    ("a: " + "[" * 10_000 + "]" * 10_000, r"pipeline\.yaml is unreadable.*nested too deeply"),
])
def test_malformed_pipeline_yaml_is_refused_by_name(model, text, pattern):
    (model / "pipeline.yaml").write_text(text)
    resign(model)
    refused(model, pattern)


def test_digest_covers_every_file_and_refuses_links(model, tmp_path):
    first = model_digest(model)
    assert first == model_digest(model) and len(first) == 64
    (model / "pipeline.yaml").write_text((model / "pipeline.yaml").read_text() + "# edited\n")
    resign(model)
    load_model(model)  # checksums recomputed: loads, which is why a site pins the digest
    assert model_digest(model) != first
    (model / "link").symlink_to(tmp_path)
    with pytest.raises(ModelDirError, match="link: a symbolic link"):
        model_digest(model)


def test_model_hash_and_expect_digest_on_the_command_line(model, tmp_path):
    app = create_app()
    runner = CliRunner()
    printed = runner.invoke(app, ["model", "hash", str(model)])
    assert printed.exit_code == 0 and printed.stdout.strip() == f"sha256:{model_digest(model)}"
    release = generate_release(tmp_path / "release", 2, seed=3, height=256, width=192)
    args = ["detect", str(model), "--dataset", "inbreast", "--root", str(release), "--out", str(tmp_path / "d.csv")]
    assert runner.invoke(app, [*args, "--expect-digest", printed.stdout.strip()]).exit_code == 0
    other = runner.invoke(app, [*args, "--expect-digest", "sha256:" + "0" * 64])
    assert other.exit_code == 1 and "not the expected" in other.output and "Traceback" not in other.output
    evaluate = runner.invoke(app, ["evaluate", str(model), "--dataset", "inbreast", "--root", str(release),
                                   "--out", str(tmp_path / "eval"), "--expect-digest", "0" * 64])
    assert evaluate.exit_code == 1 and "not the expected" in evaluate.output


def test_a_file_no_checksum_covers_is_refused_wherever_it_lies(model):
    (model / "notes.txt").write_text("added after training")
    refused(model, r"notes\.txt: not covered by checksums\.json")


def test_a_component_plugins_json_does_not_list_is_refused(model):
    (model / "plugins.json").write_text("[]")
    resign(model)
    refused(model, r"proposer: plugins\.json holds no record of 'gm'")
