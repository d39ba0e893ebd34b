"""point-heatmap through `calcdet train` and `calcdet detect`: flipped, cropped DICOMs, found in the stored grid."""

import csv
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

from calcdet_core.api import build_component
from calcdet_core.testing import write_detector_dataset

PARAMS = {"widths": [4, 8, 16], "window": 64, "windows_per_image": 8, "epochs": 4, "learning_rate": 0.01}


def test_train_then_detect_from_the_command_line_finds_mcs_in_the_stored_grid(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    truth = write_detector_dataset(data, images=12)
    params = ", ".join(f"{k}: {v}" for k, v in PARAMS.items())
    (tmp_path / "points.yaml").write_text(f"name: points\ndetector: {{plugin: point-heatmap, params: {{{params}}}}}\n")
    where = ["--dataset", "folder", "--root", str(data), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def calcdet(*args):
        out = subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out

    trained = calcdet("train", str(tmp_path / "points.yaml"), *where, "--out", str(tmp_path / "model"))
    assert (tmp_path / "model" / "components" / "detector-point-heatmap" / "point_net.safetensors").is_file()
    assert "no FROC AUC can be measured" in trained.stderr  # this dataset has no normal image: selected on the loss
    facts = json.loads((tmp_path / "model" / "training_metrics.json").read_text())
    assert "best_val_loss" in json.dumps(facts)
    calcdet("detect", str(tmp_path / "model"), *where, "--split", "test", "--out", str(tmp_path / "found.csv"))
    with (tmp_path / "found.csv").open() as f:
        rows = list(csv.DictReader(f))
    images = [record.image_id for record in build_component("datasets", "folder").index(data).select("test")]
    assert any("_R_" in name for name in images)  # right breasts, stored mirrored, among them
    found = total = 0
    for name in images:  # every MC of the split counts, on an image with no detection too
        mine = sorted((r for r in rows if r["image_id"] == name), key=lambda r: -float(r["score"]))[:3]
        xy = np.array([(float(r["x"]), float(r["y"])) for r in mine]).reshape(-1, 2)
        for x, y in truth[name]:
            total += 1
            found += bool(len(xy)) and np.hypot(*(xy - (x, y)).T).min() <= 3
    assert found * 4 >= total * 3, f"{found} of {total} MCs among each image's 3 best detections within 3 px"
    tuned_from_a_copy_of_its_weights(tmp_path, calcdet, where)


def tuned_from_a_copy_of_its_weights(tmp_path, calcdet, where):
    """`calcdet train` from initial_weights records them; the tuned model detects after the file is gone."""
    start = tmp_path / "start.safetensors"
    start.write_bytes((tmp_path / "model" / "components" / "detector-point-heatmap" / "point_net.safetensors")
                      .read_bytes())
    params = ", ".join(f"{k}: {v}" for k, v in {**PARAMS, "epochs": 1, "initial_weights": start}.items())
    (tmp_path / "tuned.yaml").write_text(f"name: tuned\ndetector: {{plugin: point-heatmap, params: {{{params}}}}}\n")
    calcdet("train", str(tmp_path / "tuned.yaml"), *where, "--out", str(tmp_path / "tuned"))
    facts = json.loads((tmp_path / "tuned" / "training_metrics.json").read_text())
    assert facts["detector"]["initial_weights"]["sha256"] == hashlib.sha256(start.read_bytes()).hexdigest()
    start.unlink()
    calcdet("detect", str(tmp_path / "tuned"), *where, "--split", "test", "--out", str(tmp_path / "tuned.csv"))
    assert (tmp_path / "tuned.csv").read_text().count("\n") > 1
