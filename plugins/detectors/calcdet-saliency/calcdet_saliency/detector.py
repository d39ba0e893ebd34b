"""``resnet-saliency``: the study's ResNet patch classifier, run as a saliency-map detector.

The component imports numpy and the calcdet API only; torch lives in
:mod:`calcdet_saliency.train` and :mod:`calcdet_saliency.inference`, imported when it fits,
detects or loads weights. Learned state is numpy arrays (safetensors on disk, what a pickle
carries), held by :class:`calcdet_torch.detector.TorchDetector`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from calcdet_torch.backbone import BackboneSpec
from calcdet_torch.detector import Arrays, TorchDetector, median_radius
from calcdet_torch.memory import check_batch_memory
from calcdet_torch.patches import standardised
from calcdet_torch.points import local_maxima, neighbourhood_max, subpixel_offsets, suppress
from calcdet_torch.selection import FrocEvery, FrocImages, SelectOn
from pydantic import Field, model_validator

from calcdet_core.api import (
    ComponentConfig,
    Detections,
    ImageStream,
    InvalidInputError,
    Proposer,
    TrainingContext,
    build_component,
)

WEIGHTS_FILE = "resnet.safetensors"
FACTS_FILE = "saliency.json"
Architecture = Literal["study-resnet", "resnet50", "densenet121", "efficientnet_b0", "efficientnet_b1",
                       "efficientnet_b2", "efficientnet_b3"]


class HardNegatives(ComponentConfig):
    """Negatives drawn from a proposer's candidates (hard ones) instead of anywhere in the breast."""

    proposer: str = Field(description="Name of a registered proposer plugin (calcdet list-plugins).")
    params: dict[str, Any] = Field(default_factory=dict, description="The proposer's parameters.")
    share: float = Field(0.5, gt=0, le=1, description="Share of each image's negatives drawn from its candidates "
                                                      "(the rest anywhere in the breast, as without this).")

    @model_validator(mode="after")
    def _buildable(self) -> HardNegatives:
        try:
            self.build()
        except (KeyError, ValueError, TypeError) as exc:  # an unknown proposer (KeyError) or bad params
            raise ValueError(f"proposer {self.proposer!r}: {exc}") from exc
        return self

    def build(self) -> Proposer:
        return build_component("proposers", self.proposer, self.params)


class SaliencyConfig(ComponentConfig):
    """The network, its training and how its map becomes detections."""

    architecture: Architecture = Field(
        "study-resnet", description="study-resnet: the study's small ResNet (16/32/64 px); resnet50, densenet121, "
                                    "efficientnet_b0..b3: torchvision nets from scratch for 224 px patches "
                                    "(inference 'study' only; width, hidden, padding unused).")
    patch_size: Literal[16, 32, 64, 224] = Field(16, description="Side of the classified patches, px (the study: 16; "
                                                                 "224 for the torchvision nets).")
    width: int = Field(8, ge=1, le=256, description="Channels of the stem; each stage doubles them (the study: 64).")
    hidden: int = Field(64, ge=1, le=4096, description="Units of the head's hidden layer (GELU).")
    dropout: float = Field(0.4, ge=0, lt=1, description="Dropout before the head's hidden layer.")
    padding: bool = Field(True, description="Zero-padded 3x3 convolutions as in the study; false: valid "
                                            "convolutions, whose dense map equals patch-by-patch classification.")
    normalisation: Literal["breast", "patch"] = Field(
        "breast", description="breast: pixels as z-scores of the breast (what dense inference needs); patch: each "
                              "patch as z-scores of its own pixels (the study; study inference only).")
    epochs: int = Field(12, ge=1, le=1000, description="Most passes over the training images.")
    learning_rate: float = Field(1e-4, gt=0, le=1, description="AdamW learning rate.")
    weight_decay: float = Field(0.01, ge=0, le=1, description="AdamW weight decay.")
    lr_step: int = Field(7, ge=1, le=1000, description="StepLR: epochs between learning-rate cuts.")
    lr_gamma: float = Field(0.1, gt=0, le=1, description="StepLR: factor of each cut.")
    select_on: SelectOn = "val_froc_auc"
    patience: int = Field(3, ge=1, le=1000,
                          description="Early stopping: measured epochs without a better select_on figure.")
    min_delta: float = Field(1e-4, ge=0, le=10, description="Early stopping: the smallest improvement that counts.")
    froc_images: FrocImages = 8
    froc_every: FrocEvery = 1
    patch_batch: int = Field(128, ge=1, le=65536, description="Patches per optimizer step.")
    negative_ratio: float = Field(10.0, gt=0, le=1000, description="Negatives per positive, redrawn each epoch.")
    iterations_per_epoch: int | None = Field(
        None, ge=1, le=100_000, description="Optimizer steps per epoch, patches drawn with replacement from the "
                                            "epoch's pool (the study: 500); none: one pass over the pool.")
    jitter: float = Field(2.0, ge=0, le=32, description="Positives' centres move up to this far from the target, px.")
    exclusion: float = Field(8.0, ge=0, le=1000,
                             description="Negatives' centres lie farther than this from every target, px.")
    augment: bool = Field(True, description="Random flips, 90-degree rotations, contrast and brightness changes.")
    contrast: float = Field(0.2, ge=0, lt=1, description="Contrast gain drawn from 1 +- this.")
    brightness: float = Field(0.2, ge=0, le=5, description="Brightness shift drawn from +- this (z-score units).")
    inference: Literal["dense", "study"] = Field(
        "dense", description="dense: the net run fully convolutionally, peaks of its map; study: windows at "
                             "study_stride averaged into a coarse map, smoothed, maxima in peak_window windows.")
    stride: int = Field(4, ge=1, le=64, description="Dense map step, px; divides the net's stride (patch / 4).")
    tile: int = Field(512, ge=16, le=8192, description="Dense inference works on tiles of about this side, px.")
    threshold: float = Field(0.1, gt=0, lt=1, description="Lowest score (0-1) reported as a detection.")
    min_distance: float = Field(14.0, ge=1, le=1000, description="Dense: no two detections closer than this, px.")
    study_stride: int = Field(8, ge=1, le=64, description="Study inference: window step, px.")
    smoothing: int = Field(9, ge=1, le=99, description="Study inference: side of the box filter on the map, px.")
    peak_window: int = Field(14, ge=1, le=99, description="Study inference: detections are maxima of windows this "
                                                          "wide, px.")
    window_batch: int = Field(1024, ge=1, le=65536, description="Study inference: windows classified per batch "
                                                                "(memory; 32 suits 224 px nets).")
    hard_negatives: HardNegatives | None = Field(
        None, description="Off by default. {proposer: NAME, params: {...}, share: S}: a share S of each image's "
                          "training negatives is drawn from the proposer's candidates away from targets.")

    @model_validator(mode="after")
    def _consistent(self) -> SaliencyConfig:
        if self.architecture == "study-resnet" and self.patch_size == 224:
            raise ValueError("patch_size 224 is for the torchvision architectures; architecture 'study-resnet' "
                             "takes 16, 32 or 64")
        if self.architecture != "study-resnet":
            if self.patch_size < 32:
                raise ValueError(f"architecture {self.architecture!r} needs patch_size 224 (32 or 64 for small "
                                 f"experiments); {self.patch_size} px is too small for its downsampling")
            if self.inference != "study":
                raise ValueError(f"architecture {self.architecture!r} needs inference 'study' (sliding windows); "
                                 "dense inference is the study-resnet's")
        if self.inference == "dense" and self.normalisation == "patch":
            raise ValueError("normalisation 'patch' needs inference 'study': a dense map cannot z-score every patch")
        if self.inference == "dense" and (self.patch_size // 4) % self.stride:
            raise ValueError(f"stride {self.stride} must divide the network's stride {self.patch_size // 4}")
        check_batch_memory("patch_batch", self.patch_batch, "patch_size", self.patch_size, self.width)
        return self


class SaliencyDetector(TorchDetector):
    """Patch classifier (small ResNet) whose score map's peaks are the detections."""

    name = "resnet-saliency"
    description = "The study's small-patch ResNet classifier as a saliency-map detector, dense by default (torch)."
    Config = SaliencyConfig
    weights_file = WEIGHTS_FILE
    facts_file = FACTS_FILE
    facts = ("radius_",)

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.radius_ = 0.0

    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> SaliencyDetector:
        from calcdet_saliency.train import fit_weights

        self.radius_ = median_radius(train, self.name)
        self.weights_ = fit_weights(self.config, train, validation, context, self.radius_)
        context.reporter.record(radius=self.radius_)
        return self

    def _inference_for(self, weights: Arrays, device: str, source: str) -> Any:
        from calcdet_saliency.inference import Inference

        return Inference(self.config, weights, device, source)

    def _detect(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> Detections:
        if self.config.inference == "study":
            x, y, score = self._study_peaks(net, image, mask)
        else:
            x, y, score = self._dense_peaks(net, image, mask)
        h, w = image.shape
        xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
        keep = (xi >= 0) & (yi >= 0) & (xi < w) & (yi < h)
        x, y, score, xi, yi = x[keep], y[keep], score[keep], xi[keep], yi[keep]
        if mask is not None:
            inside = mask[yi, xi]
            x, y, score = x[inside], y[inside], score[inside]
        chosen = suppress(np.column_stack([x, y]), score, self.config.min_distance)
        return Detections.from_columns(x[chosen], y[chosen], np.full(len(chosen), self.radius_), score[chosen])

    def _backbone(self, weights: Arrays) -> tuple[BackboneSpec, Arrays]:
        """The small ResNet's stem and stages (``stages.<i>.`` named ``layer<i+1>.``); its head stays behind."""
        cfg = self.config
        if cfg.architecture != "study-resnet":
            raise InvalidInputError(f"{self.name}: architecture {cfg.architecture!r} has no exportable backbone; "
                                    "only study-resnet's trunk is in the backbone format")
        stages = len({k.split(".")[1] for k in weights if k.startswith("stages.")})
        spec = BackboneSpec("small-resnet", cfg.width, stages, "same" if cfg.padding else "valid", cfg.patch_size)
        return spec, {_backbone_name(k): v for k, v in weights.items() if k.startswith(("stem.", "stages."))}

    def _dense_peaks(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, ...]:
        cfg = self.config
        logits = net.dense(standardised(image, mask), cfg.stride, mask, cfg.tile)
        floor = float(np.log(cfg.threshold / (1 - cfg.threshold)))
        rows, cols = local_maxima(logits, floor)
        dx, dy = subpixel_offsets(np.where(np.isfinite(logits), logits, floor - 50), rows, cols)
        centre = cfg.stride * np.column_stack([cols + dx, rows + dy]) - cfg.patch_size // 2 + (cfg.patch_size - 1) / 2
        return centre[:, 0], centre[:, 1], 1 / (1 + np.exp(-logits[rows, cols].astype(np.float64)))

    def _study_peaks(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """The study's procedure: window scores averaged per pixel, box-smoothed, maxima of 14x14 windows."""
        cfg = self.config
        pixels = standardised(image, mask) if cfg.normalisation == "breast" else np.asarray(image, np.float32)
        region = mask if cfg.architecture != "study-resnet" else None  # 224 px windows: only those holding breast
        logits = net.sliding(pixels, cfg.study_stride, cfg.normalisation == "patch", cfg.window_batch, region)
        scores = 1 / (1 + np.exp(-np.where(np.isfinite(logits), logits, 0).astype(np.float64)))
        size, margin = cfg.patch_size, cfg.patch_size // 2
        h, w = image.shape
        total, count = np.zeros((h + 2 * margin, w + 2 * margin)), np.zeros((h + 2 * margin, w + 2 * margin))
        for r in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                if not np.isfinite(logits[r, c]):
                    continue  # a window outside the breast, not classified
                y0, x0 = r * cfg.study_stride, c * cfg.study_stride
                total[y0 : y0 + size, x0 : x0 + size] += scores[r, c]
                count[y0 : y0 + size, x0 : x0 + size] += 1
        heat = (total / np.maximum(count, 1))[margin : margin + h, margin : margin + w]
        heat = _box_mean(heat, cfg.smoothing)
        peaks = (heat >= neighbourhood_max(heat, cfg.peak_window)) & (heat >= cfg.threshold)
        rows, cols = np.nonzero(peaks)
        return cols.astype(np.float64), rows.astype(np.float64), heat[rows, cols]


def _backbone_name(name: str) -> str:
    """The backbone format's name of a small-ResNet tensor: ``stages.<i>.`` becomes ``layer<i+1>.``."""
    head, _, rest = name.partition(".")
    if head != "stages":
        return name
    index, _, rest = rest.partition(".")
    return f"layer{int(index) + 1}.{rest}"


def _box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """Mean over a ``size`` x ``size`` box around every pixel (edges repeated), by an integral image."""
    before = size // 2
    padded = np.pad(values, ((before + 1, size - 1 - before),) * 2, mode="edge")
    c = padded.cumsum(0).cumsum(1)
    return (c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]) / size**2
