"""Transfer benchmark: a pipeline trained on annotations, or on normal images with inserted MCs, tested everywhere.

For each phantom family F a test release R_F (``--images``, seed ``--seed``) is written, and a
second, independent release S_F of the same family (``--source-images``, seed + 1) stands for a
user's own archive: ``calcdet insert S_F --normals-only`` (literature MC model, seed + 2) turns its
normal images into a training release I_F without using one MC annotation. ``--pipeline`` is then
trained, with the benchmarks' cost caps (caps.py), on

* ``annotated``: R_F's own training split and its annotations (the fit, on its own family);
* ``inserted``:  I_F (normal images of F plus insertions only);
* ``on-the-fly`` (detectors, ``--arms``): S_F's normal images, with new MCs inserted every epoch by the
  pipeline's ``training.transform`` (``mc-insertion``, ``images: normal``) instead of a written release;
* ``augmented`` (detectors, ``--arms``): R_F's training split with its annotations, plus new MCs
  inserted every epoch (``mc-insertion``, ``images: all``);

and every model is tested on every family's test split: FROC AUC (0-50 FP per normal image) with
its 95 % image-bootstrap interval, and on F's own test split the paired difference inserted minus
annotated (same images, same draws) and their ratio. The ``annotated`` row of ``default`` is what
training on calcdet's own phantoms gives elsewhere. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/transfer.py --images 40 --source-images 60
    ... --pipeline pipelines/resnet-saliency.yaml --families default,cluttered
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
from calcdet_phantom import generate_release
from calcdet_phantom.families import FAMILIES
from calcdet_phantom.insert_release import insert_release
from caps import COST_CAPS, capped_pipeline, with_settings

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.bootstrap import bootstrap_froc, paired_auc_difference, percentile_interval
from calcdet_core.evaluation.froc import FrocData, froc_data, froc_point_estimate
from pipelines import ROOT

ARMS = ("annotated", "inserted", "on-the-fly", "augmented")
TRANSFORMS = {"on-the-fly": {"plugin": "mc-insertion", "params": {"images": "normal"}},
              "augmented": {"plugin": "mc-insertion", "params": {"images": "all"}}}
"""The arms' ``training.transform``: the literature MC model, into normal images only or into every image."""


def train(pipeline: Path, release: Path, model: Path, settings: list[str], args: argparse.Namespace,
          transform: dict[str, Any] | None = None) -> float:
    """Train ``pipeline`` (the cost caps and ``settings``, ``transform`` as its ``training.transform``) on
    ``release`` into ``model``; seconds (0 when the model is there)."""
    import yaml

    from calcdet_core.run.executor import make_executor
    from calcdet_core.run.workflows import train_model

    if (model / "checksums.json").exists():
        return 0.0
    spec = capped_pipeline(pipeline, model.parent, with_settings(COST_CAPS, settings))
    if transform is not None:
        doc = yaml.safe_load(spec.read_text())
        doc.setdefault("training", {})["transform"] = transform
        spec = spec.with_name(f"{model.name}.yaml")
        spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    start = time.perf_counter()
    train_model(spec, "inbreast", release, model, args.seed, make_executor(getattr(args, "workers", 1)),
                device=getattr(args, "device", "auto"))
    return time.perf_counter() - start


def test(model: Path, releases: dict[str, Path], seed: int) -> dict[str, FrocData]:
    """The model's FROC events on every family's test split."""
    from calcdet_core.io.model_dir import load_model
    from calcdet_core.run.detection import detect_record
    from calcdet_core.run.workflows import load_dataset

    pipeline = load_model(model)
    out = {}
    for family, release in releases.items():
        records = load_dataset("inbreast", release).select("test", seed)
        out[family] = froc_data([ImageResult(r.image_id, detect_record(pipeline, r), r.annotation) for r in records])
    return out


def paired_difference(a: FrocData, b: FrocData, resamples: int, seed: int) -> dict[str, Any]:
    """FROC AUC of ``a`` minus ``b`` on the same images, with its paired 95 % bootstrap interval (rounded)."""
    found = paired_auc_difference(a, b, resamples, seed)
    return {"difference": round(found["difference"], 4), "ci95": [round(x, 4) for x in found["ci"]]}


def auc_with_interval(data: FrocData, resamples: int, seed: int) -> dict[str, Any]:
    auc = froc_point_estimate(data, ())["auc"]
    boot = bootstrap_froc(data, resamples, seed, (), grid=np.zeros(0)).auc
    finite = boot[np.isfinite(boot)]
    lo, hi = percentile_interval(finite, 0.95) if len(finite) else (None, None)
    return {"auc": None if auc is None else round(auc, 4),
            "auc_ci95": [None if lo is None else round(float(lo), 4), None if hi is None else round(float(hi), 4)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40, help="Images of each family's test release.")
    parser.add_argument("--source-images", type=int, default=60,
                        help="Images of each family's insertion source (its normal images are used).")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0, help="Seed of the releases, the split and the bootstrap.")
    parser.add_argument("--families", default=",".join(FAMILIES), help="Comma-separated (default: all).")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "aia-ml.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="PLUGIN.PARAM=VALUE",
                        help="A component parameter on top of the cost caps (repeatable).")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, help="Folder for releases and models (default: temporary).")
    parser.add_argument("--arms", default="annotated,inserted",
                        help=f"Comma-separated training arms among {', '.join(ARMS)} (the last two: detectors only).")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"--families: unknown {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    arms = [a for a in args.arms.split(",") if a]
    if "annotated" not in arms or not set(arms) <= set(ARMS):
        parser.error(f"--arms: 'annotated' and any of {', '.join(ARMS[1:])}, got {args.arms!r}")

    with tempfile.TemporaryDirectory(prefix="calcdet-transfer-") as tmp:
        work = args.work or Path(tmp)
        start = time.perf_counter()
        tests, sources, inserted, insertion = {}, {}, {}, {}
        for family in families:
            tests[family] = _release(work / family, args.images, args.seed, args, family)
            source = sources[family] = _release(work / f"{family}-source", args.source_images, args.seed + 1, args,
                                                family)
            target = work / f"{family}-inserted"
            if "inserted" in arms and not (target / "INbreast.csv").is_file():
                report = insert_release(source, target, seed=args.seed + 2, normals_only=True)
                insertion[family] = {"images": report.written, "with_mcs": report.with_mcs,
                                     "mcs": report.inserted_mcs, "left_out": report.left_out_with_findings}
            inserted[family] = target
        trained: dict[str, Any] = {}
        events: dict[tuple[str, str], dict[str, FrocData]] = {}
        for family in families:
            releases = {"annotated": tests[family], "inserted": inserted[family], "on-the-fly": sources[family],
                        "augmented": tests[family]}
            for kind in arms:
                model = work / f"model-{args.pipeline.stem}-{family}-{kind}"
                seconds = train(args.pipeline, releases[kind], model, args.set, args, TRANSFORMS.get(kind)) or None
                events[family, kind] = test(model, tests, args.seed)
                trained.setdefault(family, {})[kind] = {
                    "train_seconds": None if seconds is None else round(seconds, 1),
                    "tested_on": {f: auc_with_interval(d, args.resamples, args.seed)
                                  for f, d in events[family, kind].items()}}
                print(f"{family} {kind}: " + ", ".join(f"{f} {v['auc']}" for f, v in
                                                       trained[family][kind]["tested_on"].items()),
                      file=sys.stderr, flush=True)
            own = trained[family]
            fit = own["annotated"]["tested_on"][family]["auc"]
            for kind in arms[1:]:
                ins = own[kind]["tested_on"][family]["auc"]
                own[f"{kind}_vs_annotated"] = {
                    "ratio": None if not fit or ins is None else round(ins / fit, 3),
                    **paired_difference(events[family, kind][family], events[family, "annotated"][family],
                                        args.resamples, args.seed)}
        report = {"benchmark": "transfer", "pipeline": str(args.pipeline), "caps": with_settings({}, args.set),
                  "release": {"images": args.images, "source_images": args.source_images, "height": args.height,
                              "width": args.width, "seed": args.seed, "families": families},
                  "insertion": insertion, "trained": trained,
                  "total_seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(report, indent=2, default=str))


def _release(root: Path, images: int, seed: int, args: argparse.Namespace, family: str) -> Path:
    if (root / "INbreast.csv").is_file():
        return root
    return generate_release(root, images, seed, args.height, args.width, family=family)


if __name__ == "__main__":
    main()
