"""``example-fcn``: a small fully convolutional net that paints an MC heat map, trained from an image stream.

A template for a trainable torch detector, built on the ``calcdet-torch`` library's
:class:`~calcdet_torch.detector.TorchDetector`: it holds the learned weights as numpy arrays
(what ``save_state`` writes as safetensors, and what a pickle carries to ``--workers`` processes
instead of a torch module), the device, and the net built on first use. The component itself
imports only numpy and the calcdet API; torch lives in :mod:`calcdet_example.fcn_net`, imported
when fitting or detecting.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from calcdet_torch.detector import Arrays, TorchDetector, median_radius
from calcdet_torch.memory import check_batch_memory
from calcdet_torch.points import neighbourhood_max, suppress
from pydantic import Field, model_validator

from calcdet_core.api import ComponentConfig, Detections, ImageStream, TrainingContext, label_regions
from calcdet_example.patches import standardised

WEIGHTS_FILE = "fcn.safetensors"
FACTS_FILE = "fcn.json"


class FcnDetector(TorchDetector):
    """Per-pixel MC heat map from a few dilated convolutions; detections are its peaks, 14 px apart at least."""

    name = "example-fcn"
    description = "A small fully convolutional net trained on Gaussian heat maps at annotated MC centres (torch)."
    weights_file = WEIGHTS_FILE
    facts_file = FACTS_FILE
    facts = ("radius_",)

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

        @model_validator(mode="after")
        def _batch_fits_memory(self) -> Any:
            check_batch_memory("crops_per_step", self.crops_per_step, "patch_size", self.patch_size, self.channels)
            return self

    radius_: float = 0.0

    # ------------------------------------------------------------------ learning

    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> FcnDetector:
        from calcdet_example.fcn_net import fit_weights

        if not len(train):
            raise ValueError("example-fcn: the training stream holds no image")
        self.radius_ = median_radius(train, self.name)
        self.weights_ = fit_weights(self.config, train, validation, context)
        context.reporter.record(radius=self.radius_)
        return self

    # ------------------------------------------------------------------ detection

    @property
    def batch_size(self) -> int:
        """Images the engine hands ``detect_batch`` at once: this detector's ``batch_size`` setting."""
        return int(self.config.batch_size)

    def _inference_for(self, weights: Arrays, device: str, source: str) -> Any:
        from calcdet_example.fcn_net import Inference

        return Inference(self.config, weights, device, source)

    def _detect(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> Detections:
        return self._detect_many(net, [image], [mask])[0]

    def _detect_many(self, net: Any, images: list[np.ndarray], masks: list[np.ndarray | None]) -> list[Detections]:
        """Images of one shape go through the net together (the base class hands over ``batch_size`` at a time)."""
        logits = net.logits([standardised(image, mask) for image, mask in zip(images, masks, strict=True)])
        return [self._peaks(heat, mask) for heat, mask in zip(logits, masks, strict=True)]

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
