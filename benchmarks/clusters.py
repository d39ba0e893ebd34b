"""Cluster-level FROC of the AIA-ML pipeline on a phantom release, next to its per-MC FROC.

Generates a phantom INbreast release (``calcdet phantom``, kept outside the repository), trains
``pipelines/aia-ml.yaml`` on its train split (the benchmarks' cost caps, ``benchmarks/caps.py``)
unless ``--model DIR`` names a trained model, detects the test split (what ``calcdet detect``
outputs, stored grid) and scores the same detections three ways:

* per-MC FROC, the study's crediting (a detection finds every target its 14 px disc touches);
* per-MC FROC, strict crediting (a detection finds only its nearest target);
* cluster-level FROC (``cluster-froc`` defaults: the detections above the score at which normal images
  hold 10 each, 5 mm single linkage, 3 MCs, max score, each image at its DICOM spacing), FP clusters
  per normal image and per image, and the size of the detected clusters.

Prints JSON: AUCs with their 95% image-bootstrap intervals and sensitivities at fixed FP rates.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/clusters.py --images 60 --workers 2
    ... --model runs/aia-ml          # a trained model (the release must be the one it was trained on)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from calcdet_clusters.evaluator import ClusterFrocEvaluator

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.evaluators import FrocEvaluator
from calcdet_core.evaluation.scoring import stored_spacing
from calcdet_core.run.executor import make_executor
from calcdet_core.run.workflows import Selection, detect, load_runnable, train_model

ROOT = Path(__file__).resolve().parents[1]
MC_KEYS = ("auc", "auc_ci95", "sensitivity_at", "targets_found", "targets", "crediting")
CLUSTER_KEYS = ("auc_per_normal_image", "auc_per_normal_image_ci95", "sensitivity_at_per_normal_image",
                "auc_per_image", "auc_per_image_ci95", "sensitivity_at_per_image", "truth_clusters",
                "truth_clusters_found", "detected_clusters", "fp_clusters", "fp_clusters_on_normal_images",
                "pixel_spacing", "pixel_spacing_mm", "distance_mm", "min_count", "score", "max_fp",
                "detection_threshold", "detections_clustered", "clustered")


def detect_test(model: Path, release: Path, seed: int, work: Path, workers: int) -> list[ImageResult]:
    """The model's detections on the test split (stored grid) with each image's truth and DICOM spacing."""
    pipeline, identity = load_runnable(model)
    source = Selection(dataset="inbreast", root=release, split="test", seed=seed).source()
    found = detect(pipeline, identity, source, work, make_executor(workers))
    return [ImageResult(d.record.image_id, d.detections, d.record.annotation, d.seconds,
                        spacing_mm=stored_spacing(d.record)) for d in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=60, help="Phantom images (at least 60 for the report).")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0, help="Seed of the release, split and bootstrap.")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "aia-ml.yaml")
    parser.add_argument("--model", type=Path, default=None, help="A trained model directory (skips training).")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None,
                        help="Folder for the release and model (default: a temporary folder, deleted after).")
    args = parser.parse_args()

    from caps import COST_CAPS, capped_pipeline

    from calcdet_core.run.demo import make_release

    with tempfile.TemporaryDirectory(prefix="calcdet-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        release = make_release(work / "release", args.images, args.seed, args.height, args.width)
        generated = time.perf_counter()
        model = args.model
        if model is None:
            spec = capped_pipeline(args.pipeline, work, COST_CAPS)
            model = work / f"model-{int(time.time())}"
            train_model(spec, "inbreast", release, model, args.seed, make_executor(args.workers))
        trained = time.perf_counter()
        results = detect_test(model, release, args.seed, work / "detect-work", args.workers)
        detected = time.perf_counter()
        per_mc = {rule: {k: v for k, v in FrocEvaluator(seed=args.seed, crediting=rule).evaluate(results).items()
                         if k in MC_KEYS} for rule in ("study", "strict")}
        evaluator = ClusterFrocEvaluator(seed=args.seed)
        computed = evaluator.compute(results)
        clusters = evaluator.metrics(computed)
        sizes = [c.count for image in computed.images for c in image.detected]
        print(json.dumps({
            "benchmark": "aia-ml per-MC and cluster-level FROC on a phantom release",
            "release": {"images": args.images, "height": args.height, "width": args.width, "seed": args.seed},
            "model": str(args.model) if args.model else f"{args.pipeline.name} trained here (demo overrides)",
            "test_images": len(results), "test_normal_images": sum(r.is_normal for r in results),
            "detections": sum(len(r.detections) for r in results),
            "per_mc_froc": per_mc,
            "cluster_froc": {k: clusters[k] for k in CLUSTER_KEYS},
            "detected_cluster_members": {"mean": sum(sizes) / max(len(sizes), 1), "max": max(sizes, default=0)},
            "seconds": {"release": generated - start, "train": trained - generated, "detect": detected - trained,
                        "score": time.perf_counter() - detected},
        }, indent=2, default=str))


if __name__ == "__main__":
    main()
