"""``mc-insertion``: simulated MCs inserted into a detector's training images afresh every epoch.

A pipeline asks for it in its training section; no release is written::

    training:
      transform:
        plugin: mc-insertion
        params: {images: normal, mcs: {median_mm: 0.25}}

``images: normal`` trains on the normal images only (no MC annotation used at all, as
``calcdet insert --normals-only``); ``images: all`` adds insertions to every image's own truth.
``family`` picks a phantom family's MC and cluster settings, and the other keys change them as
``calcdet insert --settings`` does (``mcs``, ``clusters``, ``imprint``, ``skin_clearance_mm``,
``finding_clearance_mm``, ``abnormal_share``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from calcdet_core.api import CalcdetUserError, StreamEntry, TrainingImage
from calcdet_phantom.families import DEFAULT, FAMILIES, get_family
from calcdet_phantom.insert_settings import check, merged
from calcdet_phantom.insertion import InsertSettings, insert_mcs

IMAGES = ("all", "normal")


@dataclass(frozen=True)
class McInsertion:
    """Insert MCs into a share (``abnormal_share``) of the images drawn, each draw anew from its generator."""

    settings: InsertSettings
    normal_only: bool

    def keeps(self, entry: StreamEntry) -> bool:
        return entry.is_normal or not self.normal_only

    def __call__(self, image: TrainingImage, rng: np.random.Generator) -> TrainingImage:
        if image.spacing_mm is None:
            raise CalcdetUserError(f"mc-insertion: image {image.image_id} states no pixel spacing, so MC sizes in mm "
                                   "cannot be drawn; set preprocess.working_spacing_mm")
        abnormal = bool(rng.random() < self.settings.abnormal_share)
        inserted = insert_mcs(image.pixels, float(np.mean(image.spacing_mm)), image.annotation, self.settings, rng,
                              abnormal=abnormal, max_value=None, mask=image.mask)
        if inserted is None:  # no breast region: nowhere to insert
            return image
        return dataclasses.replace(image, pixels=inserted.pixels, annotation=inserted.annotation)


def mc_insertion(images: str = "all", family: str = DEFAULT, **changes: Any) -> McInsertion:
    """The ``mc-insertion`` transform from a pipeline's ``training.transform.params``; refusals name the key."""
    if images not in IMAGES:
        raise ValueError(f"images: expected one of {', '.join(IMAGES)}, got {images!r}")
    if family not in FAMILIES:
        raise ValueError(f"family: unknown phantom family {family!r}; known: {', '.join(FAMILIES)}")
    spec = get_family(family)
    settings = check(merged(InsertSettings(mcs=spec.mcs, clusters=spec.clusters), changes, ""))
    return McInsertion(settings, images == "normal")
