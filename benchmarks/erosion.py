"""Mask erosion benchmark: the core's numpy ``erode_mask`` next to the OpenCV erosion the proposers used before.

gm, hdog and hough each eroded the breast mask with ``cv2.erode`` (a square of ones, OpenCV's
default border: pixels beyond the image count as mask); they now call
``calcdet_core.api.erode_mask``. On one phantom of 3328x2560 (``calcdet_phantom.synthesize``,
preprocessed without cropping, so the mask is 3328x2560), in one process and on the same inputs:

- ``sizes``: both erosions for squares of growing side (numpy's cost should not grow with it);
- ``proposers``: for each proposer, its own erosion (default parameters; hdog's default erodes
  nothing, so it runs with ``border_erosion`` 20 like gm) timed both ways, the proposer's whole
  ``propose`` on that image, and what the erosion costs as a share of it:
  ``ratio`` = numpy / cv2 seconds, ``share_numpy`` / ``share_cv2`` = erosion / propose seconds,
  ``proposer_change`` = (numpy - cv2) / propose seconds (the proposer's overall change).

Every timing is the median of ``--repeats`` runs (``propose``: ``--propose-repeats``, after a
warm-up on a corner that compiles numba kernels). ``identical`` checks that both erosions agree.
Prints JSON on stdout (and writes it to ``--out`` if given). Run (takes about a minute)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/erosion.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from proposers import print_report

from calcdet_core.api import Mammogram, erode_mask, preprocess
from calcdet_core.plugins.registry import get_registry

SIZES = (3, 11, 41, 81, 161, 401, 1001)
SEED = 900_000
"""A held-out phantom seed (tests and demos use small ones)."""


def cv2_erosion(mask: np.ndarray, side: int) -> np.ndarray:
    """What gm and hdog ran (hough built the same square with ``cv2.getStructuringElement``)."""
    square = np.ones((side, side), np.uint8)
    return cv2.erode(np.ascontiguousarray(mask).view(np.uint8), square).view(bool)


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(mask: np.ndarray, side: int, repeats: int) -> dict[str, Any]:
    numpy_s = median_seconds(lambda: erode_mask(mask, side), repeats)
    cv2_s = median_seconds(lambda: cv2_erosion(mask, side), repeats)
    same = bool(np.array_equal(erode_mask(mask, side), cv2_erosion(mask, side)))
    return {"side": side, "numpy_seconds": numpy_s, "cv2_seconds": cv2_s, "ratio": numpy_s / cv2_s,
            "identical": same}


def erosion_side(name: str, config: Any) -> int:
    """The square each proposer erodes its mask with, from its parameters."""
    if name == "hough":
        return config.erosion_iterations * (config.erosion_size - 1) + 1
    return 2 * config.border_erosion + 1


def proposer_case(name: str, image: np.ndarray, mask: np.ndarray, repeats: int, propose_repeats: int
                  ) -> dict[str, Any]:
    params = {"border_erosion": 20} if name == "hdog" else {}
    proposer = get_registry().get("proposers", name)(**params)
    side = erosion_side(name, proposer.config)
    proposer.propose(np.ascontiguousarray(image[:256, :256]), np.ascontiguousarray(mask[:256, :256]))
    propose_s = median_seconds(lambda: proposer.propose(image, mask), propose_repeats)
    erosion = compare(mask, side, repeats)
    return {"proposer": name, "params": params, **erosion, "propose_seconds": propose_s,
            "share_numpy": erosion["numpy_seconds"] / propose_s, "share_cv2": erosion["cv2_seconds"] / propose_s,
            "proposer_change": (erosion["numpy_seconds"] - erosion["cv2_seconds"]) / propose_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--propose-repeats", type=int, default=2)
    parser.add_argument("--proposers", nargs="*", default=["gm", "hdog", "hough"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from calcdet_phantom import synthesize

    phantom = synthesize(3328, 2560, seed=SEED)
    image = preprocess(Mammogram(pixels=phantom.image, image_id="erosion", laterality=phantom.laterality,
                                 view=phantom.view), crop_breast=False)
    assert image.mask is not None
    report = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
                    "cv2_threads": cv2.getNumThreads()},
        "image": {"shape": list(image.pixels.shape), "mask_fraction": float(image.mask.mean())},
        "sizes": [compare(image.mask, side, args.repeats) for side in SIZES],
        "proposers": [proposer_case(name, image.pixels, image.mask, args.repeats, args.propose_repeats)
                      for name in args.proposers],
    }
    print_report(report, args.out)


if __name__ == "__main__":
    main()
