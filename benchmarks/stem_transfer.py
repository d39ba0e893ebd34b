"""resnet-saliency from random weights and with its stem taken from the shipped point-heatmap weights.

Why: issue 24 asks whether saliency and Faster R-CNN gain from starting on the shipped weights where
their architecture allows. The point net (widths [8, 16, 32]) and the saliency net (width 8) share one
layer of the same role and shape: the first 3x3 convolution from the image to 8 channels and its batch
norm (the saliency net's ``stem``: 72 weights and 4 x 8 norm values of its 177 k). Beyond it the point
net runs a second 8 -> 8 convolution at full resolution, then plain pairs of convolutions after each
max-pool, a decoder and a heat-map head; the saliency net runs residual blocks and a patch-score head.
Faster R-CNN's default backbone (resnet18) opens with a 7x7 stride-2 convolution to 64 channels: no
tensor fits; its ``saliency-resnet`` backbone is the saliency net, stem included.

Trains ``--pipeline`` on ``--root``'s training split both ways (the same seed, so the runs differ in the
stem alone), tests both on its test split and prints JSON: FROC AUC with 95 % image-bootstrap
intervals and the paired difference stem minus random. Both inputs are z-scores of the breast.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stem_transfer.py --root RELEASE --work /tmp/stem
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from transfer import auc_with_interval, paired_difference, test, train

from calcdet_core.api import shipped_weights
from pipelines import ROOT

POINT_STEM = {"down.0.0.0.weight": "stem.0.weight", "down.0.0.1.weight": "stem.1.weight",
              "down.0.0.1.bias": "stem.1.bias", "down.0.0.1.running_mean": "stem.1.running_mean",
              "down.0.0.1.running_var": "stem.1.running_var"}
"""The point net's first convolution and batch norm, by the saliency net's names for them."""


def start_from_point_stem(weights: Path) -> None:
    """Make resnet-saliency's training build its net with the stem of the point net in ``weights``."""
    import calcdet_saliency.train as saliency_train
    import torch
    from safetensors.torch import load_file

    point = load_file(weights)
    build = saliency_train.build_net

    def build_with_point_stem(config: Any) -> torch.nn.Module:
        net = build(config)
        state = net.state_dict()
        for source, target in POINT_STEM.items():
            if state[target].shape != point[source].shape:
                raise ValueError(f"{weights}: {source} has shape {tuple(point[source].shape)}, the saliency net's "
                                 f"{target} {tuple(state[target].shape)} (detector.params.width must be 8)")
            state[target] = point[source]
        net.load_state_dict(state)
        return net

    saliency_train.build_net = build_with_point_stem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="An INbreast-layout release (train and test).")
    parser.add_argument("--work", type=Path, required=True, help="Where the two models are written.")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "resnet-saliency.yaml")
    parser.add_argument("--weights", default="point-heatmap", help="Shipped weights whose stem is taken.")
    parser.add_argument("--start", choices=["random", "point-stem", "both"], default="both",
                        help="Train one start only (two processes share a machine), or both and compare.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    starts = ["random", "point-stem"] if args.start == "both" else [args.start]
    seconds = {}
    for start in starts:
        if start == "point-stem":
            start_from_point_stem(shipped_weights(args.weights))
        seconds[start] = round(train(args.pipeline, args.root, args.work / start, [], args), 1)
        print(f"{start}: trained ({seconds[start]} s)", file=sys.stderr, flush=True)
    if args.start != "both":
        return
    events = {start: test(args.work / start, {"release": args.root}, args.seed)["release"] for start in starts}
    print(json.dumps({
        "pipeline": str(args.pipeline), "root": str(args.root), "weights": args.weights, "train_seconds": seconds,
        "auc": {start: auc_with_interval(data, args.resamples, args.seed) for start, data in events.items()},
        "point_stem_minus_random": paired_difference(events["point-stem"], events["random"], args.resamples,
                                                     args.seed),
    }, indent=1))


if __name__ == "__main__":
    main()
