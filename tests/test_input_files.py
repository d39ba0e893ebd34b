"""User text files (pipeline YAML, CSVs): duplicate keys, foreign encodings and oversized files are refused."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from calcdet_core.errors import InvalidInputError
from calcdet_core.io.detections_csv import read_detections_csv
from calcdet_core.io.folder import FolderDataset
from calcdet_core.plugins.registry import build_registry
from calcdet_core.run.pipeline import MAX_PIPELINE_BYTES, PipelineValidationError, load_pipeline


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def _calcdet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("text, key, line, first", [
    ("name: p\nproposer:\n  plugin: local-contrast\nproposer:\n  plugin: hdog\n", "proposer", 4, 2),
    ("name: p\nproposer:\n  plugin: local-contrast\n  params:\n    k: 3\n    k: 5\n", "k", 6, 5),
])
def test_a_duplicate_yaml_key_is_refused_with_its_line(tmp_path, registry, text, key, line, first):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(PipelineValidationError) as info:
        load_pipeline(path, registry=registry)
    assert f"duplicate key '{key}' on line {line} (first given on line {first})" in str(info.value)
    assert str(path) in str(info.value)


def test_the_same_key_in_different_mappings_is_fine(tmp_path, registry):
    path = tmp_path / "ok.yaml"
    path.write_text("name: p\nproposer:\n  plugin: local-contrast\n  params: {k: 3}\n"
                    "features:\n  - {plugin: fos}\n  - {plugin: context}\nclassifier: {plugin: svm-cascade}\n")
    assert load_pipeline(path, registry=registry).proposer.config.k == 3


def test_a_non_utf8_pipeline_is_a_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: détecteur\nproposer:\n  plugin: local-contrast\n".encode("latin-1"))
    done = _calcdet("validate", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {path}: the pipeline file is not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8"]


def test_an_oversized_pipeline_is_refused_before_parsing(tmp_path, registry):
    path = tmp_path / "huge.yaml"
    path.write_text("name: p\n" + "# padding\n" * (MAX_PIPELINE_BYTES // 10 + 1))
    with pytest.raises(InvalidInputError, match=rf"huge\.yaml: the pipeline file is \d+ bytes, over the "
                                                 rf"{MAX_PIPELINE_BYTES}-byte limit"):
        load_pipeline(path, registry=registry)


def test_a_non_utf8_detections_csv_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "detections.csv"
    path.write_bytes(b"image_id,x,y,radius,score\nimg\xff1,1,2,3,0.5\n")
    with pytest.raises(InvalidInputError, match=r"detections\.csv: the detections CSV is not UTF-8 text "
                                                r"\(byte 0xff on line 2\)"):
        read_detections_csv(path)


def test_a_non_utf8_annotations_csv_is_an_error_naming_the_file(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((20, 16), 300, np.uint16)).save(tmp_path / "a.png")
    (tmp_path / "annotations.csv").write_bytes("image,x,y,diameter\nä.png,1,2,3\n".encode("cp1252"))
    with pytest.raises(InvalidInputError, match=r"annotations\.csv: the annotations CSV is not UTF-8 text"):
        FolderDataset().index(tmp_path)
