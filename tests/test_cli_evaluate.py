"""`calcdet score` and `calcdet compare`: once as a user runs them (a subprocess with a tiny dataset plugin
installed on the path), and in-process for the other cases (the same plugin registered with ``extra_plugins``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types

import pytest
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.plugins.registry import build_registry
from tests.fake_dists import write_dist

TINY_ADAPTER = """
    from pathlib import Path

    import numpy as np
    from calcdet_core.api import Annotation, Dataset, DatasetAdapter, ImageRecord, Mammogram, Target, hookimpl

    calcdet_contract = 2


    def _record(i):
        image_id = f"img{i}"
        targets = () if i % 2 == 0 else (Target(30.0, 40.0), Target(70.0, 20.0))

        def load():
            return Mammogram(np.full((100, 100), 0.2 + 0.01 * i, np.float32), image_id)

        return ImageRecord(image_id, f"p{i}", Path(image_id), Annotation(targets=targets), load)


    class Tiny(DatasetAdapter):
        name = "tiny-test"
        description = "Six 100x100 images; the odd ones hold two MCs."

        def index(self, root):
            return Dataset("tiny-test", Path(root), [_record(i) for i in range(6)])


    @hookimpl
    def calcdet_register_datasets():
        return [Tiny]
"""


def calcdet(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    plugin_dir = tmp_path / "plugin"
    if not plugin_dir.exists():
        write_dist(plugin_dir, "tiny-test-dataset", "tiny_test_dataset_mod", TINY_ADAPTER)
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=os.pathsep.join(filter(None, [str(plugin_dir),
                                                                                    os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def in_process():
    """Run score/compare in this process, with the tiny adapter in a registry of built-ins only."""
    module = types.ModuleType("tiny_test_dataset_inproc")
    exec(textwrap.dedent(TINY_ADAPTER), module.__dict__)
    app = create_app(build_registry(extra_plugins=[("tiny-test-dataset", module)], autoload=False))

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args))

    return invoke


def dataset_root(tmp_path):
    """The tiny dataset's root: a folder of its own, since calcdet never writes into an input folder."""
    root = tmp_path / "dataset"
    root.mkdir(exist_ok=True)
    return root


def write_csv(path, rows):
    path.write_text("image_id,x,y,radius,score\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_score_as_a_user_runs_it(tmp_path):
    # img1: both MCs found (0.9, 0.6); img3: one found (0.8); img0 (normal): FPs at 0.7 and 0.3; others: none
    good = write_csv(tmp_path / "good.csv", [("img1", 30, 41, 3, 0.9), ("img1", 70, 20, 3, 0.6),
                                              ("img3", 31, 40, 3, 0.8), ("img0", 50, 50, 3, 0.7),
                                              ("img0", 10, 90, 3, 0.3)])
    out = calcdet(tmp_path, "score", str(good), "--dataset", "tiny-test", "--root", str(dataset_root(tmp_path)),
                  "--out", str(tmp_path / "run-good"), "--seed", "1")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "run-good" / "metrics.json").read_text())
    # 6 images, 3 normal, 6 targets. Points: (0, 2/6) at 0.8, (1/3, 2/6) at 0.7, (1/3, 3/6) at 0.6, (2/3, 3/6)
    assert (metrics["images"], metrics["normal_images"], metrics["targets"]) == (6, 3, 6)
    assert metrics["froc"]["sensitivity_at"]["0.5"] == 0.5
    assert metrics["froc"]["auc"] == pytest.approx((1 / 9 + (50 - 1 / 3) * 0.5) / 50)
    assert metrics["froc"]["bootstrap"]["seed"] == 1
    froc = metrics["froc"]
    printed = f"FROC AUC {froc['auc']:.3f} [{froc['auc_ci95'][0]:.3f}, {froc['auc_ci95'][1]:.3f}]"
    assert printed in out.stdout, "people read three decimals; metrics.json keeps full precision"
    page = (tmp_path / "run-good" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2


def test_compare_two_scored_runs(tmp_path, in_process):
    good = write_csv(tmp_path / "good.csv", [("img1", 30, 41, 3, 0.9), ("img1", 70, 20, 3, 0.6),
                                              ("img0", 50, 50, 3, 0.7)])
    weak = write_csv(tmp_path / "weak.csv", [("img1", 30, 41, 3, 0.2), ("img0", 50, 50, 3, 0.7)])
    for name, path in (("run-good", good), ("run-weak", weak)):
        result = in_process("score", str(path), "--dataset", "tiny-test", "--root", str(dataset_root(tmp_path)),
                            "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    result = in_process("compare", str(tmp_path / "run-good"), str(tmp_path / "run-weak"), "--out", str(tmp_path / "c"))
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert [r["run"] for r in summary["runs"]] == ["run-good", "run-weak"]
    good_auc = json.loads((tmp_path / "run-good" / "metrics.json").read_text())["froc"]["auc"]
    assert summary["runs"][0]["auc"] == good_auc > summary["runs"][1]["auc"]
    assert (tmp_path / "c" / "compare.png").stat().st_size > 0
    assert "run-weak" in (tmp_path / "c" / "compare.csv").read_text() and "FROC comparison" in result.stdout


def test_score_split_leaves_other_images_out_and_says_so(tmp_path, in_process):
    rows = [(f"img{i}", 30, 41, 3, 0.5) for i in range(6)]
    result = in_process("score", str(write_csv(tmp_path / "d.csv", rows)), "--dataset", "tiny-test", "--root",
                        str(dataset_root(tmp_path)), "--split", "test", "--out", str(tmp_path / "o"), "-e", "box-ap",
                        "--seed", "4")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["images"] + len(metrics["images_left_out"]) == 6 and metrics["images_left_out"]
    assert "not scored" in result.stderr and "not scored" not in result.stdout
    # the evaluators asked for, plus the FROC every report leads with (seeded by --seed)
    assert "box-ap" in metrics and "candidates" not in metrics and metrics["froc"]["bootstrap"]["seed"] == 4


def test_score_and_compare_refuse_bad_input_with_a_message(tmp_path, in_process):
    def run(*args):
        result = in_process(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        return " ".join(result.output.split())

    bad = write_csv(tmp_path / "bad.csv", [("img1", 30, 41, 3, 0.9), ("nope", 1, 1, 3, 0.5)])
    root, out = str(dataset_root(tmp_path)), str(tmp_path / "o")
    assert "'nope'" in run("score", str(bad), "--dataset", "tiny-test", "--root", root, "--out", out)
    broken = tmp_path / "broken.csv"
    broken.write_text("image_id,x,y,radius,score\nimg1,1,2,3\n")
    assert "broken.csv:2" in run("score", str(broken), "--dataset", "tiny-test", "--root", root,
                                 "--out", out).replace(" ", "")
    assert "no-such-set" in run("score", str(broken), "--dataset", "no-such-set", "--root", root, "--out", out)
    assert "froc-x" in run("score", str(bad), "--dataset", "tiny-test", "--root", root, "-e", "froc-x", "--out", out)
    assert "metrics.json is missing" in run("compare", str(tmp_path / "missing"), "--out", str(tmp_path / "c"))
