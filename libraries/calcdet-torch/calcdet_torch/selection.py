"""Model selection on what a detector is for: the FROC AUC of its own detections on validation images (no torch).

A loss is a poor guide for a detector: the epoch with the lowest validation loss need not be the one
that finds MCs best. The three settings every torch detector declares (:data:`SelectOn`,
:data:`FrocImages`, :data:`FrocEvery`), the per-epoch figure (:class:`FrocFigures`), the choice of
what the loop selects on (:func:`monitored`) and the end-of-training verdict (:func:`report_learning`)
are here once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo

from calcdet_core.api import Detections, ImageResult, ImageStream, TrainingContext, TrainingImage
from calcdet_torch.metrics import froc_auc, froc_sample

UNLEARNED_AUC = 0.05
"""A best validation FROC AUC below this is reported as a training that did not learn to find MCs."""
MONITOR = "val_froc_auc"


def _froc_images_for_selection(froc_images: int, info: ValidationInfo) -> int:
    if info.data.get("select_on") == MONITOR and froc_images < 2:
        raise ValueError(f"froc_images {froc_images} is below 2: select_on val_froc_auc needs a normal image and "
                         "an image with MCs (or select_on: val_loss)")
    return froc_images


def _froc_measured(froc_every: int, info: ValidationInfo) -> int:
    epochs = info.data.get("epochs")
    if info.data.get("select_on") == MONITOR and epochs is not None and froc_every > epochs:
        raise ValueError(f"froc_every {froc_every} exceeds epochs {epochs}: select_on val_froc_auc would never "
                         "be measured")
    return froc_every


# A config declares them after ``epochs`` and in this order: each check reads the fields declared before it.
SelectOn = Annotated[Literal["val_froc_auc", "val_loss"], Field(
    description="The validation figure that picks the best epoch and stops training: the FROC AUC (0-50 FP per "
                "normal image, by detection on froc_images images; the loss when the validation images lack "
                "normal images or images with MCs) or the loss on validation samples.")]
FrocImages = Annotated[int, Field(ge=0, le=10000, description="Validation images (about half normal) on which each "
                                                              "measured epoch's FROC AUC is computed by detection."),
                       AfterValidator(_froc_images_for_selection)]
FrocEvery = Annotated[int, Field(ge=1, le=1000, description="Measure the validation FROC AUC every this many "
                                                            "epochs."),
                      AfterValidator(_froc_measured)]

Detect = Callable[[Any, Sequence[TrainingImage]], list[Detections]]
"""Detections of the model being trained (in evaluation mode) on images, as the detector's ``detect`` gives them."""


class FrocFigures:
    """The loop's epoch figures: ``val_froc_auc`` every ``every`` epochs, on a fixed sample of validation images.

    The sample (:func:`~calcdet_torch.metrics.froc_sample`) is about half normal images, read once;
    it is empty, and nothing is measured, when the validation images lack either kind.
    """

    def __init__(self, validation: ImageStream, images: int, every: int, detect: Detect) -> None:
        self.picks = froc_sample([e.is_normal for e in validation.entries], images)
        self._validation, self._every, self._detect = validation, every, detect
        self._images: list[TrainingImage] = []

    def __call__(self, model: Any, epoch: int) -> dict[str, float]:
        if not self.picks or epoch % self._every:
            return {}
        if not self._images:
            self._images.extend(self._validation[k] for k in self.picks)
        found = self._detect(model, self._images)
        auc = froc_auc([ImageResult(im.image_id, d, im.annotation) for im, d in zip(self._images, found, strict=True)])
        return {} if auc is None else {MONITOR: auc}


def monitored(name: str, select_on: str, figures: FrocFigures, context: TrainingContext) -> tuple[str, bool]:
    """The loop's ``monitor`` and ``maximise``: the FROC AUC when asked for and measurable, else the validation
    loss (a message says why when the FROC AUC was asked for)."""
    if select_on == MONITOR and figures.picks:
        return MONITOR, True
    if select_on == MONITOR:
        context.reporter.message(f"{name}: the validation images lack normal images or images with MCs, so no FROC "
                                 "AUC can be measured; the best epoch is chosen on the validation loss")
    return "val_loss", False


def report_learning(name: str, figures: FrocFigures, context: TrainingContext) -> None:
    """Record ``best_val_froc_auc`` and ``learned``, and say plainly when the best is near 0: a model that finds
    (almost) no MC is not saved silently. Nothing when no FROC AUC could be measured."""
    if not figures.picks:
        return
    aucs = [h[MONITOR] for h in context.reporter.history if MONITOR in h]
    best = max(aucs) if aucs else None
    learned = best is not None and best >= UNLEARNED_AUC
    context.reporter.record(best_val_froc_auc=best, learned=learned)
    if not learned:
        context.reporter.message(
            f"{name}: WARNING: the best validation FROC AUC is {best if best is None else round(best, 4)} "
            f"(below {UNLEARNED_AUC}): this model has not learned to find MCs on the validation images. Train "
            "longer (epochs), on more annotated images, or check the annotations before using it.")
