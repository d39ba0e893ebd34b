"""One id per image: `calcdet detect` on a release's DICOM files scores with `--dataset` as the dataset names them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

from calcdet_phantom.release import generate_release


def calcdet(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="250"), timeout=300)


def test_detections_named_by_dicom_file_score_against_the_inbreast_ids(tmp_path):
    root = generate_release(tmp_path / "release", 6, seed=2, height=256, width=192)
    (tmp_path / "gm.yaml").write_text("name: gm-only\nproposer: {plugin: gm}\n")
    done = calcdet("detect", tmp_path / "gm.yaml", root / "AllDICOMs", "--out", tmp_path / "d.csv")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "d.csv").open() as f:
        ids = {row["image_id"] for row in csv.DictReader(f)}
    assert ids and all("_MG_" in i for i in ids), "detect names DICOM inputs by file stem"
    done = calcdet("score", tmp_path / "d.csv", "--dataset", "inbreast", "--root", root, "--split", "all",
                   "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert "are DICOM file names; scored as the dataset's ids" in done.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["images"] == 6 and not metrics["images_without_rows"] and metrics["detections"] > 0


def test_repeated_rows_and_detections_outside_the_image_are_scored_with_a_warning(tmp_path):
    root = generate_release(tmp_path / "release", 4, seed=2, height=256, width=192)
    ids = sorted(p.name.split("_")[0] for p in (root / "AllDICOMs").glob("*.dcm"))
    rows = [f"{ids[0]},10.0,20.0,3.0,0.9", f"{ids[0]},10.0,20.0,3.0,0.9", f"{ids[1]},5000.0,20.0,3.0,0.5"]
    (tmp_path / "d.csv").write_text("image_id,x,y,radius,score\n" + "\n".join(rows) + "\n")
    done = calcdet("score", tmp_path / "d.csv", "--dataset", "inbreast", "--root", root, "--split", "all",
                   "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    warned = " ".join(done.stderr.split())
    assert "1 detection(s) repeat another row's position" in warned
    assert f"1 detection(s) lie outside their image (e.g. in '{ids[1]}')" in warned
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["detections"] == 3, "every row is scored"
