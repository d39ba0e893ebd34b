"""Quality of the AIA-ML pipeline on a phantom release: proposer score vs cascade stage 1 vs full cascade.

Generates a phantom INbreast release (kept outside the repository), trains the pipeline
on its train split (validation split for the cascade's threshold), then scores the test
split's candidates three ways with the very same candidates and features:

* ``proposer``: the proposer's own score (GM: top-hat contrast);
* ``stage1``: the cascade's first SVM alone (the study's "original" model);
* ``cascade``: the full two-stage cascade (what ``calcdet detect`` outputs).

Prints JSON: FROC AUC over 0-50 FP per normal image with its 95% image-bootstrap interval
for each; the cascade's lead over stage 1 and over the proposer with a *paired* interval (the
same image draws for both, so what the images share cancels); the training summary and timings.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pipelines.py --images 60
    ... --set svm-cascade.stage2=random-forest   # a classifier option on top of the cost caps (caps.py)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.bootstrap import paired_auc_difference
from calcdet_core.evaluation.evaluators import FrocEvaluator
from calcdet_core.evaluation.froc import froc_data
from calcdet_core.io.model_dir import load_model
from calcdet_core.run.detection import extract_features
from calcdet_core.run.executor import make_executor, progress_bar
from calcdet_core.run.sources import load_working
from calcdet_core.run.workflows import load_dataset, train_model

ROOT = Path(__file__).resolve().parents[1]


def score_three_ways(model_dir: Path, release: Path, seed: int) -> dict[str, list[ImageResult]]:
    """Test-split candidates scored by the proposer, by stage 1 and by the cascade (stored grid)."""
    pipeline = load_model(model_dir)
    classifier = pipeline.classifier
    if pipeline.proposer is None or classifier is None or not hasattr(classifier, "stage1_score"):
        raise ValueError("this benchmark needs a proposer -> features -> svm-cascade (or svm-hardneg) pipeline")
    records = load_dataset("inbreast", release).select("test", seed)
    out: dict[str, list[ImageResult]] = {"proposer": [], "stage1": [], "cascade": []}
    with progress_bar() as bar:
        task = bar.add_task("score test images three ways", total=len(records))
        for record in records:
            image, _ = load_working(record, pipeline.spec.preprocess)
            candidates = pipeline.proposer.propose(image.pixels, image.mask)
            features = extract_features(pipeline.features, image.pixels, candidates)
            stored = candidates.to_stored(image.transform, record.image_id)
            scores = {"proposer": stored.score, "stage1": classifier.stage1_score(features),
                      "cascade": classifier.score(features)}
            for name, score in scores.items():
                out[name].append(ImageResult(record.image_id, stored.with_scores(score), record.annotation))
            bar.advance(task)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=60, help="Phantom images (at least 60 for the report).")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0, help="Seed of the release, split and sampling.")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "aia-ml.yaml")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="PLUGIN.PARAM=VALUE",
                        help="Extra component parameter, e.g. svm-cascade.stage2=random-forest (repeatable).")
    parser.add_argument("--work", type=Path, default=None,
                        help="Folder for the release and model (default: a temporary folder, deleted after).")
    args = parser.parse_args()

    from caps import COST_CAPS, capped_pipeline, with_settings

    from calcdet_core.run.demo import make_release

    with tempfile.TemporaryDirectory(prefix="calcdet-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        release = make_release(work / "release", args.images, args.seed, args.height, args.width)
        generated = time.perf_counter()
        overrides = with_settings(COST_CAPS, args.set)
        spec = capped_pipeline(args.pipeline, work, overrides)
        model = work / f"model-{int(time.time())}"
        training = train_model(spec, "inbreast", release, model, args.seed, make_executor(args.workers))
        trained = time.perf_counter()
        scored = score_three_ways(model, release, args.seed)
        froc = FrocEvaluator(seed=args.seed)
        report = {name: {k: v for k, v in froc.evaluate(results).items()
                         if k in ("auc", "auc_ci95", "auc_bootstrap_std", "sensitivity_at", "targets_found")}
                  for name, results in scored.items()}
        data = {name: froc_data(results) for name, results in scored.items()}
        paired = {f"cascade_minus_{other}": paired_auc_difference(data["cascade"], data[other], seed=args.seed)
                  for other in ("stage1", "proposer")}
        first = next(iter(scored.values()))
        print(json.dumps({
            "benchmark": "aia-ml quality on a phantom release",
            "release": {"images": args.images, "height": args.height, "width": args.width, "seed": args.seed},
            "pipeline": spec.name, "overrides": overrides,
            "test_images": len(first), "test_normal_images": sum(r.is_normal for r in first),
            "train": training["train"], "validation": training["validation"],
            "stage1_threshold": training["classifier"].get("threshold_choice"),
            "stage2": {k: v for k, v in training["classifier"].get("stage2", {}).items() if k != "tuning"},
            "froc": report,
            "cascade_beats_proposer": report["cascade"]["auc"] > report["proposer"]["auc"],
            "cascade_beats_stage1": report["cascade"]["auc"] > report["stage1"]["auc"],
            "paired": paired,
            "seconds": {"release": generated - start, "train": trained - generated,
                        "score": time.perf_counter() - trained},
        }, indent=2, default=str))


if __name__ == "__main__":
    main()
