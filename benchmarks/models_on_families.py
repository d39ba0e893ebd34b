"""Trained models tested on every phantom family: FROC AUC and the paired difference of every two.

Why: a model trained on one release of one family (``calcdet reproduce``'s benchmark, say) should be
judged on releases it never saw, of other families too (issue 24: beat AIA-ML on other generators).
This writes one ``--images`` release per family (seed ``--seed``; a folder already holding one is
read, not rewritten), runs each ``NAME=MODEL_DIR`` on every test split and prints JSON: FROC AUC over
0-50 FP per normal image with its 95 % image-bootstrap interval, and each model minus each one named
after it, paired on the same images and bootstrap draws.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/models_on_families.py --work /tmp/families-test \\
        pretrained=OUT/point-heatmap-pretrained/model aia-ml=OUT/aia-ml/model
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

from calcdet_phantom import generate_release
from calcdet_phantom.families import FAMILIES
from transfer import auc_with_interval, paired_difference, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="NAME=MODEL_DIR", help="Each is compared with those after it.")
    parser.add_argument("--work", type=Path, required=True, help="Folder of the test releases, one per family.")
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=3, help="Seed of the releases (not one a model trained on).")
    parser.add_argument("--split-seed", type=int, default=0, help="Seed of their patient split and the bootstrap.")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    models = dict(spec.partition("=")[::2] for spec in args.models)
    if len(models) != len(args.models) or not all(models.values()):
        parser.error("give each model once as NAME=MODEL_DIR")
    releases = {}
    for family in args.families.split(","):
        root = args.work / family
        releases[family] = root if (root / "INbreast.csv").is_file() else generate_release(
            root, args.images, args.seed, args.height, args.width, family=family)
    events = {name: test(Path(model), releases, args.split_seed) for name, model in models.items()}

    print(json.dumps({
        "benchmark": "models_on_families", "models": models,
        "releases": {"images": args.images, "height": args.height, "width": args.width, "seed": args.seed,
                     "split_seed": args.split_seed, "roots": {f: str(r) for f, r in releases.items()}},
        "auc": {name: {f: auc_with_interval(d, args.resamples, args.split_seed) for f, d in by.items()}
                for name, by in events.items()},
        "paired": {f"{a} minus {b}": {f: paired_difference(events[a][f], events[b][f], args.resamples, args.split_seed)
                                        for f in releases} for a, b in combinations(models, 2)},
    }, indent=1))


if __name__ == "__main__":
    main()
