"""``faster-rcnn``: torchvision's Faster R-CNN over sliding windows, the study's best pipeline.

The component imports numpy and the calcdet API only; torch lives in
:mod:`calcdet_faster_rcnn.model`, :mod:`~calcdet_faster_rcnn.train` and
:mod:`~calcdet_faster_rcnn.inference`, imported when it fits, detects or loads weights.
Learned state is numpy arrays (safetensors on disk, what a pickle carries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from calcdet_torch.backbone import checked_spec
from calcdet_torch.detector import TorchDetector
from calcdet_torch.selection import FrocEvery, FrocImages, SelectOn
from pydantic import Field, ValidationInfo, field_validator, model_validator

from calcdet_core.api import ComponentConfig, Detections, ImageStream, InvalidInputError, TrainingContext
from calcdet_faster_rcnn.transfer import wanted_spec

WEIGHTS_FILE = "faster_rcnn.safetensors"


class FasterRCNNConfig(ComponentConfig):
    """The network, its training on windows and its sliding-window inference."""

    backbone: Literal["resnet18", "resnet50", "densenet121", "efficientnet-b3", "saliency-resnet"] = Field(
        "resnet18", description="Feature extractor, with a feature pyramid over its stages; weights start random "
                                "(nothing is downloaded) or, for saliency-resnet, from backbone_weights. resnet18 is "
                                "the light one for CPUs; saliency-resnet is the saliency plugin's small ResNet.")
    saliency_width: int = Field(8, ge=1, le=256, description="saliency-resnet: stem channels (the saliency net's "
                                                             "width; each stage doubles them).")
    saliency_stages: int = Field(3, ge=1, le=6, description="saliency-resnet: stages (the saliency net's: 3 for "
                                                            "16 px patches, 4 for 32, 5 for 64).")
    backbone_weights: Path | None = Field(
        None, description="A backbone file (calcdet export-backbone of a resnet-saliency model: a small ResNet of "
                          "saliency_width and saliency_stages) that initialises the saliency-resnet backbone before "
                          "training; refused at validation when of another architecture. Read by fit only.")
    fpn_channels: int = Field(256, ge=8, le=1024, description="Channels of the feature pyramid and the RPN head.")
    representation: int = Field(1024, ge=8, le=4096, description="Units of the box head's two hidden layers.")
    anchor_sizes: tuple[Annotated[int, Field(ge=1, le=512)], ...] = Field((14,), min_length=1,
                                             description="Anchor sides, px, on every level.")
    aspect_ratios: tuple[Annotated[float, Field(gt=0, le=10)], ...] = Field((1.0,), min_length=1,
                                                description="Anchor height/width ratios.")
    box_size: float = Field(14.0, gt=0, le=224, description="Side of the training box centred on each target, px.")
    window: int = Field(224, ge=32, le=2048, multiple_of=32, description="Side of the square windows, px.")
    train_stride: int = Field(100, ge=1, le=2048, description="Step between training windows, px.")
    stride: int = Field(200, ge=1, le=2048,
                        description="Step between detection windows, px (windows overlap when below "
                                    "window; NMS joins the seams).")
    negative_share: float = Field(0.2, ge=0, le=100, description="Windows without targets per window with targets, "
                                                                 "per image (at least one per image when above 0).")
    augment: bool = Field(True, description="Random flips and 90-degree rotations of training windows.")
    epochs: int = Field(20, ge=1, le=1000, description="Most passes over the training images.")
    learning_rate: float = Field(1e-4, gt=0, le=1, description="Adam learning rate.")
    lr_step: int = Field(3, ge=1, le=1000, description="StepLR: epochs between learning-rate cuts.")
    lr_gamma: float = Field(0.1, gt=0, le=1, description="StepLR: factor of each cut.")
    select_on: SelectOn = "val_froc_auc"
    patience: int = Field(3, ge=1, le=1000,
                          description="Early stopping: measured epochs without a better select_on figure.")
    min_delta: float = Field(1e-4, ge=0, le=10, description="Early stopping: the smallest improvement that counts.")
    froc_images: FrocImages = 4
    froc_every: FrocEvery = 1
    window_batch: int = Field(8, ge=1, le=1024, description="Windows per optimizer step and per inference pass.")
    rpn_samples: int = Field(256, ge=2, le=4096, description="Anchors sampled per window for the RPN loss.")
    roi_samples: int = Field(512, ge=2, le=4096, description="Proposals sampled per window for the box-head loss.")
    threshold: float = Field(0.05, ge=0, lt=1, description="Lowest score (0-1) reported as a detection.")
    nms_iou: float = Field(0.5, gt=0, le=1, description="NMS IoU, per window and over the whole image.")
    per_window: int = Field(100, ge=1, le=10000, description="Most detections kept per window.")
    batch_size: int = Field(1, ge=1, le=256, description="Images the engine hands detect_batch at once.")

    @model_validator(mode="after")
    def _consistent(self) -> FasterRCNNConfig:
        if self.stride > self.window or self.train_stride > self.window:
            raise ValueError(f"stride and train_stride must not exceed window {self.window}: windows would leave gaps")
        return self

    @field_validator("backbone_weights")
    @classmethod
    def _backbone_weights_fit(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        """Refused here, at ``calcdet validate``, not after a long fit: a file of another architecture."""
        if path is None:
            return path
        backbone = info.data.get("backbone")
        if backbone != "saliency-resnet":
            raise ValueError(f"backbone_weights needs backbone 'saliency-resnet', not {backbone!r}: a small ResNet's "
                             "3x3 stem and full-resolution first stage fit no torchvision backbone")
        width, stages = info.data.get("saliency_width"), info.data.get("saliency_stages")
        if width is not None and stages is not None:  # otherwise their own errors are reported
            try:
                checked_spec(path, wanted_spec(width, stages))
            except InvalidInputError as exc:
                raise ValueError(str(exc)) from None
        return path


class FasterRCNNDetector(TorchDetector):
    """Faster R-CNN on square windows; boxes mapped to the image and joined by NMS across window seams."""

    name = "faster-rcnn"
    description = "torchvision Faster R-CNN (one 14 px anchor) on sliding 224 px windows, boxes joined by NMS (torch)."
    Config = FasterRCNNConfig
    weights_file = WEIGHTS_FILE

    @property
    def batch_size(self) -> int:
        """Images the engine hands :meth:`detect_batch` at once: this detector's ``batch_size`` setting."""
        return int(self.config.batch_size)

    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> FasterRCNNDetector:
        from calcdet_faster_rcnn.train import fit_weights

        if not any(e.annotation.targets for e in train.entries):
            raise InvalidInputError("faster-rcnn: no annotated MC in the training images; nothing to learn from")
        self.weights_ = fit_weights(self.config, train, validation, context)
        # The fitted weights stand alone: the model directory must load after the backbone file is moved or deleted.
        self.config = self.config.model_copy(update={"backbone_weights": None})
        return self

    def _inference_for(self, weights: dict[str, np.ndarray], device: str, source: str) -> Any:
        from calcdet_faster_rcnn.inference import Inference

        return Inference(self.config, weights, device, source)

    def _detect(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> Detections:
        return box_detections(*net.boxes(image, mask), mask)


def box_detections(boxes: np.ndarray, score: np.ndarray, mask: np.ndarray | None) -> Detections:
    """Detections (box centre, radius half the mean side, box) whose centre pixel lies in ``mask``."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    if mask is not None and len(boxes):
        h, w = mask.shape
        xi = np.clip(np.rint(centre[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.rint(centre[:, 1]).astype(int), 0, h - 1)
        inside = mask[yi, xi]
        boxes, score, centre = boxes[inside], score[inside], centre[inside]
    radius = np.maximum((boxes[:, 2] - boxes[:, 0] + boxes[:, 3] - boxes[:, 1]) / 4, 0.5)
    return Detections(np.column_stack([centre, radius]).reshape(-1, 3), np.asarray(score, np.float64), boxes=boxes)
