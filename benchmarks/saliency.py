"""resnet-saliency speed: dense inference against explicit patch-by-patch windows, same net, same images, one run.

Phantoms come from ``calcdet_phantom.synthesize`` (held-out seeds, real breast masks) and go through
``calcdet_core.imaging.preprocess.preprocess`` (crop, flip), so every method sees what the detector sees
in a pipeline. One net (the pipeline's settings: 16 px patches, width 8 unless ``--width``; weights drawn
at random with ``--seed``: speed does not depend on what the net learned) is timed, per image, by:

* ``dense_4`` / ``dense_2``: :meth:`Inference.dense` at strides 4 (the net's own stride: one pass) and 2
  (four shifted passes), tiles without breast skipped. A stride-8 map is every other entry of the stride-4
  one, so dense has no cheaper stride-8 pass;
* ``patches_8`` / ``patches_4``: every 16 px window at that stride that holds some breast, cut and
  classified explicitly (batches of 1024), the reference the speedups divide;
* ``detect_dense``: ``SaliencyDetector.detect`` with the pipeline's defaults (map, peaks, NMS);
* ``detect_study``: the same with ``inference: study`` (16 px windows at stride 8 over the whole
  image, averaged per pixel, 9x9 box filter, 14x14 maxima).

Methods run interleaved image by image, so a busy machine slows all of them alike; read the ratios
(``speedup``), not the seconds. Wall seconds and process CPU seconds (all threads) are both reported.
``padded_max_abs_diff`` is how far the padded (study) net's dense stride-4 logits lie from its
patch-wise ones on the breast windows (equal for a padding-free net; see the plugin README).
``patches_4`` is slow (~1 min per image), so it runs on the first ``--patch4-images`` images only.

    .venv/bin/python benchmarks/saliency.py                       # 2 images, ~2-3 minutes on 2 cores
    .venv/bin/python benchmarks/saliency.py --images 5 --patch4-images 2 --out benchmarks/results/saliency.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from calcdet_phantom import synthesize
from calcdet_saliency.detector import SaliencyDetector
from calcdet_saliency.inference import Inference, build_net
from calcdet_torch.patches import standardised
from proposers import print_report

from calcdet_core.api import Mammogram
from calcdet_core.imaging.preprocess import preprocess

SEED_BASE = 910_000
"""Phantom seeds far from those tests and demos use: held-out images."""


def patchwise(inference: Inference, pixels: np.ndarray, mask: np.ndarray, stride: int) -> np.ndarray:
    """Logits of the breast windows at ``stride``, each window cut and classified on its own (-inf elsewhere)."""
    return inference.sliding(pixels, stride, region=mask)


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def detector(weights: dict[str, np.ndarray], width: int, **params: Any) -> SaliencyDetector:
    found = SaliencyDetector(width=width, **params)
    found.weights_, found.radius_ = weights, 3.0
    return found


def run_facts() -> dict[str, Any]:
    """What a torch speed figure depends on: the command, versions, cores and torch's threads."""
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]), "python": platform.python_version(),
            "torch": torch.__version__, "machine": platform.machine(), "cpus": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2, help="Phantoms timed (default 2).")
    parser.add_argument("--patch4-images", type=int, default=1, help="Of those, how many patch-wise stride 4 runs on.")
    parser.add_argument("--size", default="1600x1200", help="Phantom HEIGHTxWIDTH (default 1600x1200).")
    parser.add_argument("--width", type=int, default=8, help="Stem channels (the pipeline: 8; the study: 64).")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice).")
    parser.add_argument("--seed", type=int, default=SEED_BASE, help="First phantom seed; also the net's weights.")
    parser.add_argument("--out", type=Path, help="Also write the JSON here.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.lower().split("x"))

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    net = build_net(SaliencyDetector(width=args.width).config)
    weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    dense_detector = detector(weights, args.width)
    study_detector = detector(weights, args.width, inference="study")
    inference = dense_detector._net()
    cases = []
    for i in range(args.images):
        phantom = synthesize(height, width, seed=args.seed + i)
        cases.append(preprocess(Mammogram(pixels=phantom.image, image_id=f"{args.size}-{args.seed + i}",
                                          laterality=phantom.laterality, view=phantom.view)))
    phantom_seconds = time.perf_counter() - start
    warm = cases[0]
    inference.dense(standardised(warm.pixels, warm.mask), 4, warm.mask)  # first-call set-up (oneDNN primitives)

    rows: list[dict[str, Any]] = []
    for i, case in enumerate(cases):
        pixels = standardised(case.pixels, case.mask)
        row: dict[str, Any] = {"image": case.image_id, "shape": list(case.pixels.shape),
                               "breast_fraction": round(float(case.mask.mean()), 3)}
        dense4, *row_times = timed(lambda: inference.dense(pixels, 4, case.mask))  # noqa: B023
        row["dense_4"] = row_times
        row["dense_2"] = list(timed(lambda: inference.dense(pixels, 2, case.mask))[1:])  # noqa: B023
        row["patches_8"] = list(timed(lambda: patchwise(inference, pixels, case.mask, 8))[1:])  # noqa: B023
        if i < args.patch4_images:
            explicit, *row["patches_4"] = timed(lambda: patchwise(inference, pixels, case.mask, 4))  # noqa: B023
            both = np.isfinite(explicit) & np.isfinite(dense4[: explicit.shape[0], : explicit.shape[1]])
            row["padded_max_abs_diff"] = float(np.abs(explicit[both] - dense4[both]).max())
        found, *row["detect_dense"] = timed(lambda: dense_detector.detect(case.pixels, case.mask))  # noqa: B023
        row["detections_dense"] = len(found)
        found, *row["detect_study"] = timed(lambda: study_detector.detect(case.pixels, case.mask))  # noqa: B023
        row["detections_study"] = len(found)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    methods = ("dense_4", "dense_2", "patches_8", "patches_4", "detect_dense", "detect_study")
    seconds: dict[str, dict[str, float]] = {}
    for name in methods:
        timings = [r[name] for r in rows if name in r]
        if timings:
            seconds[name] = {"wall": round(float(np.mean([t[0] for t in timings])), 3),
                             "cpu": round(float(np.mean([t[1] for t in timings])), 3), "images": len(timings)}

    def ratio(slow: str, fast: str, kind: str = "wall") -> float | None:
        """Same-image ratio: only the images both methods ran on."""
        both = [r for r in rows if slow in r and fast in r]
        if not both:
            return None
        return round(sum(r[slow][kind == "cpu"] for r in both) / sum(r[fast][kind == "cpu"] for r in both), 2)

    pairs = (("patches_4", "dense_4"), ("patches_8", "dense_4"), ("patches_4", "dense_2"),
             ("detect_study", "detect_dense"))
    report = {
        "benchmark": "saliency",
        **run_facts(),
        "net": {"patch_size": 16, "width": args.width, "padding": True, "weights": f"random, seed {args.seed}"},
        "phantom_seconds": round(phantom_seconds, 1),
        "seconds_per_image": seconds,
        "speedup": {f"{a}/{b}": ratio(a, b) for a, b in pairs},
        "cpu_speedup": {f"{a}/{b}": ratio(a, b, "cpu") for a, b in pairs},
        "images": rows,
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    print_report(report, args.out)


if __name__ == "__main__":
    main()
