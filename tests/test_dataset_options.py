"""A dataset adapter's settings (`--dataset-option KEY=VALUE`, `dataset_options=` in Python): validated like a
component's, applied in every process that reads the dataset, and recorded with what was computed from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.errors import InvalidInputError
from calcdet_core.run.pipeline import PreprocessSpec
from calcdet_core.run.sources import DatasetChoice, DatasetRef, load_working, resolve_record
from calcdet_core.run.stamps import input_stamp

app = create_app()
GM = Path(__file__).parents[1] / "pipelines" / "gm.yaml"


def calcdet(*args: str | Path, code: int = 0) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """PNGs (which state no spacing) of 3 patients; one 20 px calcification: an MC at 0.035 mm, too wide at 0.07."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:120, :96]
    for p in range(3):
        for view in ("CC", "MLO"):
            pixels = rng.integers(800, 1200, (120, 96)).astype(np.float64)
            for cx, cy in ((30, 40), (60, 80), (50, 30)):
                pixels += 2500 * np.exp(-((xx - cx - p) ** 2 + (yy - cy) ** 2) / 6)
            (root / f"p{p}").mkdir(exist_ok=True)
            Image.fromarray(pixels.astype(np.uint16)).save(root / f"p{p}" / f"img_L_{view}.png")
    (root / "annotations.csv").write_text("image,x,y,diameter\np0/img_L_CC,30,40,20\np1/img_L_CC,61,80,4\n")
    return root


def test_settings_are_validated_by_the_adapters_config():
    with pytest.raises(InvalidInputError, match=r"--dataset-option spacin_mm: unknown folder setting 'spacin_mm'; "
                                                r"did you mean 'spacing_mm'\?"):
        DatasetChoice.of("folder", {"spacin_mm": 0.1})
    with pytest.raises(InvalidInputError, match=r"dataset_options spacing_mm: Input should be less than or equal to 1"):
        DatasetChoice.of("folder", {"spacing_mm": 2}, "dataset_options")


def test_only_settings_other_than_the_defaults_make_a_different_choice(root):
    assert DatasetChoice.of("folder", {"spacing_mm": 0.07}) == DatasetChoice("folder")
    chosen = DatasetChoice.of("folder", {"spacing_mm": 0.035})
    assert chosen.settings == {"spacing_mm": 0.035} and chosen.identity == 'folder {"spacing_mm": 0.035}'
    record = DatasetChoice("folder").adapter().index(root).records[0]
    assert input_stamp(record, chosen, str(root)) != input_stamp(record, DatasetChoice("folder"), str(root))


def test_a_worker_finds_the_record_read_with_the_same_settings(root):
    chosen = DatasetChoice.of("folder", {"spacing_mm": 0.035})
    record = resolve_record(DatasetRef(chosen, str(root), "p0/img_L_CC"))
    assert len(record.annotation.targets) == 1, "20 px at 0.035 mm is a 0.7 mm MC"
    assert not resolve_record(DatasetRef(DatasetChoice("folder"), str(root), "p0/img_L_CC")).annotation.targets
    image, _ = load_working(record, PreprocessSpec(crop_breast=False))
    assert image.pixels.shape == (60, 48), "a PNG at 0.035 mm is resampled to the 0.07 mm working grid"


def test_detect_reads_the_dataset_with_its_settings_in_worker_processes_too(root, tmp_path):
    options = ("--dataset", "folder", "--root", root, "--dataset-option", "spacing_mm=0.14", "--min-score", "all")
    calcdet("detect", GM, *options, "--out", tmp_path / "serial.csv")
    calcdet("detect", GM, *options, "--workers", "2", "--out", tmp_path / "workers.csv")
    calcdet("detect", GM, "--dataset", "folder", "--root", root, "--out", tmp_path / "default.csv")
    serial, workers, default = ((tmp_path / f"{n}.csv").read_text() for n in ("serial", "workers", "default"))
    assert serial == workers
    assert serial != default, "0.14 mm pixels are enlarged to the working grid: other candidates"


def test_evaluate_records_the_settings_and_counts_the_truth_they_give(root, tmp_path):
    split = ("--split", "all")
    calcdet("evaluate", GM, "--dataset", "folder", "--root", root, *split, "--out", tmp_path / "default")
    calcdet("evaluate", GM, "--dataset", "folder", "--root", root, *split, "--out", tmp_path / "fine",
            "--dataset-option", "spacing_mm=0.035")
    default, fine = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("default", "fine"))
    assert "dataset_settings" not in default and fine["dataset_settings"] == {"spacing_mm": 0.035}
    assert (default["targets"], fine["targets"]) == (1, 2)
    calcdet("score", tmp_path / "fine" / "detections.csv", "--dataset", "folder", "--root", root, "--out",
            tmp_path / "scored", "--dataset-option", "spacing_mm=0.035")
    assert json.loads((tmp_path / "scored" / "metrics.json").read_text())["targets"] == 2


@pytest.mark.parametrize("args, message", [
    (("detect", GM, "--dataset-option", "spacing_mm=0.1", "x.dcm"), "--dataset-option sets the --dataset adapter"),
    (("dataset", "summary", "--dataset", "folder", "--dataset-option", "spacing_mm"),
     "--dataset-option expects KEY=VALUE"),
    (("dataset", "summary", "--dataset", "folder", "--dataset-option", "spacing_mm=1", "--dataset-option",
      "spacing_mm=0.1"), "--dataset-option spacing_mm is given twice"),
    (("validate", "gm", "--dataset", "folder", "--dataset-option", "annotation=a.csv"),
     "unknown folder setting 'annotation'; did you mean 'annotations'?"),
])
def test_a_wrong_option_is_one_line_naming_it(root, args, message):
    out = calcdet(*args, *(("--root", root) if "--dataset" in args else ()), code=1)
    assert message in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out


def test_describe_says_how_to_set_an_adapters_settings():
    assert "--dataset folder --dataset-option KEY=VALUE" in calcdet("describe", "folder")


def test_train_records_the_settings_and_model_show_prints_them(root, tmp_path):
    (tmp_path / "gm.yaml").write_text("name: gm-only\nproposer: {plugin: gm}\n")
    calcdet("train", tmp_path / "gm.yaml", "--dataset", "folder", "--root", root, "--out", tmp_path / "model",
            "--dataset-option", "spacing_mm=0.035", "--quiet")
    trained = json.loads((tmp_path / "model" / "training_metrics.json").read_text())["dataset"]
    assert (trained["name"], trained["settings"]) == ("folder", {"spacing_mm": 0.035})
    assert "trained on folder --dataset-option spacing_mm=0.035 at" in calcdet("model", "show", tmp_path / "model")
