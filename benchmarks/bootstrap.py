"""FROC bootstrap speed: the vectorised resampler against a per-resample loop, same data, one process.

Both start from the same matched events (:func:`calcdet_core.evaluation.froc.froc_data`, timed
separately as ``match_seconds``) and the same draw counts. The loop is what one writes first:
for every resample, gather the drawn images' FP and hit scores, sort them, take the operating
points and integrate with ``np.trapezoid`` up to 50 FPPI. The vectorised path sorts nothing per
resample: per-image counts at the sensitivity steps are computed once and each block of
resamples is a few matrix products (:mod:`calcdet_core.evaluation.bootstrap`).

The loop runs ``--loop-resamples`` of the same resamples (all of them by default would take
long on a shared machine); the ratio compares seconds per resample, and ``max_abs_auc_diff``
checks that both give the same AUCs on the resamples both computed.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bootstrap.py              # 1000 resamples, 200 images, ~100k dets
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bootstrap.py --resamples 200 --loop-resamples 20
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from calcdet_core.evaluation.bootstrap import bootstrap_froc, draw_counts
from calcdet_core.evaluation.froc import MAX_FPPI, FrocData, froc_data, operating_points
from calcdet_core.evaluation.synthetic import synthetic_results


def split_by_image(data: FrocData) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each image's FP scores and hit scores (done once, outside the timed loop's resamples)."""
    fp = [data.fp_score[data.fp_image == i] for i in range(data.n_images)]
    hit = [data.hit_score[data.target_image == i] for i in range(data.n_images)]
    return fp, hit


def loop_auc(data: FrocData, by_image: tuple[list[np.ndarray], list[np.ndarray]], counts: np.ndarray,
             max_fppi: float = MAX_FPPI) -> float:
    """One resample the plain way (NaN when it has no normal image or no target)."""
    pick = np.repeat(np.arange(data.n_images), counts)
    fp = [by_image[0][i] for i in pick]
    hit = [by_image[1][i] for i in pick]
    if not data.normal[pick].any() or not sum(len(h) for h in hit):
        return float("nan")
    resampled = FrocData(
        tuple(str(k) for k in range(len(pick))), data.normal[pick],
        np.concatenate(fp), np.concatenate([np.full(len(f), k) for k, f in enumerate(fp)]),
        np.concatenate(hit), np.concatenate([np.full(len(h), k) for k, h in enumerate(hit)]))
    _, x, y = operating_points(resampled)
    inside = x <= max_fppi
    xs, ys = list(x[inside]), list(y[inside])
    if xs[-1] < max_fppi:
        beyond = np.flatnonzero(~inside)
        y_end = ys[-1] if len(beyond) == 0 else np.interp(max_fppi, [xs[-1], x[beyond[0]]], [ys[-1], y[beyond[0]]])
        xs.append(max_fppi)
        ys.append(float(y_end))
    return float(np.trapezoid(ys, xs) / max_fppi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--normal", type=int, default=100, help="how many of the images are normal")
    parser.add_argument("--detections-per-image", type=int, default=500, help="mean; total is about images x this")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=100, help="resamples the loop computes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    results = synthetic_results(args.images, args.normal, args.detections_per_image, size=2000, seed=args.seed,
                                decimals=6)
    t0 = time.perf_counter()
    data = froc_data(results)
    match_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    boot = bootstrap_froc(data, args.resamples, seed=args.seed)
    vector_seconds = time.perf_counter() - t0

    counts = draw_counts(data.n_images, args.resamples, args.seed)
    n_loop = min(args.loop_resamples, args.resamples)
    t0 = time.perf_counter()
    by_image = split_by_image(data)
    loop = np.array([loop_auc(data, by_image, counts[b]) for b in range(n_loop)])
    loop_seconds = time.perf_counter() - t0

    both = np.isfinite(loop) & np.isfinite(boot.auc[:n_loop])
    vector_per = vector_seconds / max(args.resamples, 1)
    loop_per = loop_seconds / max(n_loop, 1)
    print(json.dumps({
        "benchmark": "froc_bootstrap",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "images": data.n_images,
        "normal_images": data.n_normal,
        "targets": data.n_targets,
        "detections": int(sum(len(r.detections) for r in results)),
        "fp_events_on_normal_images": len(data.fp_score),
        "resamples": args.resamples,
        "match_seconds": round(match_seconds, 4),
        "vectorised_seconds": round(vector_seconds, 4),
        "vectorised_seconds_per_resample": vector_per,
        "loop_resamples": n_loop,
        "loop_seconds": round(loop_seconds, 4),
        "loop_seconds_per_resample": loop_per,
        "speedup_per_resample": round(loop_per / vector_per, 1) if vector_per > 0 else None,
        "loop_seconds_for_all_resamples_estimated": round(loop_per * args.resamples, 2),
        "max_abs_auc_diff": float(np.max(np.abs(loop[both] - boot.auc[:n_loop][both]))) if both.any() else None,
        "auc_mean": boot.summary()["auc"]["mean"],
        "auc_ci95": boot.summary()["auc"]["ci"],
    }, indent=2))


if __name__ == "__main__":
    main()
