"""faster-rcnn speed: seconds per phantom image of ``detect`` for each backbone, one run, same images.

Each backbone's detector is built from its pipeline YAML (``pipelines/faster-rcnn.yaml`` for the light
``resnet18``, ``pipelines/faster-rcnn-{resnet50,densenet121,efficientnet-b3}.yaml`` for the study's), so
the window, stride, pyramid channels, box-head units, batch and thresholds are the pipelines'. Weights are
the freshly built torch model's random initial ones (``--seed``): speed does not depend on what the net
learned, except through the number of boxes that pass the score threshold (reported as ``detections``;
the RPN's proposals per window are fixed). Phantoms come from ``calcdet_phantom.synthesize`` (held-out
seeds, real breast masks) and go through the pipeline's preprocessing (crop, flip), so ``detect(image,
mask)`` sees what it sees in a pipeline and skips the windows without breast.

Backbones run interleaved image by image, so a busy machine slows all of them alike. Per image and
backbone: wall and process CPU seconds (all threads) of ``detect``, the windows it ran the net on, and
seconds per window. Before timing, each detector builds its net and runs once on one window (first-call
set-up, reported as ``setup_seconds``). Prints JSON (per-image rows go to stderr as they finish).

    .venv/bin/python benchmarks/faster_rcnn.py --threads 2 --out benchmarks/results/faster_rcnn.json
    .venv/bin/python benchmarks/faster_rcnn.py --images 1 --backbones resnet18 resnet50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from calcdet_faster_rcnn.detector import FasterRCNNDetector
from calcdet_faster_rcnn.model import build_model
from calcdet_phantom import synthesize
from calcdet_torch.state import module_arrays
from calcdet_torch.windows import cut, grid
from proposers import print_report
from saliency import SEED_BASE, run_facts, timed

from calcdet_core.api import Mammogram, load_pipeline
from calcdet_core.imaging.preprocess import preprocess
from pipelines import ROOT

BACKBONES = {
    "resnet18": "faster-rcnn.yaml",
    "resnet50": "faster-rcnn-resnet50.yaml",
    "densenet121": "faster-rcnn-densenet121.yaml",
    "efficientnet-b3": "faster-rcnn-efficientnet-b3.yaml",
}
"""Each backbone's pipeline YAML under ``pipelines/``."""


def random_detector(yaml_name: str, backbone: str, seed: int) -> tuple[FasterRCNNDetector, dict[str, Any]]:
    """The pipeline's detector with the random initial weights of its freshly built model, and its preprocessing."""
    pipeline = load_pipeline(ROOT / "pipelines" / yaml_name)
    found = pipeline.detector
    if not isinstance(found, FasterRCNNDetector) or found.config.backbone != backbone:
        raise ValueError(f"pipelines/{yaml_name}: expected a faster-rcnn detector with backbone {backbone!r}")
    torch.manual_seed(seed)
    found.weights_ = module_arrays(build_model(found.config))
    return found, pipeline.spec.preprocess.model_dump()


def windows_run(detector: FasterRCNNDetector, mask: np.ndarray) -> int:
    """Windows ``detect`` runs the net on: the grid windows that hold breast."""
    config = detector.config
    breast = mask.astype(np.float32)
    return sum(bool(cut(breast, c, config.window).any()) for c in grid(mask.shape, config.window, config.stride))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2, help="Phantoms timed (default 2).")
    parser.add_argument("--height", type=int, default=1600, help="Phantom rows before cropping (default 1600).")
    parser.add_argument("--width", type=int, default=1200, help="Phantom columns before cropping (default 1200).")
    parser.add_argument("--backbones", nargs="+", choices=list(BACKBONES), default=list(BACKBONES),
                        help="Backbones timed (default all).")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice).")
    parser.add_argument("--seed", type=int, default=SEED_BASE, help="First phantom seed; also the nets' weights.")
    parser.add_argument("--out", type=Path, help="Also write the JSON here.")
    args = parser.parse_args()
    if args.images < 1:
        parser.error("--images must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    detectors, setup, preprocessing = {}, {}, []
    for backbone in args.backbones:
        detectors[backbone], steps = random_detector(BACKBONES[backbone], backbone, args.seed)
        preprocessing.append(steps)
    if any(steps != preprocessing[0] for steps in preprocessing):
        raise ValueError(f"the pipelines of {args.backbones} preprocess differently; time them in separate runs")
    cases = []
    for i in range(args.images):
        phantom = synthesize(args.height, args.width, seed=args.seed + i)
        mammogram = Mammogram(pixels=phantom.image, image_id=f"{args.height}x{args.width}-{args.seed + i}",
                              laterality=phantom.laterality, view=phantom.view)
        cases.append(preprocess(mammogram, **preprocessing[0]))
    phantom_seconds = time.perf_counter() - start
    first = cases[0]
    for backbone, detector in detectors.items():
        side = detector.config.window  # one window at mid-height by the chest wall (breast after the flip)
        window = cut(first.pixels, (0, max(first.pixels.shape[0] // 2 - side // 2, 0)), side)
        setup[backbone] = round(timed(lambda: detector.detect(window))[1], 2)  # noqa: B023

    rows: list[dict[str, Any]] = []
    for case in cases:
        row: dict[str, Any] = {"image": case.image_id, "shape": list(case.pixels.shape),
                               "breast_fraction": round(float(case.mask.mean()), 3)}
        for backbone, detector in detectors.items():
            found, wall, cpu = timed(lambda: detector.detect(case.pixels, case.mask))  # noqa: B023
            windows = windows_run(detector, case.mask)
            row[backbone] = {"wall": round(wall, 3), "cpu": round(cpu, 3), "windows": windows,
                             "wall_per_window": round(wall / max(windows, 1), 4), "detections": len(found)}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    seconds: dict[str, dict[str, float]] = {}
    for backbone, detector in detectors.items():
        timings = [r[backbone] for r in rows]
        wall, windows = sum(t["wall"] for t in timings), sum(t["windows"] for t in timings)
        config = detector.config
        seconds[backbone] = {
            "wall": round(wall / len(timings), 2), "cpu": round(sum(t["cpu"] for t in timings) / len(timings), 2),
            "windows": round(windows / len(timings), 1), "wall_per_window": round(wall / max(windows, 1), 4),
            "images": len(timings), "pipeline": f"pipelines/{BACKBONES[backbone]}",
            "fpn_channels": config.fpn_channels, "representation": config.representation,
            "window": config.window, "stride": config.stride, "window_batch": config.window_batch}
    report = {
        "benchmark": "faster_rcnn",
        **run_facts(),
        "weights": f"random initial weights, torch seed {args.seed}",
        "phantom_seconds": round(phantom_seconds, 1),
        "setup_seconds": setup,
        "seconds_per_image": seconds,
        "images": rows,
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    print_report(report, args.out)


if __name__ == "__main__":
    main()
