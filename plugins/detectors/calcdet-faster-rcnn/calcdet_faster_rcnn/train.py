"""Training of the Faster R-CNN on windows of the image stream (imports torch; imported only by ``fit``).

The best epoch is the one that detects best (``select_on``: the validation FROC AUC of sliding-window
detection with NMS, as ``detect`` runs it, on a few validation images), not the one with the lowest
loss on validation windows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from calcdet_torch.loading import EpochWindows, read_items
from calcdet_torch.loop import train_selecting
from calcdet_torch.metrics import box_figures
from calcdet_torch.runtime import context_device, seed_torch
from calcdet_torch.state import Arrays
from calcdet_torch.windows import WindowSpec, sample_windows

from calcdet_core.api import (
    Annotation,
    Detections,
    ImageResult,
    ImageStream,
    Target,
    TrainingContext,
    TrainingImage,
)
from calcdet_faster_rcnn.detector import box_detections
from calcdet_faster_rcnn.inference import window_boxes
from calcdet_faster_rcnn.model import as_input, build_model, initialise_backbone

Windows = tuple[np.ndarray, list[np.ndarray]]
NAME = "faster-rcnn"


def _targets(boxes: list[np.ndarray], device: torch.device) -> list[dict[str, torch.Tensor]]:
    return [{"boxes": torch.as_tensor(b, dtype=torch.float32, device=device).reshape(-1, 4),
             "labels": torch.ones(len(b), dtype=torch.int64, device=device)} for b in boxes]


def fit_weights(config: Any, train: ImageStream, validation: ImageStream, context: TrainingContext) -> Arrays:
    """Train on windows of ``train``; the weights of the best validation epoch (FROC AUC, else loss)."""
    device = context_device(context)
    seed_torch(context.seed)
    model = build_model(config)
    if config.backbone_weights is not None:
        initialise_backbone(model, config.backbone_weights, config)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    spec = WindowSpec(config.window, config.train_stride, config.box_size, config.negative_share)
    size = config.window_batch

    def batches(epoch: int) -> tuple[None, Iterator[tuple[torch.Tensor, list[dict[str, torch.Tensor]]]]]:
        rng = context.rng(epoch)
        source = EpochWindows(train, spec, rng, config.augment, sample_windows)
        order = rng.permutation(len(train))

        def gen() -> Iterator[tuple[torch.Tensor, list[dict[str, torch.Tensor]]]]:
            pending_x: list[np.ndarray] = []
            pending_b: list[np.ndarray] = []
            for x, b in read_items(source, context.workers, order):
                pending_x += list(x)
                pending_b += b
                while len(pending_x) >= size:
                    yield _batch(pending_x[:size], pending_b[:size])
                    pending_x, pending_b = pending_x[size:], pending_b[size:]
            if pending_x:
                yield _batch(pending_x, pending_b)

        return None, gen()

    def _batch(x: list[np.ndarray], b: list[np.ndarray]) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        return torch.from_numpy(np.stack(x)).to(device), _targets(b, device)

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, list[dict[str, torch.Tensor]]]) -> torch.Tensor:
        windows, targets = batch
        return sum(model(as_input(windows), targets).values())

    held: list[Windows] = []

    def validate(model: torch.nn.Module) -> dict[str, float]:
        if not len(validation):
            return {}
        if not held:
            fixed = EpochWindows(validation, spec, context.rng(0), False, sample_windows)
            held.extend(read_items(fixed, context.workers))
        x = np.concatenate([w for w, _ in held])
        boxes = [b for _, bs in held for b in bs]
        if not len(x):
            return {}
        return validation_figures(model, x, boxes, size, device, context.seed)

    def detect(model: torch.nn.Module, images: Sequence[TrainingImage]) -> list[Detections]:
        return [box_detections(*window_boxes(model, config, device, im.pixels, im.mask), im.mask) for im in images]

    return train_selecting(model, optimizer, loss_fn, batches, validate, config, NAME, validation, detect,
                           context)


def validation_figures(model: torch.nn.Module, x: np.ndarray, boxes: list[np.ndarray], size: int,
                       device: torch.device, seed: int) -> dict[str, float]:
    """Mean loss per window (the model's training losses, batch norm frozen, fixed sampling), AP@0.5 and AR."""
    total = 0.0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the proposal sampling of the losses: the same windows give the same loss
        model.train()
        model.backbone.eval()
        try:
            for s in range(0, len(x), size):
                windows = torch.from_numpy(x[s : s + size]).to(device)
                losses = model(as_input(windows), _targets(boxes[s : s + size], device))
                total += float(sum(losses.values())) * len(windows)
        finally:
            model.eval()
    results = []
    for s in range(0, len(x), size):
        outputs = model(as_input(torch.from_numpy(x[s : s + size]).to(device)))
        for k, out in enumerate(outputs):
            centres = (boxes[s + k][:, :2] + boxes[s + k][:, 2:]) / 2
            annotation = Annotation(targets=tuple(Target(float(cx), float(cy), 14.0) for cx, cy in centres))
            found = box_detections(out["boxes"].cpu().numpy().astype(np.float64),
                                   out["scores"].cpu().numpy().astype(np.float64), None)
            results.append(ImageResult(f"window-{s + k}", found, annotation))
    return {"val_loss": total / len(x), **{f"val_{k}": v for k, v in box_figures(results).items()}}
