"""Seconds per image of point-heatmap's ``detect`` on phantoms of given sizes, as the pipelines preprocess them.

Writes ``--images`` phantoms per size (``calcdet phantom``, seed 0), preprocesses each (breast crop,
flip to the left, its breast mask) and times ``detect(pixels, mask)`` (net, decoding, NMS) once per
image after one warm-up, on ``--threads`` torch threads. The detector is the pipeline's with its freshly
built random weights (speed does not depend on what the net learned; random weights paint few peaks
above the threshold, so decoding costs little here). Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python plugins/detectors/calcdet-points/benchmarks/speed.py --sizes 1600x1200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from calcdet_points.net import build_net
from calcdet_torch.state import module_arrays

from calcdet_core.api import build_component, load_pipeline, preprocess

ROOT = Path(__file__).resolve().parents[4]


def detector(pipeline: Path):
    """The pipeline's detector with random initial weights (seed 0)."""
    found = load_pipeline(pipeline).detector
    torch.manual_seed(0)
    found.weights_ = module_arrays(build_net(found.config))
    return found


def phantoms(out: Path, images: int, height: int, width: int) -> None:
    """``calcdet phantom`` (the phantom plugin's command: no other plugin is imported)."""
    subprocess.run([sys.executable, "-m", "calcdet_core", "phantom", str(out), "--images", str(images), "--seed", "0",
                    "--height", str(height), "--width", str(width)], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "point-heatmap.yaml")
    parser.add_argument("--sizes", default="1600x1200,3328x2560", help="Comma-separated HEIGHTxWIDTH.")
    parser.add_argument("--images", type=int, default=2, help="Phantoms per size (default 2).")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    found = detector(args.pipeline)
    out = {"pipeline": str(args.pipeline), "threads": args.threads, "sizes": {}}
    for size in args.sizes.split(","):
        height, width = (int(v) for v in size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            phantoms(Path(tmp), args.images, height, width)
            records = build_component("datasets", "inbreast", {}).index(Path(tmp)).records
            images = [preprocess(r.read()) for r in records]
        found.detect(images[0].pixels, images[0].mask)  # warm-up: the net is built on first use
        wall, cpu, counts = [], [], []
        for image in images:
            w, c = time.perf_counter(), time.process_time()
            counts.append(len(found.detect(image.pixels, image.mask)))
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        out["sizes"][size] = {"working_shapes": [list(i.pixels.shape) for i in images],
                              "wall_s": round(float(np.mean(wall)), 3), "cpu_s": round(float(np.mean(cpu)), 3),
                              "detections": counts}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
