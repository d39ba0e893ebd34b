"""The torch half of the ``example-fcn`` detector: the network, its training loop and inference.

Imported only inside :class:`~calcdet_example.fcn.FcnDetector`'s ``fit`` and ``detect``, so that
importing the plugin (which every ``calcdet`` command does) never imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from calcdet_torch.loading import read_items
from calcdet_torch.state import (
    Arrays,
    load_module_arrays,
    load_optimizer_arrays,
    module_arrays,
    optimizer_arrays,
    prefixed,
    unprefixed,
)
from torch import nn
from torch.utils.data import Dataset

from calcdet_core.api import ImageStream, TrainingContext
from calcdet_example.patches import CropSpec, sample_crops


def build_net(channels: int, dilations: Sequence[int]) -> nn.Sequential:
    """3x3 convolutions (dilated, edge-replicating) and ReLUs, then a 1x1 convolution to one logit per pixel."""
    layers: list[nn.Module] = []
    width = 1
    for d in dilations:
        layers += [nn.Conv2d(width, channels, 3, padding=d, dilation=d, padding_mode="replicate"), nn.ReLU()]
        width = channels
    layers.append(nn.Conv2d(width, 1, 1))
    return nn.Sequential(*layers)


def new_net(channels: int, dilations: Sequence[int], seed: int) -> nn.Sequential:
    """The initial network for ``seed``, without touching torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_net(channels, dilations)


class _Crops(Dataset):
    """Item ``k``: crops of image ``order[k]``, drawn with its own seed (same crops whatever the worker count)."""

    def __init__(self, stream: ImageStream, order: Sequence[int], seeds: Sequence[int], spec: CropSpec) -> None:
        self.stream, self.order, self.seeds, self.spec = stream, list(order), list(seeds), spec

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return sample_crops(self.stream[self.order[k]], self.spec, np.random.default_rng(self.seeds[k]))


def _batches(crops: _Crops, batch_size: int, workers: int) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Batches of about ``batch_size`` crops, images read lazily (by ``workers - 1`` processes when > 1)."""
    buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for images_done, item in enumerate(read_items(crops, workers), 1):
        buffer.append(item)
        if sum(len(b[0]) for b in buffer) >= batch_size or images_done == len(crops):
            yield images_done, [np.concatenate(part) for part in zip(*buffer, strict=True)]
            buffer = []


def _loss(net: nn.Module, batch: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, float]:
    """Mask-weighted BCE of the heat map against the Gaussian targets, and the total weight."""
    pixels, target, weight = (torch.from_numpy(a).to(device) for a in batch)
    logits = net(pixels[:, None])[:, 0]
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight
    total = float(weight.sum())
    return per_pixel.sum() / max(total, 1e-6), total


def fit_weights(config: Any, train: ImageStream, validation: ImageStream, context: TrainingContext) -> Arrays:
    """Train the net on crops of ``train``; return its weights (the best validation epoch's, when there is one).

    Every epoch ends with a checkpoint (weights, Adam state, best weights so far); a fit that
    finds one in ``context`` continues after it. Epoch ``e`` draws its crops from
    ``context.rng(e)``, so an interrupted and resumed fit equals an uninterrupted one.
    """
    device = torch.device(context.device)
    net = new_net(config.channels, config.dilations, context.seed).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    spec = CropSpec(config.patch_size, config.patches_per_image, config.positive_fraction, config.sigma,
                    config.positive_weight)
    best: dict[str, Any] = {"loss": None, "epoch": 0, "stopped": False}
    best_weights = module_arrays(net)
    start = 1
    checkpoint = context.last_checkpoint()
    if checkpoint is not None:
        load_module_arrays(net, unprefixed("model", checkpoint.arrays), "checkpoint")
        net.to(device)
        load_optimizer_arrays(optimizer, unprefixed("optim", checkpoint.arrays))
        best_weights = unprefixed("best", checkpoint.arrays)
        best.update(checkpoint.state)
        start = checkpoint.epoch + 1
    validation_seeds = context.rng(0).integers(2**63, size=len(validation))
    for epoch in range(start, config.epochs + 1):
        if best["stopped"]:
            break
        rng = context.rng(epoch)
        crops = _Crops(train, rng.permutation(len(train)), rng.integers(2**63, size=len(train)), spec)
        metrics = {"loss": _train_epoch(net, optimizer, crops, config, context, epoch, device)}
        if len(validation):
            metrics["val_loss"] = _validation_loss(net, _Crops(validation, range(len(validation)), validation_seeds,
                                                               spec), config, context, device)
            if best["loss"] is None or metrics["val_loss"] < best["loss"]:
                best.update(loss=metrics["val_loss"], epoch=epoch)
                best_weights = module_arrays(net)
            best["stopped"] = bool(config.patience) and epoch - best["epoch"] >= config.patience
        context.reporter.log_epoch(epoch, **metrics)
        context.save_checkpoint(epoch, {**prefixed("model", module_arrays(net)),
                                        **prefixed("optim", optimizer_arrays(optimizer)),
                                        **prefixed("best", best_weights)}, dict(best))
    context.reporter.record(epochs=len(context.reporter.history), best_epoch=best["epoch"] or None,
                            best_val_loss=best["loss"])
    return best_weights if best["epoch"] else module_arrays(net)


def _train_epoch(net: nn.Module, optimizer: torch.optim.Optimizer, crops: _Crops, config: Any,
                 context: TrainingContext, epoch: int, device: torch.device) -> float:
    net.train()
    total_loss = total_weight = 0.0
    with context.reporter.progress(f"example-fcn epoch {epoch}/{config.epochs}", total=len(crops)) as task:
        seen = 0
        for images_done, batch in _batches(crops, config.crops_per_step, context.workers):
            loss, weight = _loss(net, batch, device)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * weight
            total_weight += weight
            task.advance(images_done - seen, loss=total_loss / max(total_weight, 1e-6))
            seen = images_done
    return total_loss / max(total_weight, 1e-6)


def _validation_loss(net: nn.Module, crops: _Crops, config: Any, context: TrainingContext,
                     device: torch.device) -> float:
    net.eval()
    total_loss = total_weight = 0.0
    with torch.inference_mode():
        for _, batch in _batches(crops, config.crops_per_step, context.workers):
            loss, weight = _loss(net, batch, device)
            total_loss += float(loss.detach()) * weight
            total_weight += weight
    return total_loss / max(total_weight, 1e-6)


class Inference:
    """A net built from weights on one device, ready to turn images into logit maps."""

    def __init__(self, config: Any, weights: Arrays, device: str, source: str = "weights") -> None:
        self.device = torch.device(device)
        self.net = build_net(config.channels, config.dilations)
        load_module_arrays(self.net, weights, source)  # a clear error naming source when they do not fit
        self.net.to(self.device).eval()

    def logits(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(B, H, W) float32 logits for B standardised images of one shape."""
        with torch.inference_mode():
            x = torch.from_numpy(np.stack(images)[:, None]).to(self.device)
            return self.net(x)[:, 0].cpu().numpy()
