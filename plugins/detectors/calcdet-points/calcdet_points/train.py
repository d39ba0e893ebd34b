"""Training of the point net on whole windows of the image stream (imports torch; imported only by ``fit``).

The epoch loop, checkpoints, resume, seeding and selection are :func:`calcdet_torch.loop.train_selecting`'s; this
module supplies the windows (with hard ones on the net's own false detections, mined before each epoch),
the focal loss and the validation figures. The best epoch is the one
with the highest validation FROC AUC (the study's 0-50 FP per normal image), measured by detecting
on a few validation images exactly as ``detect`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from calcdet_torch.loading import EpochWindows, read_items
from calcdet_torch.loop import train_selecting
from calcdet_torch.patches import standardised
from calcdet_torch.runtime import context_device, seed_torch
from calcdet_torch.state import Arrays, load_module_arrays

from calcdet_core.api import Detections, ImageStream, TrainingContext, TrainingImage
from calcdet_points.decode import DecodeSpec, decode
from calcdet_points.heatmap import WindowSpec, image_windows
from calcdet_points.inference import heatmaps
from calcdet_points.initial import fingerprint, read_initial
from calcdet_points.loss import focal_loss
from calcdet_points.mining import false_peaks
from calcdet_points.net import build_net

Windows = tuple[np.ndarray, np.ndarray]
NAME = "point-heatmap"
MIX = 4
"""Images whose windows are shuffled together before batching (batch norm sees more than one image)."""


def shuffled_batches(parts: Iterator[Windows], size: int, rng: np.random.Generator) -> Iterator[Windows]:
    """Batches of ``size`` windows, each group of :data:`MIX` images' windows shuffled together."""
    pending: list[Windows] = []

    def flush(final: bool) -> Iterator[Windows]:
        x, y = np.concatenate([p[0] for p in pending]), np.concatenate([p[1] for p in pending])
        order = rng.permutation(len(x))
        stop = len(x) if final else len(x) - len(x) % size
        for s in range(0, stop, size):
            yield x[order[s : s + size]], y[order[s : s + size]]
        pending[:] = [] if final else [(x[order[stop:]], y[order[stop:]])]

    for k, part in enumerate(parts, 1):
        pending.append(part)
        if k % MIX == 0:
            yield from flush(False)
    if pending and sum(len(p[0]) for p in pending):
        yield from flush(True)


def window_spec(config: Any) -> WindowSpec:
    return WindowSpec(config.window, config.windows_per_image, config.positive_share, config.sigma,
                      hard_share=config.hard_share)


def net_detections(net: torch.nn.Module, image: TrainingImage, config: Any, device: torch.device) -> Detections:
    """The detections of ``net`` (in evaluation mode) on a training image, the heat as score, as ``detect`` makes them
    (strips of ``strip_rows``, the config's decoding)."""
    heat = heatmaps(net, [standardised(image.pixels, image.mask)], device, config.strip_rows)[0]
    return decode(heat, image.mask, DecodeSpec.of(config))


def mined(net: torch.nn.Module, images: Iterable[TrainingImage], config: Any, device: torch.device
          ) -> dict[str, np.ndarray]:
    """Per image, the centres of the false detections of ``net`` as it stands (its mode restored)."""
    was_training = net.training
    net.eval()
    found = {image.image_id: false_peaks(net_detections(net, image, config, device), image.annotation)
             for image in images}
    net.train(was_training)
    return found


def fit_weights(config: Any, train: ImageStream, validation: ImageStream, context: TrainingContext) -> Arrays:
    """Train on windows of ``train``; the weights of the best validation epoch (FROC AUC, else loss)."""
    device = context_device(context)
    seed_torch(context.seed)
    net = build_net(config)
    if config.initial_weights is not None:  # checked again: the file may have changed since validation
        load_module_arrays(net, read_initial(config.initial_weights, tuple(config.widths), config.convs),
                           str(config.initial_weights))
        context.reporter.record(initial_weights=fingerprint(config.initial_weights))
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    spec = window_spec(config)
    size = config.window_batch

    def loss_fn(model: torch.nn.Module, batch: Windows) -> torch.Tensor:
        x, y = (torch.from_numpy(a).to(device)[:, None] for a in batch)
        return focal_loss(model(x), y, config.focal_alpha, config.focal_beta)

    def batches(epoch: int) -> tuple[int, Iterator[Windows]]:
        rng = context.rng(epoch)
        hard = mined(net, read_items(train, context.workers), config, device) if config.hard_share and epoch > 1 else {}
        source = EpochWindows(train, replace(spec, hard=hard), rng, config.augment, image_windows)
        order = rng.permutation(len(train))
        count = -(-len(train) * spec.per_image // size)
        return count, shuffled_batches(read_items(source, context.workers, order), size, rng)

    held: list[Windows] = []

    def validate(model: torch.nn.Module) -> dict[str, float]:
        if not len(validation):
            return {}
        if not held:
            fixed = EpochWindows(validation, spec, context.rng(0), False, image_windows)
            held.extend(read_items(fixed, context.workers))
        x, y = np.concatenate([w for w, _ in held]), np.concatenate([h for _, h in held])
        total = sum(float(loss_fn(model, (x[s : s + size], y[s : s + size]))) * len(x[s : s + size])
                    for s in range(0, len(x), size))
        return {"val_loss": total / max(len(x), 1)}

    def detect(model: torch.nn.Module, images: Sequence[TrainingImage]) -> list[Detections]:
        return [net_detections(model, image, config, device) for image in images]

    return train_selecting(net, optimizer, loss_fn, batches, validate, config, NAME, validation, detect,
                           context, config.weight_average)

