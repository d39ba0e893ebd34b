"""faster-rcnn through the command line: train and detect on flipped, cropped DICOMs; boxes in the stored grid."""

import os
import subprocess
import sys

import numpy as np

from calcdet_core.api import write_dicom
from calcdet_core.testing import detector_test_image

PARAMS = {"fpn_channels": 32, "representation": 64, "window": 64, "train_stride": 32, "stride": 48, "epochs": 2,
          "learning_rate": 0.001, "rpn_samples": 64, "roi_samples": 64, "threshold": 0.01}


def write_folder_dataset(root, images=8, size=112):
    """DICOMs for calcdet's `folder` adapter: a breast beside a black strip (right breasts mirrored), 3 MCs each."""
    rows = ["image,x,y,diameter,patient"]
    for i in range(images):
        left = i % 2 == 0
        image = detector_test_image(seed=200 + i, size=size)
        pixels = image.pixels if left else image.pixels[:, ::-1]
        stored = (np.clip(pixels, 0, 1) * 12000 + 500).astype(np.uint16)
        stored[~(image.mask if left else image.mask[:, ::-1])] = 0
        name = f"case{i:02d}_{'L' if left else 'R'}_CC"
        write_dicom(root / f"{name}.dcm", stored, laterality="L" if left else "R", view="CC", patient_id=f"p{i}")
        rows += [f"{name},{t.x if left else size - 1 - t.x},{t.y},{t.diameter},p{i}" for t in image.annotation.targets]
    (root / "annotations.csv").write_text("\n".join(rows) + "\n")


def test_train_then_detect_from_the_command_line_gives_boxes_in_the_stored_grid(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_folder_dataset(data)
    params = ", ".join(f"{k}: {v}" for k, v in PARAMS.items())
    (tmp_path / "frcnn.yaml").write_text(f"name: frcnn\ndetector: {{plugin: faster-rcnn, params: {{{params}}}}}\n")
    where = ["--dataset", "folder", "--root", str(data), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def calcdet(*args):
        out = subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr

    calcdet("train", str(tmp_path / "frcnn.yaml"), *where, "--out", str(tmp_path / "model"))
    assert (tmp_path / "model" / "components" / "detector-faster-rcnn" / "faster_rcnn.safetensors").is_file()
    calcdet("detect", str(tmp_path / "model"), *where, "--split", "test", "--out", str(tmp_path / "found.csv"))
    lines = (tmp_path / "found.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert {"x0", "y0", "x1", "y1"} <= set(header)
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert rows
    for row in rows:  # every box holds its centre, in the 112 px stored image, right breasts mapped back
        x, y = float(row["x"]), float(row["y"])
        x0, y0, x1, y1 = (float(row[k]) for k in ("x0", "y0", "x1", "y1"))
        assert -0.5 <= x0 <= x <= x1 <= 111.5 and -0.5 <= y0 <= y <= y1 <= 111.5
        assert abs((x0 + x1) / 2 - x) < 1e-6 and abs((y0 + y1) / 2 - y) < 1e-6
