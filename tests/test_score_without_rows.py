"""`calcdet score` says when selected images have no row in the detections file, and `--strict` refuses it."""

from __future__ import annotations

import json
import textwrap
import types

import pytest
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.plugins.registry import build_registry
from tests.test_cli_evaluate import TINY_ADAPTER, write_csv


@pytest.fixture(scope="module")
def app():
    module = types.ModuleType("tiny_test_dataset_rows")
    exec(textwrap.dedent(TINY_ADAPTER), module.__dict__)
    return create_app(build_registry(extra_plugins=[("tiny-test-dataset", module)], autoload=False))


def _root(out):
    """The tiny dataset's root beside the output folder (calcdet never writes into an input folder)."""
    root = out.parent / "dataset"
    root.mkdir(exist_ok=True)
    return root


def score(app, csv, out, *extra: str):
    return CliRunner().invoke(app, ["score", str(csv), "--dataset", "tiny-test", "--root", str(_root(out)),
                                    "--out", str(out), *extra])


def test_header_only_file_warns_and_strict_fails(app, tmp_path):
    csv = write_csv(tmp_path / "empty.csv", [])
    result = score(app, csv, tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "no detection row at all" in result.output and "6 selected" in result.output
    strict = score(app, csv, tmp_path / "strict", "--strict")
    assert strict.exit_code == 1 and "no detection row at all" in strict.output and "--strict" in strict.output
    assert not (tmp_path / "strict").exists()  # refused before anything was written


def test_partial_file_names_the_images_without_rows(app, tmp_path):
    csv = write_csv(tmp_path / "part.csv", [("img1", 30, 40, 5, 0.9), ("img3", 70, 20, 5, 0.8)])
    result = score(app, csv, tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "no row for 4 of the 6 selected image(s)" in result.output and "'img0'" in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["images_without_rows"] == ["img0", "img2", "img4", "img5"]
    assert score(app, csv, tmp_path / "strict", "--strict").exit_code == 1


def test_complete_file_gives_no_warning(app, tmp_path):
    csv = write_csv(tmp_path / "all.csv", [(f"img{i}", 30, 40, 5, 0.5) for i in range(6)])
    result = score(app, csv, tmp_path / "run", "--strict")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_an_output_that_cannot_be_a_folder_is_refused_before_the_detections_are_read(app, tmp_path):
    csv = tmp_path / "not-read.csv"
    csv.write_text("this is not a detections file")
    taken = tmp_path / "a-file"
    taken.write_text("x")
    result = score(app, csv, taken)
    assert result.exit_code == 1 and "is a file" in result.output and "not-read.csv" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
