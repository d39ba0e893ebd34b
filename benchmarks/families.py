"""Cross-family benchmark: do the proposers and the AIA-ML pipeline hold on phantoms of every family?

For each phantom family (``calcdet phantom --family``) a small release is written (``--images`` of
``--height`` x ``--width``, seed ``--seed``). Every installed proposer among gm, hdog and hough runs
on each release's test split with its plugin defaults and with every setting a shipped
``pipelines/*.yaml`` gives it (``--variant`` adds more), and is scored as ``benchmarks/proposers.py``
scores it (the study's 14 px rule, study crediting: a candidate reaches every target its disc
touches): sensitivity and FP per image, each with a 95 % image-bootstrap interval (``--resamples``
draws of the test images).

With ``--train FAMILY`` (repeatable) it also trains ``--pipeline`` (``pipelines/aia-ml.yaml``; any
trainable pipeline) with the benchmarks' cost caps (``benchmarks/caps.py``, as
``benchmarks/pipelines.py`` does; ``--set`` adds settings) on that family's release and tests it on
every family's test split: FROC AUC (0-50 FP per normal image) with its bootstrap interval, and the
drop against the same-family AUC. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/families.py --images 16 --height 800 --width 640
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/families.py --proposers "" --train default --train cluttered
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from calcdet_phantom import generate_release
from calcdet_phantom.families import FAMILIES
from caps import COST_CAPS, capped_pipeline, with_settings
from proposers import PROPOSERS, Case, run

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.bootstrap import draw_counts, percentile_interval
from calcdet_core.evaluation.candidates import candidate_metrics
from calcdet_core.evaluation.evaluators import FrocEvaluator
from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.pipeline import Pipeline, build_pipeline
from calcdet_core.run.sources import load_working
from calcdet_core.run.workflows import load_dataset
from pipelines import ROOT


def proposer_pipelines(name: str, variants: dict[str, dict[str, Any]]) -> dict[str, Pipeline]:
    """Every proposer setting calcdet ships for ``name``, by where it comes from, each once.

    The plugin defaults, then the proposer of every ``pipelines/*.yaml`` that uses it (proposer-only
    pipelines such as ``hdog-tuned.yaml`` and the trainable ones such as ``aia-ml.yaml``), then
    ``variants`` (``--variant``: plugin defaults with those parameters changed).
    """
    def proposer_only(params: dict[str, Any], source: str) -> Pipeline:
        return build_pipeline({"name": f"{name}-variant", "proposer": {"plugin": name, "params": params}}, source)

    found = {"plugin_defaults": proposer_only({}, f"{name} with its defaults")}
    for path in sorted((ROOT / "pipelines").glob("*.yaml")):
        proposer = yaml.safe_load(path.read_text()).get("proposer") or {}
        if proposer.get("plugin") == name:
            found[path.name] = proposer_only(proposer.get("params") or {}, str(path))
    for label, params in variants.items():
        found[label] = proposer_only(params, label)
    groups: list[tuple[list[str], Pipeline]] = []
    for label, pipeline in found.items():
        same = [labels for labels, p in groups if p.proposer.config == pipeline.proposer.config]
        if same:
            same[0].append(label)
        else:
            groups.append(([label], pipeline))
    return {" = ".join(labels): pipeline for labels, pipeline in groups}


def test_cases(release: Path, pipeline: Pipeline, seed: int) -> list[Case]:
    """The test split, preprocessed as the pipeline says, with the truth in the stored grid."""
    cases = []
    for record in load_dataset("inbreast", release).select("test", seed):
        image, _ = load_working(record, pipeline.spec.preprocess)
        cases.append(Case(record.image_id, image.pixels, image.mask, image.transform, record.annotation))
    return cases


def interval(values: np.ndarray) -> list[float | None]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [None, None]
    lo, hi = percentile_interval(finite, 0.95)
    return [round(float(lo), 4), round(float(hi), 4)]


def candidate_summary(results: list[ImageResult], resamples: int, seed: int) -> dict[str, Any]:
    """Pooled sensitivity and FP per image with image-bootstrap intervals (resamples without a target: left out)."""
    m = candidate_metrics(results)
    per = m["per_image"]
    detected = np.array([r["detected"] for r in per], float)
    targets = np.array([r["targets"] for r in per], float)
    fp = np.array([r["fp"] for r in per], float)
    counts = draw_counts(len(per), resamples, seed).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = (counts @ detected) / (counts @ targets)
    return {"images": m["images"], "targets": m["targets"], "detected": m["detected"],
            "sensitivity": None if m["sensitivity"] is None else round(m["sensitivity"], 4),
            "sensitivity_ci95": interval(sensitivity),
            "fp_per_image": round(m["fp_per_image"], 1), "fp_per_image_ci95": interval(counts @ fp / len(per)),
            "seconds_per_image": round(m["seconds_per_image"], 3)}


def proposer_table(releases: dict[str, Path], names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name in names:
        variants = {setting: with_settings({}, [setting])[name] for setting in args.variant
                    if setting.startswith(f"{name}.")}
        for variant, pipeline in proposer_pipelines(name, variants).items():
            row = table.setdefault(name, {}).setdefault(variant, {"params": pipeline.proposer.config.model_dump()})
            for family, release in releases.items():
                results, _, _ = run(pipeline.proposer.propose, test_cases(release, pipeline, args.seed))
                row[family] = candidate_summary(results, args.resamples, args.seed)
                print(f"{name} {variant} {family}: sensitivity {row[family]['sensitivity']} "
                      f"FP/image {row[family]['fp_per_image']}", flush=True, file=sys.stderr)
    return table


def cross_training(releases: dict[str, Path], train_family: str, work: Path,
                   args: argparse.Namespace) -> dict[str, Any]:
    """``--pipeline`` (AIA-ML by default) trained on ``train_family``'s release, tested on every family's test split."""
    from calcdet_core.io.model_dir import load_model
    from calcdet_core.run.detection import detect_record
    from calcdet_core.run.executor import make_executor
    from calcdet_core.run.workflows import train_model

    overrides = with_settings(COST_CAPS, args.set)
    spec = capped_pipeline(args.pipeline, work, overrides)
    start = time.perf_counter()
    model = work / f"model-{args.pipeline.stem}-{train_family}"
    train_model(spec, "inbreast", releases[train_family], model, args.seed, make_executor(1))
    trained = time.perf_counter() - start
    pipeline = load_model(model)
    froc, out = FrocEvaluator(seed=args.seed), {}
    for family, release in releases.items():
        records = load_dataset("inbreast", release).select("test", args.seed)
        results = [ImageResult(r.image_id, detect_record(pipeline, r), r.annotation) for r in records]
        metrics = froc.evaluate(results)
        out[family] = {"auc": metrics["auc"], "auc_ci95": metrics["auc_ci95"]}
    same = out[train_family]["auc"]
    for row in out.values():
        row["drop_vs_same_family"] = None if same is None or row["auc"] is None else round(same - row["auc"], 4)
    return {"pipeline": str(args.pipeline), "trained_on": train_family, "overrides": overrides,
            "train_seconds": round(trained, 1), "tested_on": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40, help="Images per family's release (default 40).")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0, help="Seed of every release, the split and the bootstrap.")
    parser.add_argument("--families", default=",".join(FAMILIES), help="Comma-separated (default: all).")
    parser.add_argument("--proposers", default=",".join(PROPOSERS), help="Comma-separated (default: gm,hdog,hough).")
    parser.add_argument("--resamples", type=int, default=1000, help="Image-bootstrap resamples (default 1000).")
    parser.add_argument("--train", action="append", default=[], choices=list(FAMILIES),
                        help="Also train AIA-ML on this family, test on all (repeatable).")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "aia-ml.yaml",
                        help="The trainable pipeline --train trains (default: AIA-ML).")
    parser.add_argument("--set", action="append", default=[], metavar="PLUGIN.PARAM=VALUE",
                        help="Extra AIA-ML component parameter on top of the cost caps (caps.py) (repeatable).")
    parser.add_argument("--variant", action="append", default=[], metavar="PROPOSER.PARAM=VALUE",
                        help="Also run this proposer with its defaults and this one change (repeatable).")
    parser.add_argument("--work", type=Path, help="Folder for the releases and model (default: temporary).")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"--families: unknown {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    outside = [f for f in args.train if f not in families]
    if outside:
        parser.error(f"--train {', '.join(outside)}: not among --families")
    installed = {e.name for e in get_registry().entries if e.kind == "proposers" and not e.error}
    wanted = [n for n in args.proposers.split(",") if n]

    with tempfile.TemporaryDirectory(prefix="calcdet-families-") as tmp:
        work = args.work or Path(tmp)
        start = time.perf_counter()
        releases = {f: generate_release(work / f, args.images, args.seed, args.height, args.width, family=f)
                    for f in families}
        generated = time.perf_counter() - start
        report: dict[str, Any] = {
            "benchmark": "cross-family",
            "release": {"images": args.images, "height": args.height, "width": args.width, "seed": args.seed,
                        "families": families, "seconds": round(generated, 1)},
            "crediting": "study", "resamples": args.resamples,
            "proposers": proposer_table(releases, [n for n in wanted if n in installed], args),
            "skipped": [n for n in wanted if n not in installed],
        }
        report["trained"] = [cross_training(releases, family, work, args) for family in args.train]
        report["total_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
