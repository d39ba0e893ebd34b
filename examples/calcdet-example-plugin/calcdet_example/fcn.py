"""``example-fcn``: a small fully convolutional net that paints an MC heat map, trained from an image stream.

A template for a trainable torch detector. The component itself imports only numpy and the
calcdet API; torch lives in :mod:`calcdet_example.fcn_net`, imported when fitting or detecting.
Learned state is a dict of numpy arrays (the net's weights): what ``save_state`` writes as
safetensors, and what a pickle (``--workers``) carries instead of a torch module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from calcdet_core.api import (
    ComponentConfig,
    Detections,
    Detector,
    ImageStream,
    TrainingContext,
    checked_image,
    checked_mask,
    label_regions,
    load_arrays,
    save_arrays,
)
from calcdet_example.patches import standardised

WEIGHTS_FILE = "fcn.safetensors"
FACTS_FILE = "fcn.json"


class FcnDetector(Detector):
    """Per-pixel MC heat map from a few dilated convolutions; detections are its peaks, 14 px apart at least."""

    name = "example-fcn"
    description = "A small fully convolutional net trained on Gaussian heat maps at annotated MC centres (torch)."

    class Config(ComponentConfig):
        channels: int = Field(8, ge=1, le=256, description="Feature maps per convolution.")
        dilations: tuple[Annotated[int, Field(ge=1, le=32)], ...] = Field(
            (1, 2, 4), min_length=1, max_length=8,
            description="Dilation of each 3x3 convolution; the receptive field is 1 + 2 * their sum, px.")
        epochs: int = Field(8, ge=1, le=10_000, description="Passes over the training images.")
        patch_size: int = Field(48, ge=8, le=1024, description="Side of the square training crops, px.")
        patches_per_image: int = Field(8, ge=1, le=1024, description="Crops drawn from each training image per epoch.")
        positive_fraction: float = Field(0.5, ge=0, le=1, description="Share of crops centred near an annotated MC.")
        sigma: float = Field(1.5, gt=0, le=20, description="Width of the Gaussian target at each MC centre, px.")
        positive_weight: float = Field(10.0, ge=0, le=1000,
                                       description="Extra loss weight where the target is 1 (MCs are rare)")
        learning_rate: float = Field(0.01, gt=0, le=1, description="Adam learning rate.")
        crops_per_step: int = Field(8, ge=1, le=4096, description="Training crops per optimizer step.")
        batch_size: int = Field(4, ge=1, le=256, description="Images of one shape that detect_batch runs at once.")
        patience: int = Field(0, ge=0, le=10_000,
                              description="Stop after this many epochs without a better validation loss "
                                          "(0: train every epoch). The best validation epoch's weights win.")
        threshold: float = Field(0.1, gt=0, lt=1, description="Lowest heat (0-1) reported as a detection.")
        min_distance: float = Field(14.0, ge=1, le=1000,
                                    description="Non-maximum suppression: no two detections closer, px.")

    weights_: dict[str, np.ndarray] | None = None
    radius_: float = 0.0

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._device = "cpu"
        self._inference: Any = None  # fcn_net.Inference, built on first use

    # ------------------------------------------------------------------ learning

    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> FcnDetector:
        from calcdet_example.fcn_net import fit_weights

        if not len(train):
            raise ValueError("example-fcn: the training stream holds no image")
        diameters = [t.diameter for e in train.entries for t in e.annotation.targets]
        if not diameters:
            raise ValueError("example-fcn: no annotated MC in the training images; nothing to learn from")
        self.radius_ = float(np.median(diameters)) / 2
        self.weights_ = fit_weights(self.config, train, validation, context)
        self._inference = None
        context.reporter.record(radius=self.radius_)
        return self

    # ------------------------------------------------------------------ detection

    def to_device(self, device: str) -> None:
        if device != self._device:
            self._device, self._inference = device, None

    def detect(self, image: np.ndarray, mask: np.ndarray | None = None) -> Detections:
        return self.detect_batch([image], [mask])[0]

    def detect_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> list[Detections]:
        """Images of one shape go through the net together, ``batch_size`` at a time."""
        images = [checked_image(i, self.name) for i in images]
        masks = [None if m is None else checked_mask(m, i.shape, self.name) for i, m in zip(images, masks, strict=True)]
        out: list[Detections | None] = [None] * len(images)
        todo = []
        for k, image in enumerate(images):
            if np.ptp(image) == 0:
                out[k] = Detections.empty()  # a flat image holds no blob
            else:
                todo.append(k)
        for shape in dict.fromkeys(images[k].shape for k in todo):
            same = [k for k in todo if images[k].shape == shape]
            for start in range(0, len(same), self.batch_size):
                chunk = same[start : start + self.batch_size]
                batch = [standardised(images[k], masks[k]) for k in chunk]
                for k, logits in zip(chunk, self._net().logits(batch), strict=True):
                    out[k] = self._peaks(logits, masks[k])
        return out  # type: ignore[return-value]

    def _net(self) -> Any:
        if self.weights_ is None:
            raise ValueError("example-fcn: detect() before fit() or load_state(): the net has no weights")
        if self._inference is None:
            from calcdet_example.fcn_net import Inference

            self._inference = Inference(self.config, self.weights_, self._device)
        return self._inference

    def _peaks(self, logits: np.ndarray, mask: np.ndarray | None) -> Detections:
        """Local maxima of the heat map above the threshold, inside ``mask``, thinned by score.

        A maximum may be a plateau (a ReLU net often saturates over a whole calcification):
        it counts once, at its pixel nearest to its centroid.
        """
        heat = 1 / (1 + np.exp(-logits.astype(np.float64)))
        keep = (logits >= neighbourhood_max(logits)) & (heat >= self.config.threshold)
        if mask is not None:
            keep &= mask
        x, y = plateau_points(keep)
        score = heat[y, x]
        chosen = suppress(np.column_stack([x, y]).astype(np.float64), score, self.config.min_distance)
        return Detections.from_columns(x[chosen], y[chosen], np.full(len(chosen), self.radius_), score[chosen])

    # ------------------------------------------------------------------ state

    def save_state(self, directory: Path) -> list[Path]:
        if self.weights_ is None:
            raise ValueError("example-fcn: nothing to save; fit() first")
        weights = save_arrays(Path(directory) / WEIGHTS_FILE, self.weights_)
        facts = Path(directory) / FACTS_FILE
        facts.write_text(json.dumps({"radius": self.radius_}))
        return [weights, facts]

    def load_state(self, directory: Path) -> None:
        path = Path(directory) / WEIGHTS_FILE
        weights = load_arrays(path)
        expected = _shapes(self.config)
        found = {k: tuple(v.shape) for k, v in weights.items()}
        if found != expected:
            raise ValueError(f"{path}: weights do not fit example-fcn with {self.config!r} "
                             f"(expected {expected}, found {found})")
        self.weights_ = weights
        self.radius_ = float(json.loads((Path(directory) / FACTS_FILE).read_text())["radius"])
        self._inference = None

    def __getstate__(self) -> dict[str, Any]:
        """What crosses a process boundary: config, numpy weights and radius; never a torch module."""
        return {"config": self.config, "weights_": self.weights_, "radius_": self.radius_, "_device": self._device}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._inference = None


def neighbourhood_max(values: np.ndarray) -> np.ndarray:
    """The largest value in each pixel's 3x3 neighbourhood (itself included)."""
    h, w = values.shape
    padded = np.pad(values, 1, constant_values=-np.inf)
    return np.max([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)


def plateau_points(peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pixel (x, y) per 4-connected region of ``peaks``: the one nearest the region's centroid."""
    labels, n = label_regions(peaks)
    y, x = np.nonzero(labels)
    if n == 0:
        return x, y
    region = labels[y, x]
    count = np.bincount(region)
    cx, cy = np.bincount(region, x) / np.maximum(count, 1), np.bincount(region, y) / np.maximum(count, 1)
    order = np.lexsort(((x - cx[region]) ** 2 + (y - cy[region]) ** 2, region))
    first = order[np.r_[True, region[order][1:] != region[order][:-1]]]
    return x[first], y[first]


def suppress(xy: np.ndarray, score: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices of the points kept by greedy non-maximum suppression: best first, none within ``min_distance``."""
    order = np.argsort(-score, kind="stable")
    cell = float(min_distance)
    grid: dict[tuple[int, int], list[int]] = {}
    kept = []
    for i in order:
        cx, cy = int(xy[i, 0] // cell), int(xy[i, 1] // cell)
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in grid.get((cx + dx, cy + dy), ())]
        if all(np.hypot(*(xy[i] - xy[j])) >= min_distance for j in near):
            grid.setdefault((cx, cy), []).append(int(i))
            kept.append(int(i))
    return np.array(kept, dtype=int)


def _shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Weight names and shapes of the net ``config`` describes (to check a weights file before loading it)."""
    shapes, width = {}, 1
    for i, _ in enumerate(config.dilations):
        shapes[f"{2 * i}.weight"], shapes[f"{2 * i}.bias"] = (config.channels, width, 3, 3), (config.channels,)
        width = config.channels
    last = 2 * len(config.dilations)
    shapes[f"{last}.weight"], shapes[f"{last}.bias"] = (1, width, 1, 1), (1,)
    return shapes
