"""`calcdet score` and `calcdet compare`, run as a user runs them, with a tiny dataset plugin on the path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fake_dists import write_dist

TINY_ADAPTER = """
    from pathlib import Path

    import numpy as np
    from calcdet_core import Annotation, Dataset, DatasetAdapter, ImageRecord, Mammogram, Target, hookimpl


    def _record(i):
        image_id = f"img{i}"
        targets = () if i % 2 == 0 else (Target(30.0, 40.0), Target(70.0, 20.0))

        def load():
            return Mammogram(np.full((100, 100), 0.2 + 0.01 * i, np.float32), image_id)

        return ImageRecord(image_id, f"p{i}", Path(image_id), Annotation(targets=targets), load)


    class Tiny(DatasetAdapter):
        name = "tiny-test"
        description = "Six 100x100 images; the odd ones hold two MCs."

        def load(self, root):
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


def write_csv(path, rows):
    path.write_text("image_id,x,y,radius,score\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_score_then_compare(tmp_path):
    # img1: both MCs found (0.9, 0.6); img3: one found (0.8); img0 (normal): FPs at 0.7 and 0.3; others: none
    good = write_csv(tmp_path / "good.csv", [("img1", 30, 41, 3, 0.9), ("img1", 70, 20, 3, 0.6),
                                              ("img3", 31, 40, 3, 0.8), ("img0", 50, 50, 3, 0.7),
                                              ("img0", 10, 90, 3, 0.3)])
    out = calcdet(tmp_path, "score", str(good), "--dataset", "tiny-test", "--root", str(tmp_path),
                  "--out", str(tmp_path / "run-good"), "--seed", "1")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "run-good" / "metrics.json").read_text())
    # 6 images, 3 normal, 6 targets. Points: (0, 2/6) at 0.8, (1/3, 2/6) at 0.7, (1/3, 3/6) at 0.6, (2/3, 3/6)
    assert (metrics["images"], metrics["normal_images"], metrics["targets"]) == (6, 3, 6)
    assert metrics["froc"]["sensitivity_at"]["0.5"] == 0.5
    assert metrics["froc"]["auc"] == pytest.approx((1 / 9 + (50 - 1 / 3) * 0.5) / 50)
    assert metrics["froc"]["bootstrap"]["seed"] == 1
    assert "FROC AUC" in out.stdout
    page = (tmp_path / "run-good" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2

    weak = write_csv(tmp_path / "weak.csv", [("img1", 30, 41, 3, 0.2), ("img0", 50, 50, 3, 0.7)])
    assert calcdet(tmp_path, "score", str(weak), "--dataset", "tiny-test", "--root", str(tmp_path),
                   "--out", str(tmp_path / "run-weak")).returncode == 0

    out = calcdet(tmp_path, "compare", str(tmp_path / "run-good"), str(tmp_path / "run-weak"),
                  "--out", str(tmp_path / "cmp"))
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["run"] for r in summary["runs"]] == ["run-good", "run-weak"]
    assert summary["runs"][0]["auc"] == metrics["froc"]["auc"] > summary["runs"][1]["auc"]
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0
    assert "run-weak" in (tmp_path / "cmp" / "compare.csv").read_text()
    assert "run-good" in out.stdout


def test_score_refuses_unknown_images_and_bad_files(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [("img1", 30, 41, 3, 0.9), ("nope", 1, 1, 3, 0.5)])
    out = calcdet(tmp_path, "score", str(bad), "--dataset", "tiny-test", "--root", str(tmp_path),
                  "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "'nope'" in out.stderr and "Traceback" not in out.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("image_id,x,y,radius,score\nimg1,1,2,3\n")
    out = calcdet(tmp_path, "score", str(broken), "--dataset", "tiny-test", "--root", str(tmp_path),
                  "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "broken.csv:2" in out.stderr.replace("\n", "")
    out = calcdet(tmp_path, "score", str(broken), "--dataset", "no-such-set", "--root", str(tmp_path),
                  "--out", str(tmp_path / "o"))
    assert out.returncode == 1 and "no-such-set" in out.stderr
    out = calcdet(tmp_path, "compare", str(tmp_path / "missing"), "--out", str(tmp_path / "c"))
    assert out.returncode == 1 and "metrics.json is missing" in out.stderr.replace("\n", "")
