"""Training of the saliency detector's patch classifier (imports torch; imported only by ``fit``).

The best epoch is the one whose net detects best (``select_on``: the validation FROC AUC of the
detector's own ``detect``, dense or study, on a few validation images), not the one whose patches it
classifies best: the map's peaks, thresholds and NMS decide what it finds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from calcdet_torch.loading import read_items
from calcdet_torch.loop import train_selecting
from calcdet_torch.metrics import auroc, youden_f1
from calcdet_torch.patches import Augment, EpochPatches, PatchSpec
from calcdet_torch.runtime import context_device, seed_torch
from calcdet_torch.state import Arrays, module_arrays

from calcdet_core.api import Detections, ImageStream, TrainingContext, TrainingImage
from calcdet_saliency.detector import SaliencyDetector
from calcdet_saliency.inference import build_net

NAME = "resnet-saliency"


def read_patches(patches: EpochPatches, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Every image's patches and labels, images read lazily (by ``workers - 1`` processes when > 1)."""
    parts = list(read_items(patches, workers))
    size = patches.spec.size
    if not parts:
        return np.zeros((0, size, size), np.float32), np.zeros(0, np.float32)
    return np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts])


def hard_candidates(config: Any, stream: ImageStream) -> list[np.ndarray] | None:
    """Per image, the centres (x, y) of the ``hard_negatives`` proposer's candidates (None when it is off)."""
    if config.hard_negatives is None:
        return None
    proposer = config.hard_negatives.build()
    return [proposer.propose(image.pixels, image.mask).xyr[:, :2] for image in (stream[k] for k in range(len(stream)))]


def fit_weights(config: Any, train: ImageStream, validation: ImageStream, context: TrainingContext,
                radius: float) -> Arrays:
    """Train the patch classifier on ``train``; the weights of its best validation epoch (FROC AUC, else loss).
    ``radius``: what the detector gives its detections."""
    device = context_device(context)
    seed_torch(context.seed)
    net = build_net(config).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    spec = PatchSpec(config.patch_size, config.negative_ratio, config.jitter, config.exclusion)
    augment = Augment(config.contrast, config.brightness) if config.augment else None
    hard = hard_candidates(config, train)
    share = 0.0 if config.hard_negatives is None else config.hard_negatives.share

    def batches(epoch: int) -> tuple[int, Iterator[tuple[torch.Tensor, torch.Tensor]]]:
        rng = context.rng(epoch)
        x, y = read_patches(EpochPatches(train, spec, rng, config.normalisation, hard, share), context.workers)
        if config.iterations_per_epoch is None:
            order = rng.permutation(len(y))
        else:  # the study's fixed epoch length: the pool drawn with replacement, each draw augmented anew
            order = rng.integers(0, len(y), config.iterations_per_epoch * config.patch_batch)
        starts = range(0, len(order), config.patch_batch)

        def gen() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for s in starts:
                pick = order[s : s + config.patch_batch]
                patches = x[pick] if augment is None else augment(x[pick], rng)
                yield torch.from_numpy(patches).to(device), torch.from_numpy(y[pick]).to(device)

        return len(starts), gen()

    held: dict[str, np.ndarray] = {}

    def validate(model: torch.nn.Module) -> dict[str, float]:
        if not len(validation):
            return {}
        if not held:
            held["x"], held["y"] = read_patches(EpochPatches(validation, spec, context.rng(0), config.normalisation),
                                                context.workers)
        if not len(held["y"]):
            return {}
        logits = torch.cat([model(torch.from_numpy(held["x"][s : s + 1024]).to(device)[:, None])
                            for s in range(0, len(held["y"]), 1024)])
        loss = float(F.binary_cross_entropy_with_logits(logits, torch.from_numpy(held["y"]).to(device)))
        scores = torch.sigmoid(logits).cpu().numpy()
        threshold, f1 = youden_f1(held["y"], scores)
        return {"val_loss": loss, "val_auroc": auroc(held["y"], scores), "val_f1": f1, "val_threshold": threshold}

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return F.binary_cross_entropy_with_logits(model(x[:, None]), y)

    def detect(model: torch.nn.Module, images: Sequence[TrainingImage]) -> list[Detections]:
        return detections(config, radius, module_arrays(model), str(device), images)

    return train_selecting(net, optimizer, loss_fn, batches, validate, config, NAME, validation, detect,
                           context)


def detections(config: Any, radius: float, weights: Arrays, device: str,
               images: Sequence[TrainingImage]) -> list[Detections]:
    """What ``detect`` of a detector with these weights finds on ``images``: the same folded net, map and peaks."""
    detector = SaliencyDetector(config)
    detector.radius_ = radius
    detector.to_device(device)
    detector.weights_ = weights
    return [detector.detect(im.pixels, im.mask) for im in images]
