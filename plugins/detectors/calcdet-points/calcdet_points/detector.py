"""``point-heatmap``: a dense point detector, a light U-Net painting MC centres at full resolution.

The component imports numpy and the calcdet API only; torch lives in :mod:`calcdet_points.net`,
:mod:`~calcdet_points.train` and :mod:`~calcdet_points.inference`, imported when it fits, detects
or loads weights. Learned state is numpy arrays (safetensors on disk, what a pickle carries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from calcdet_torch.detector import TorchDetector
from calcdet_torch.memory import check_batch_memory
from calcdet_torch.patches import standardised
from calcdet_torch.selection import FrocEvery, FrocImages, SelectOn
from pydantic import Field, ValidationInfo, field_validator

from calcdet_core.api import (
    SHIPPED_PREFIX,
    STUDY_DIAMETER_PX,
    ComponentConfig,
    Detections,
    ImageStream,
    InvalidInputError,
    TrainingContext,
    load_arrays,
    save_arrays,
    shipped_weights,
)
from calcdet_points.architecture import mismatch
from calcdet_points.decode import DecodeSpec, decode
from calcdet_points.initial import read_initial
from calcdet_points.rescoring import Rescorer, fit_context_rescorer

WEIGHTS_FILE = "point_net.safetensors"
RESCORING_FILE = "point_rescoring.safetensors"
Width = Annotated[int, Field(ge=1, le=512)]


def _coarsest_grid(info: ValidationInfo) -> tuple[list[int], int]:
    """The validated ``widths`` and the step of the coarsest level's grid, 2 ** (levels - 1) (1 without widths)."""
    widths = info.data.get("widths") or []
    return widths, 2 ** (len(widths) - 1) if widths else 1


class PointConfig(ComponentConfig):
    """The network, its training on windows with dense targets, and how its heat map becomes detections."""

    widths: tuple[Width, ...] = Field((8, 16, 32), min_length=1, max_length=7,
                                      description="Channels per U-Net level; the first level is the full "
                                                  "resolution, each next one halves it.")
    convs: int = Field(2, ge=1, le=4, description="3x3 convolutions per encoder level.")
    window: int = Field(128, ge=16, le=4096, description="Side of the square training windows, px; a multiple "
                                                         "of 2 ** (len(widths) - 1).")
    windows_per_image: int = Field(32, ge=1, le=4096, description="Training windows drawn per image and epoch.")
    positive_share: float = Field(0.75, ge=0, le=1, description="Share of an image's windows that hold a random "
                                                                "target (images without MCs: none).")
    hard_share: float = Field(0.0, ge=0, le=1, description="Share of an image's windows without a chosen target "
                                                            "that hold one of its strongest false detections by the "
                                                            "net being trained (mined on every training image before "
                                                            "each epoch after the first); 0: all at random in the "
                                                            "breast.")
    sigma: float = Field(1.5, gt=0, le=10, description="Width of the Gaussian around each MC centre in the target "
                                                       "heat map, px.")
    focal_alpha: float = Field(2.0, ge=0, le=10, description="Focal loss: exponent that fades easy pixels out.")
    focal_beta: float = Field(4.0, ge=0, le=20, description="Focal loss: exponent forgiving pixels near a centre.")
    augment: bool = Field(True, description="Random flips and 90-degree turns of training windows.")
    epochs: int = Field(20, ge=1, le=10000, description="Most passes over the training images.")
    learning_rate: float = Field(2e-3, gt=0, le=1, description="Adam learning rate.")
    lr_step: int = Field(14, ge=1, le=10_000, description="StepLR: epochs between learning-rate cuts.")
    lr_gamma: float = Field(0.1, gt=0, le=1, description="StepLR: factor of each cut.")
    weight_average: float = Field(0.0, ge=0, lt=1, description="Decay per step of the weights' exponential moving "
                                                               "average, which is validated, selected and kept "
                                                               "(steadier than the raw weights); 0: off.")
    select_on: SelectOn = "val_froc_auc"
    patience: int = Field(8, ge=1, le=10_000,
                          description="Early stopping: measured epochs without a better select_on figure.")
    min_delta: float = Field(1e-3, ge=0, le=10, description="Early stopping: the smallest improvement that counts.")
    froc_images: FrocImages = 8
    froc_every: FrocEvery = 1
    window_batch: int = Field(8, ge=1, le=4096, description="Windows per optimizer step.")
    threshold: float = Field(0.05, ge=0, lt=1, description="Lowest heat (0-1) of a peak reported as a detection.")
    min_distance: float = Field(float(STUDY_DIAMETER_PX), ge=1, le=1000,
                                description="Non-maximum suppression: no two detections closer, px (the study's 14).")
    max_detections: int = Field(1000, ge=1, le=100000, description="Most detections kept per image.")
    radius: float = Field(3.0, gt=0, le=100, description="Radius given to each detection, px.")
    batch_size: int = Field(2, ge=1, le=256, description="Images of one size that detect_batch runs at once.")
    strip_rows: int = Field(256, ge=0, le=65536, description="Detection runs the net on strips of this many rows "
                                                             "(plus its receptive field above and below): the same "
                                                             "map in less memory, faster on a CPU; 0: the whole image "
                                                             "at once. A multiple of 2 ** (len(widths) - 1).")
    rescore: Literal["none", "context"] = Field("none", description="context: after training, fit a logistic "
                                                "regression that scores each detection from its heat and its place "
                                                "among the image's other detections (neighbours within 1, 2 and 4 mm, "
                                                "rank), on the validation images' detections; none: the heat is the "
                                                "score.")
    initial_weights: Path | None = Field(None, description="A point_net.safetensors (of these widths and convs) "
                                                           "that training starts from instead of random weights: "
                                                           "fine-tuning pretrained weights; shipped:NAME for "
                                                           "weights an installed distribution ships (shipped:point-"
                                                           "heatmap: calcdet-point-weights's). None: random.")

    # Field validators, not one model validator: each error is reported at its own YAML key
    # (detector.params.window, ...), and all of them at once. Each reads fields declared before it.

    @field_validator("window_batch")
    @classmethod
    def _batch_fits_memory(cls, batch: int, info: ValidationInfo) -> int:
        widths, window = info.data.get("widths"), info.data.get("window")
        if widths and window:
            check_batch_memory("window_batch", batch, "window", window, widths[0])
        return batch

    @field_validator("window")
    @classmethod
    def _window_fits_levels(cls, window: int, info: ValidationInfo) -> int:
        widths, multiple = _coarsest_grid(info)
        if window % multiple:
            raise ValueError(f"window {window} must be a multiple of {multiple} (2 ** (len(widths) - 1), widths "
                             f"{list(widths)}): each level halves it")
        return window

    @field_validator("strip_rows")
    @classmethod
    def _strip_fits_levels(cls, strip_rows: int, info: ValidationInfo) -> int:
        widths, multiple = _coarsest_grid(info)
        if strip_rows % multiple:
            raise ValueError(f"strip_rows {strip_rows} must be a multiple of {multiple} (2 ** (len(widths) - 1), "
                             f"widths {list(widths)}): strips must start on the coarsest level's grid")
        return strip_rows

    @field_validator("initial_weights", mode="before")
    @classmethod
    def _shipped_weights_found(cls, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SHIPPED_PREFIX):
            try:
                return shipped_weights(value.removeprefix(SHIPPED_PREFIX))
            except InvalidInputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("initial_weights")
    @classmethod
    def _initial_weights_fit(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        widths, convs = info.data.get("widths"), info.data.get("convs")
        if path is None or widths is None or convs is None:
            return path
        try:
            read_initial(path, tuple(widths), convs)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        return path


class PointDetector(TorchDetector):
    """A full-resolution MC-centre heat map; detections are its peaks, sub-pixel, 14 px apart at least."""

    name = "point-heatmap"
    description = ("Dense point detector: a light U-Net paints MC centres at full resolution (focal loss on "
                   "Gaussian heat maps), peaks with sub-pixel centres, NMS at 14 px (torch).")
    Config = PointConfig
    weights_file = WEIGHTS_FILE

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.rescorer_: Rescorer | None = None

    @property
    def batch_size(self) -> int:
        """Images the engine hands :meth:`detect_batch` at once: this detector's ``batch_size`` setting."""
        return int(self.config.batch_size)

    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> PointDetector:
        from calcdet_points.train import fit_weights

        if not any(e.annotation.targets for e in train.entries):
            raise InvalidInputError(f"{self.name}: no annotated MC in the training images; nothing to learn from")
        self.rescorer_ = None
        self.weights_ = fit_weights(self.config, train, validation, context)
        if self.config.rescore == "context":
            self.rescorer_ = fit_context_rescorer(self.detect, [("validation", validation), ("training", train)],
                                                  context)
        # The fitted weights stand alone: a model directory must load after its starting file is moved or
        # deleted, so its pipeline.yaml leaves initial_weights out (training_metrics.json records it).
        self.config = self.config.model_copy(update={"initial_weights": None})
        return self

    def _inference_for(self, weights: dict[str, np.ndarray], device: str, source: str) -> Any:
        from calcdet_points.inference import Inference

        problem = mismatch(weights, tuple(self.config.widths), self.config.convs, source)
        if problem:
            raise ValueError(problem)
        return Inference(self.config, weights, device, source)

    def _decoding(self) -> DecodeSpec:
        return DecodeSpec.of(self.config)

    def _detect(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> Detections:
        (heat,) = net.heatmaps([standardised(image, mask)])
        return self._scored(decode(heat, mask, self._decoding()), image.shape)

    def _scored(self, found: Detections, shape: tuple[int, int]) -> Detections:
        return found if self.rescorer_ is None else self.rescorer_.rescored(found, shape)

    def _detect_many(self, net: Any, images: list[np.ndarray], masks: list[np.ndarray | None]) -> list[Detections]:
        """Images of one size go through the net together (the base class hands over ``batch_size`` at a time)."""
        heats = net.heatmaps([standardised(image, mask) for image, mask in zip(images, masks, strict=True)])
        return [self._scored(decode(heat, mask, self._decoding()), image.shape)
                for heat, mask, image in zip(heats, masks, images, strict=True)]

    def save_state(self, directory: Path) -> list[Path]:
        files = super().save_state(directory)
        if self.rescorer_ is not None:
            files.append(save_arrays(Path(directory) / RESCORING_FILE, self.rescorer_.arrays()))
        return files

    def load_state(self, directory: Path) -> None:
        rescorer = None
        if self.config.rescore == "context":
            path = Path(directory) / RESCORING_FILE
            if not path.is_file():
                raise InvalidInputError(f"{path}: missing; this point-heatmap scores with context (detector.params."
                                        "rescore: context), which its training writes there")
            try:
                rescorer = Rescorer.from_arrays(load_arrays(path), str(path))
            except ValueError as exc:
                raise InvalidInputError(str(exc)) from None
        super().load_state(directory)
        self.rescorer_ = rescorer
