"""Sliding-window detection with a trained Faster R-CNN (imports torch; imported when it detects)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from calcdet_torch.state import Arrays, load_module_arrays
from calcdet_torch.windows import cut, grid, to_grid
from torchvision.ops import nms

from calcdet_faster_rcnn.model import as_input, build_model


class Inference:
    """The model on a device, in evaluation mode, run over an image's windows in batches."""

    def __init__(self, config: Any, weights: Arrays, device: str, source: str = "weights") -> None:
        self.config, self.device = config, torch.device(device)
        self.model = build_model(config)
        load_module_arrays(self.model, weights, source)
        self.model.to(self.device).eval()

    def boxes(self, image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Grid boxes (N, 4) and scores (N,) over the windows that hold breast, NMS over the whole image."""
        return window_boxes(self.model, self.config, self.device, image, mask)


def window_boxes(model: torch.nn.Module, config: Any, device: torch.device, image: np.ndarray,
                 mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``model`` (in evaluation mode, on ``device``) over ``image``'s windows that hold breast: grid boxes (N, 4)
    and scores (N,), best first, after NMS over the whole image (what detection and validation both run)."""
    corners = grid(image.shape, config.window, config.stride)
    if mask is not None:
        corners = np.array([c for c in corners if cut(mask.astype(np.float32), c, config.window).any()],
                           int).reshape(-1, 2)
    found, scores = [np.zeros((0, 4))], [np.zeros(0)]
    pixels = np.asarray(image, np.float32)
    with torch.inference_mode():
        for s in range(0, len(corners), config.window_batch):
            part = corners[s : s + config.window_batch]
            windows = torch.from_numpy(np.stack([cut(pixels, c, config.window) for c in part])).to(device)
            for corner, out in zip(part, model(as_input(windows)), strict=True):
                found.append(to_grid(out["boxes"].cpu().numpy(), corner))
                scores.append(out["scores"].cpu().numpy().astype(np.float64))
    boxes, score = np.concatenate(found), np.concatenate(scores)
    h, w = image.shape
    boxes = np.clip(boxes, -0.5, [w - 0.5, h - 0.5, w - 0.5, h - 0.5])
    keep = nms(torch.from_numpy(boxes), torch.from_numpy(score), config.nms_iou).numpy()
    keep = keep[np.lexsort((keep, -score[keep]))]  # best first; ties in a fixed order
    return boxes[keep], score[keep]
