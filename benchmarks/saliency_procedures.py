"""resnet-saliency quality by map-to-detections procedure: one trained net, the test split, several ways to its peaks.

The study's saliency pipeline lost to its SVM pipeline (FROC AUC 0.68 against 0.76), and the weak step
was turning its score map into detections. This measures, with the SAME trained weights on the same
test images, how much each part of that step moves the FROC:

* ``dense``: the model's own detector config (as trained: dense map at its stride, 4 in the pipeline,
  sub-pixel peaks, NMS at ``min_distance``, 14 px);
* ``dense_stride8``: the same with stride 8, the coarser map alone (skipped, with the reason, when the
  net cannot: a 16 px patch net has stride 4, and dense strides must divide it);
* ``study``: the study's procedure (windows at stride 8 averaged per pixel, 9x9 box smoothing, maxima of
  14x14 windows);
* ``study_no_smoothing``: the study's procedure without the box filter (smoothing 1).

Each procedure is a copy of the model's detector config with those keys changed, built through the
plugin registry and loaded from the model's saved weights. Each test image is read and preprocessed
once, then detected by every procedure (wall and process CPU seconds of each ``detect`` timed).
Detections are mapped to the stored grid and scored with the core's FROC (0-50 FP per normal image,
95% image-bootstrap interval), plus the paired image-bootstrap interval of each procedure's AUC minus
``dense``'s. Prints JSON.

    calcdet train pipelines/resnet-saliency.yaml --dataset inbreast --root RELEASE --out MODEL
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/saliency_procedures.py --model MODEL --root RELEASE --workers 2
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from calcdet_core.api import Detections, Detector, build_component
from calcdet_core.contracts.data import ImageRecord, ImageResult
from calcdet_core.contracts.devices import resolve_device
from calcdet_core.evaluation.bootstrap import paired_auc_difference
from calcdet_core.evaluation.evaluators import FrocEvaluator
from calcdet_core.evaluation.froc import FrocData, froc_data
from calcdet_core.evaluation.scoring import stored_spacing
from calcdet_core.io.model_dir import COMPONENTS_DIR, read_metrics, slot_folder
from calcdet_core.run.executor import make_executor, progress_bar
from calcdet_core.run.pipeline import PreprocessSpec
from calcdet_core.run.sources import DatasetRef, ImageSource, load_working, resolve_record
from calcdet_core.run.workflows import load_dataset, load_runnable

DATASET = "inbreast"
PROCEDURES: dict[str, dict[str, Any]] = {
    "dense": {},
    "dense_stride8": {"inference": "dense", "stride": 8},
    "study": {"inference": "study", "study_stride": 8, "smoothing": 9, "peak_window": 14},
    "study_no_smoothing": {"inference": "study", "study_stride": 8, "smoothing": 1, "peak_window": 14},
}
"""Procedure name -> the detector config keys it changes (``dense``: none, the model as trained)."""
FROC_KEYS = ("auc", "auc_ci95", "sensitivity_at", "targets_found", "targets", "images", "normal_images")


@dataclass
class Procedures:
    """What every worker gets once: the preprocessing and one detector per procedure (same weights)."""

    preprocess: PreprocessSpec
    detectors: dict[str, Detector]


def build_procedures(model: Path, device: str) -> tuple[Procedures, dict[str, str], dict[str, Any]]:
    """The model's detector config copied per procedure, built through the registry, weights loaded from ``model``.

    Returns the procedures, the ones skipped (name -> why: the config refuses those keys for this net)
    and the trained detector's own parameters.
    """
    pipeline, _ = load_runnable(model)
    trained = pipeline.detector
    if trained is None or trained.name != "resnet-saliency":
        raise ValueError(f"{model}: needs a trained resnet-saliency model, not {pipeline.spec.name!r}")
    params = trained.config.model_dump()
    weights = Path(model) / COMPONENTS_DIR / slot_folder("detector", trained.name)
    detectors: dict[str, Detector] = {}
    skipped: dict[str, str] = {}
    for name, changes in PROCEDURES.items():
        try:
            detector = build_component("detectors", trained.name, {**params, **changes})
        except ValidationError as exc:  # e.g. a dense stride the net cannot give
            skipped[name] = "; ".join(error["msg"] for error in exc.errors())
            continue
        assert isinstance(detector, Detector)
        detector.load_state(weights)
        detector.to_device(device)
        detectors[name] = detector
    return Procedures(pipeline.spec.preprocess, detectors), skipped, trained.config.model_dump(mode="json")


def detect_all(procedures: Procedures, item: ImageRecord | DatasetRef) -> dict[str, Any]:
    """One image read and preprocessed once, then detected by every procedure: stored-grid detections and seconds."""
    record = resolve_record(item)
    start = time.perf_counter()
    image, _ = load_working(record, procedures.preprocess)
    out: dict[str, Any] = {"read_seconds": time.perf_counter() - start}
    for name, detector in procedures.detectors.items():
        wall, cpu = time.perf_counter(), time.process_time()
        found = detector.detect(image.pixels, image.mask)
        out[name] = {"detections": Detections.of(found.to_stored(image.transform, record.image_id)),
                     "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    return out


def paired_difference(a: FrocData, b: FrocData, seed: int) -> dict[str, object]:
    """AUC of ``a`` minus ``b`` with its paired interval, or why it is undefined (no normal image or no target)."""
    try:
        return paired_auc_difference(a, b, seed=seed)
    except ValueError as exc:
        return {"difference": None, "why": str(exc)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="A trained resnet-saliency model directory.")
    parser.add_argument("--root", type=Path, required=True, help="The phantom INbreast release it was trained on.")
    parser.add_argument("--seed", type=int, default=None,
                        help="Split and bootstrap seed (default: the one the model was trained with).")
    parser.add_argument("--images", type=int, default=None, help="At most this many test images (split order).")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu).")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else int(read_metrics(args.model).get("dataset", {}).get("seed", 0))
    device = resolve_device(args.device)
    procedures, skipped, params = build_procedures(args.model, device)
    records = load_dataset(DATASET, args.root).select("test", seed)[: args.images]
    executor = make_executor(args.workers)
    items = ImageSource(records, DATASET, str(args.root.resolve())).items(executor)
    found: dict[int, dict[str, Any]] = {}
    start = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"detect {len(records)} test images x {len(procedures.detectors)} procedures",
                            total=len(records))
        for index, result in executor.run(detect_all, procedures, items):
            found[index] = result
            bar.advance(task)
    wall = time.perf_counter() - start
    done = [found[i] for i in range(len(records))]

    results = {name: [ImageResult(r.image_id, f[name]["detections"], r.annotation, f[name]["wall"],
                                  spacing_mm=stored_spacing(r)) for r, f in zip(records, done, strict=True)]
               for name in procedures.detectors}
    froc = FrocEvaluator(seed=seed)
    report = {name: {k: v for k, v in froc.evaluate(res).items() if k in FROC_KEYS} for name, res in results.items()}
    data = {name: froc_data(res) for name, res in results.items()}
    differences = {f"{name}_minus_dense": paired_difference(data[name], data["dense"], seed)
                   for name in data if name != "dense"} if "dense" in data else {}
    n = max(len(done), 1)
    seconds = {name: {"wall_per_image": sum(f[name]["wall"] for f in done) / n,
                      "cpu_per_image": sum(f[name]["cpu"] for f in done) / n,
                      "detections_per_image": sum(len(f[name]["detections"]) for f in done) / n}
               for name in procedures.detectors}
    print(json.dumps({
        "benchmark": "resnet-saliency FROC by map-to-detections procedure, same weights, same test images",
        "model": str(args.model), "root": str(args.root), "seed": seed, "device": device, "workers": args.workers,
        "test_images": len(done), "test_normal_images": sum(r.is_normal for r in results["dense"]) if results else 0,
        "trained_detector": params,
        "procedures": {name: PROCEDURES[name] for name in procedures.detectors},
        "skipped": skipped,
        "froc": report,
        "paired": differences,
        "seconds": {"per_procedure": seconds, "read_per_image": sum(f["read_seconds"] for f in done) / n,
                    "total_wall": wall},
    }, indent=2, default=str))


if __name__ == "__main__":
    main()
