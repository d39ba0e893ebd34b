"""Dataset-side costs: phantom synthesis, DICOM round trips and the breast mask, on full-size images.

Measured in one process on the same images:

- ``phantom``: seconds to synthesise one image (median of ``--repeats``) at 512x512 and at
  INbreast's 3328x2560; the issue asks for well under 1 s and a few seconds. ``x_read_dicom``
  puts that in proportion: synthesis costs this many reads of the same image from disk.
- ``breast_mask``: calcdet's pure-numpy region labelling (the core depends on no image
  library) against ``scipy.ndimage.label`` on the same 3328x2560 mask; the ratio is what the
  dependency-free path costs, and ``same_result`` checks that both find the same breast.
- ``jpeg_lossless``: the core's lossless JPEG encoder (pydicom has none) against pydicom's
  RLE encoder on the same image: seconds, compression ratios, exact decoding.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/datasets.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from calcdet_phantom import synthesize
from scipy import ndimage

from calcdet_core.imaging.preprocess import BACKGROUND_FRACTION, preprocess
from calcdet_core.imaging.regions import fill_holes, largest_region
from calcdet_core.io.dicom import read_dicom, write_dicom


def _median_seconds(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def _scipy_mask(threshold_mask: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(threshold_mask)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == np.argmax(sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out: dict[str, object] = {"machine": platform.processor() or platform.machine(), "repeats": args.repeats}
    tmp = Path(tempfile.mkdtemp())

    phantom = {}
    for h, w in ((512, 512), (3328, 2560)):
        seconds, p = _median_seconds(lambda h=h, w=w: synthesize(h, w, seed=7, normal=False), args.repeats)
        path = write_dicom(tmp / f"p{h}.dcm", p.image, laterality=p.laterality, view=p.view)
        read_s, _ = _median_seconds(lambda path=path: read_dicom(path), args.repeats)
        phantom[f"{h}x{w}"] = {"seconds": round(seconds, 3), "x_read_dicom": round(seconds / read_s, 1)}
    out["phantom"] = phantom

    image = p.image  # the 3328x2560 one
    pixels = image.astype(np.float64)
    low, high = pixels.min(), pixels.max()
    threshold = pixels > low + BACKGROUND_FRACTION * (high - low)
    ours_s, ours = _median_seconds(lambda: fill_holes(largest_region(threshold)), args.repeats)
    ref_s, ref = _median_seconds(lambda: _scipy_mask(threshold), args.repeats)
    pre_s, _ = _median_seconds(lambda: preprocess(read_dicom(tmp / "p3328.dcm")), args.repeats)
    out["breast_mask"] = {"numpy_runs_seconds": round(ours_s, 3), "scipy_label_seconds": round(ref_s, 3),
                          "ratio_numpy_over_scipy": round(ours_s / ref_s, 2),
                          "same_result": bool(np.array_equal(ours, ref)),
                          "preprocess_full_image_seconds": round(pre_s, 3)}

    codecs = {}
    raw_bytes = image.nbytes
    for syntax in ("jpeg-lossless", "rle"):
        path = tmp / f"{syntax}.dcm"
        seconds, _ = _median_seconds(lambda path=path, syntax=syntax: write_dicom(path, image, transfer_syntax=syntax),
                                     args.repeats)
        decode_s, back = _median_seconds(lambda path=path: read_dicom(path), args.repeats)
        codecs[syntax] = {"encode_seconds": round(seconds, 3), "decode_seconds": round(decode_s, 3),
                          "compression_ratio": round(raw_bytes / path.stat().st_size, 2),
                          "exact": bool(np.array_equal(back.pixels, image))}
    out["jpeg_lossless"] = codecs
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
