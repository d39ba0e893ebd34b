"""AIA-ML stage by stage at INbreast's image size: wall and CPU seconds, peak memory, candidates, extrapolation.

Generates a phantom INbreast release with ``calcdet phantom --inbreast-sizes`` (CC and MLO views,
each patient on one of INbreast's detectors, 4084x3328 or 3328x2560; the study's patient split;
``--height``/``--width`` for one size instead),
trains ``pipelines/aia-ml.yaml`` on it (``--cost-caps``: with the benchmarks' cost caps, caps.py), then
detects its test split, and prints a JSON summary. Per-stage figures come from what calcdet keeps
anyway: per-image jobs add ``wall_/cpu_/rss_<stage>`` to their results (summed in the training
metrics' ``stage_costs`` and in each detection's ``costs``), and the fits record their steps' seconds
with the run's reporter (``feature_training`` and ``classifier`` in the training metrics).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stages.py --images 60 --workers 2 --out /tmp/stages

``--reference CHECKOUT`` then runs the same benchmark on the same release with another calcdet
checkout's code and pipeline (e.g. ``git worktree add /tmp/before <commit>``; its packages are put
first on ``PYTHONPATH`` in a child process) and adds per-stage ratios, reference over this code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from caps import COST_CAPS, capped_pipeline
from proposers import print_report

from calcdet_core.io.model_dir import load_model
from calcdet_core.run.demo import make_release
from calcdet_core.run.detection import DetectedImage, run_detection
from calcdet_core.run.executor import make_executor, stage_costs
from calcdet_core.run.pipeline import Pipeline
from calcdet_core.run.sources import ImageSource
from calcdet_core.run.workflows import load_dataset, train_model

ROOT = Path(__file__).resolve().parents[1]
RELEASE_IMAGES = 410
"""INbreast's full release: what the figures are extrapolated to."""

EXTRAPOLATION = ("Every figure is scaled by 410 / images of this release, i.e. assumes each stage's cost grows "
                 "linearly with the number of images at this image size and candidate density. It holds for the "
                 "per-image stages (read, proposal, features, scoring); for the fits it holds only while their "
                 "rows grow with the images: a fit whose 'capped' flag is true already uses its cap and will "
                 "cost about the same (the figure overstates it), and an uncapped RBF SVM grows between n^2 "
                 "and n^3 in its rows (the figure understates it).")


def _seconds(wall: float, cpu: float) -> dict[str, float]:
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}


def _merge(*parts: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-stage costs of several job groups added together (peak memory: the largest)."""
    merged: dict[str, dict[str, float]] = {}
    for part in parts:
        for stage, c in part.items():
            into = merged.setdefault(stage, {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mb": 0.0})
            into["wall_s"] += c["wall_s"]
            into["cpu_s"] += c["cpu_s"]
            into["peak_rss_mb"] = max(into["peak_rss_mb"], c["peak_rss_mb"])
    return {stage: {k: round(v, 3) for k, v in c.items()} for stage, c in merged.items()}


def _fit_steps(facts: dict[str, Any], prefix: str) -> dict[str, dict[str, float]]:
    return {f"{prefix}.{step}": _seconds(c["wall_s"], c["cpu_s"]) for step, c in facts.get("seconds", {}).items()}


def training_stages(metrics: dict[str, Any]) -> dict[str, Any]:
    """The training metrics' per-stage figures, named as the issue's stages (per-image jobs, then the fits)."""
    costs = metrics.get("stage_costs", {})
    stages: dict[str, Any] = _merge(*costs.values())
    for slot, facts in metrics.get("feature_training", {}).items():
        stages.update(_fit_steps(facts, f"fit {slot}"))
    stages.update(_fit_steps(metrics.get("classifier", {}), "fit classifier"))
    return stages


def fit_caps(metrics: dict[str, Any], pipeline: Pipeline) -> dict[str, Any]:
    """Rows each fit used against its cap: whether the linear extrapolation of that fit holds."""
    caps: dict[str, Any] = {}
    for slot, facts in metrics.get("feature_training", {}).items():
        extractor = pipeline.features[int(slot.removeprefix("features[").removesuffix("]"))]
        cap = getattr(extractor.config, "max_training_samples", None)
        caps[f"fit {slot}"] = {"rows": facts.get("samples"), "cap": cap, "capped": facts.get("samples") == cap}
    stage1 = metrics.get("classifier", {}).get("stage1", {})
    cap = getattr(pipeline.classifier.config, "max_train_samples", None) if pipeline.classifier else None
    caps["fit classifier.stage1"] = {"rows": stage1.get("rows"), "cap": cap, "capped": stage1.get("rows") == cap}
    return caps


def scaled(stages: dict[str, dict[str, float]], factor: float) -> dict[str, dict[str, float]]:
    return {s: {k: round(v * factor, 1) for k, v in c.items() if k != "peak_rss_mb"} for s, c in stages.items()}


def seconds_by_size(found: list[DetectedImage]) -> dict[str, float]:
    """Mean seconds one worker spent on a test image (its stages' wall seconds added), per stored image size."""
    import pydicom

    per_size: dict[str, list[float]] = {}
    for d in found:
        header = pydicom.dcmread(d.record.path, stop_before_pixels=True)
        seconds = sum(v for k, v in d.costs.items() if k.startswith("wall_"))
        per_size.setdefault(f"{header.Rows}x{header.Columns}", []).append(seconds)
    return {size: round(sum(v) / len(v), 2) for size, v in sorted(per_size.items())}


def package_roots(checkout: Path) -> list[str]:
    """Folders of a checkout's distributions (each holds its importable package: the repository's flat layout)."""
    return sorted(str(p.parent) for p in checkout.rglob("pyproject.toml") if ".venv" not in p.parts)


def reference_run(args: argparse.Namespace, release: Path) -> dict[str, Any]:
    """This benchmark with ``args.reference``'s code and pipeline on ``release``, in a child process."""
    out = args.out / "reference"
    command = [sys.executable, __file__, "--release", str(release), "--out", str(out),
               "--json", str(out / "summary.json"), "--seed", str(args.seed), "--workers", str(args.workers),
               "--pipeline", str(args.reference / "pipelines" / args.pipeline.name),
               *(["--cost-caps"] if args.cost_caps else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(package_roots(args.reference.resolve()))}
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "summary.json").read_text())


def ratios(reference: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Reference seconds (and memory) over this code's, per stage and in all: above 1 means faster now."""
    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    out: dict[str, Any] = {"train_wall": ratio(reference["train"]["wall_s"], current["train"]["wall_s"]),
                           "train_main_process_peak_rss": ratio(reference["train"]["main_process_peak_rss_mb"],
                                                                current["train"]["main_process_peak_rss_mb"]),
                           "detect_wall_per_image": ratio(reference["detect"]["wall_s_per_image"],
                                                          current["detect"]["wall_s_per_image"])}
    for phase in ("train", "detect"):
        ref, now = reference[phase]["stages"], current[phase]["stages"]
        out[f"{phase}_stages_wall"] = {s: ratio(ref[s]["wall_s"], now[s]["wall_s"]) for s in now if s in ref}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/calcdet-stages"), help="Work folder (release, model).")
    parser.add_argument("--images", type=int, default=60, help="Phantom images in the release.")
    parser.add_argument("--height", type=int, help="One image height for every image, px (with --width).")
    parser.add_argument("--width", type=int, help="One image width for every image, px (with --height).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the release, split and sampling.")
    parser.add_argument("--workers", type=int, default=1, help="Worker processes (and threads of the fits).")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "aia-ml.yaml", help="Pipeline YAML.")
    parser.add_argument("--cost-caps", action="store_true", help="Apply the cost caps (caps.py) to the pipeline.")
    parser.add_argument("--json", type=Path, help="Also write the summary here.")
    parser.add_argument("--release", type=Path, help="Use this INbreast-layout release instead of writing one.")
    parser.add_argument("--reference", type=Path, help="Another calcdet checkout to run the same way, for ratios.")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if (args.height is None) != (args.width is None):
        parser.error("--height and --width go together")
    release = args.release or make_release(args.out / "release", args.images, args.seed, args.height, args.width,
                                           inbreast_sizes=args.height is None)
    release_s = time.perf_counter() - start
    spec = capped_pipeline(args.pipeline, args.out, COST_CAPS) if args.cost_caps else args.pipeline
    model = args.out / "model"
    shutil.rmtree(model, ignore_errors=True)
    executor = make_executor(args.workers)

    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    trained = train_model(spec, "inbreast", release, model, args.seed, executor, "cpu", args.workers)
    train_wall, train_self_cpu = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu

    pipeline = load_model(model)
    records = load_dataset("inbreast", release).select("test", args.seed)
    source = ImageSource(records, "inbreast", str(release.resolve()))
    wall = time.perf_counter()
    shutil.rmtree(args.out / "detect-work", ignore_errors=True)
    found = run_detection(pipeline, source, executor, args.out / "detect-work")
    detect_wall = time.perf_counter() - wall
    detect_costs = stage_costs([{k: v for k, v in d.costs.items() if k != "candidates"} for d in found])
    candidates = [int(d.costs.get("candidates", 0)) for d in found]

    train_stages = training_stages(trained)
    factor = RELEASE_IMAGES / sum(trained["dataset"]["split_images"].values())
    summary = {
        "command": {k: str(v) for k, v in vars(args).items()},
        "release": {"images": sum(trained["dataset"]["split_images"].values()), "seconds": round(release_s, 1),
                    "path": str(release),
                    "split_images": trained["dataset"]["split_images"]},
        "train": {"wall_s": round(train_wall, 1), "main_process_user_cpu_s": round(train_self_cpu, 1),
                  "main_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "candidates": {s: {k: trained[s][k] for k in ("images", "candidates", "tp", "fp")}
                                 for s in ("train", "validation")},
                  "validation_auroc": trained.get("validation_auroc"), "stages": train_stages,
                  "fit_caps": fit_caps(trained, pipeline)},
        "detect": {"images": len(found), "wall_s": round(detect_wall, 1),
                   "wall_s_per_image": round(detect_wall / max(len(found), 1), 2),
                   "worker_seconds_per_image_by_size": seconds_by_size(found),
                   "candidates_per_image": round(sum(candidates) / max(len(found), 1), 1),
                   "stages": {s: {k: round(v, 3) for k, v in c.items()} for s, c in detect_costs.items()}},
        "extrapolated_to_410_images": {"assumes": EXTRAPOLATION, "factor": round(factor, 2),
                                       "train_wall_s": round(train_wall * factor),
                                       "train_stages": scaled(train_stages, factor),
                                       "detect_wall_s": round(detect_wall / max(len(found), 1) * RELEASE_IMAGES)},
        "peak_rss_mb": "per-image stages: the largest peak resident memory of the process that ran them (a worker "
                       "with --workers > 1), read when the stage ended; fits run in the main process "
                       "(main_process_peak_rss_mb covers them)",
    }
    if args.reference:
        reference = reference_run(args, release)
        summary["reference"] = {"checkout": str(args.reference), "summary": reference,
                                "ratios": ratios(reference, summary)}
    print_report(summary, args.json)


if __name__ == "__main__":
    main()
