"""Simulated MCs and clusters inserted into one real mammogram, with their exact truth.

Where: inside the breast, each kind of point at least its ``skin_clearance_mm`` from the skin line
(cluster centres furthest in) and ``finding_clearance_mm`` from every existing finding (targets and
ignore regions), so an inserted MC never lands on an annotated one. What: the project's one MC
model (:func:`calcdet_phantom.mcs.sample_mcs`). How: :func:`calcdet_phantom.imprint.imprint`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calcdet_core.api import Annotation, IgnoreRegion, Target, breast_mask, feret_diameter, polygon_centroid
from calcdet_phantom.families import Calcifications, Clusters
from calcdet_phantom.imprint import BreastSignal, ImprintSettings, imprint
from calcdet_phantom.mcs import McLayout, Placement, sample_mcs
from calcdet_phantom.synth import Roi


@dataclass(frozen=True)
class InsertSettings:
    """Everything ``calcdet insert`` can be told: the MC model, where MCs may go and how they are imprinted."""

    mcs: Calcifications = field(default_factory=Calcifications)
    clusters: Clusters = field(default_factory=Clusters)
    imprint: ImprintSettings = field(default_factory=ImprintSettings)
    skin_clearance_mm: dict[str, float] = field(
        default_factory=lambda: {"centre": 10.0, "member": 3.0, "isolated": 5.0})
    finding_clearance_mm: float = 5.0
    abnormal_share: float = 0.6  # share of breasts given MCs: about 40 % of images stay normal, as in INbreast


@dataclass
class Inserted:
    """One image after insertion: its pixels (displayed), truth, ROIs as the XML holds them, and how it went."""

    pixels: np.ndarray
    annotation: Annotation
    rois: list[Roi]
    n_inserted: int
    peaks: list[float]
    unplaced: int = 0  # MCs (or whole clusters) drawn that found no room clear of the skin line and findings


def _finding_test(annotation: Annotation, clearance_px: float) -> Callable[[int, int], bool]:
    """A vectorised 'far from every existing finding' test (targets: discs; ignore regions: their boxes)."""
    centres = np.array([[t.x, t.y, t.diameter / 2] for t in annotation.targets]).reshape(-1, 3)
    boxes = np.array([[*np.min(r.contour, axis=0), *np.max(r.contour, axis=0)]
                      for r in annotation.ignore]).reshape(-1, 4)

    def clear(x: int, y: int) -> bool:
        if len(centres) and (np.hypot(centres[:, 0] - x, centres[:, 1] - y) < centres[:, 2] + clearance_px).any():
            return False
        return not (len(boxes) and ((boxes[:, 0] - clearance_px <= x) & (x <= boxes[:, 2] + clearance_px)
                                    & (boxes[:, 1] - clearance_px <= y) & (y <= boxes[:, 3] + clearance_px)).any())
    return clear


def placement(mask: np.ndarray, pixel_mm: float, annotation: Annotation, settings: InsertSettings) -> Placement:
    """Where MCs may go in this image: the breast, clear of the skin line and of every existing finding."""
    from scipy import ndimage

    skin_mm = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1] * pixel_mm
    clear = _finding_test(annotation, settings.finding_clearance_mm / pixel_mm)
    clearance = settings.skin_clearance_mm

    def allowed(x: int, y: int, zone: str) -> bool:
        return bool(skin_mm[y, x] >= clearance[zone]) and clear(x, y)

    return Placement(*mask.shape, pixel_mm, allowed)


def _truth(layout: McLayout, existing: Annotation) -> tuple[Annotation, list[Roi]]:
    """The existing truth plus the inserted MCs (outlines or points) and an ignore region around each cluster."""
    targets, ignore = list(existing.targets), list(existing.ignore)
    rois = [Roi(t.label or "Calcification", np.array([[t.x, t.y]]) if t.contour is None else np.asarray(t.contour))
            for t in existing.targets]
    rois += [Roi(r.label or "Cluster", np.asarray(r.contour)) for r in existing.ignore]
    for polygon in layout.clusters:
        contour = np.round(polygon, 3)
        ignore.append(IgnoreRegion(contour, "Cluster"))
        rois.append(Roi("Cluster", contour))
    for shape, as_point in layout.mcs:
        contour = np.round(shape.polygon(), 3)
        x, y = polygon_centroid(contour)
        if as_point:
            point = np.round([[x, y]], 3)
            targets.append(Target(float(point[0, 0]), float(point[0, 1]), feret_diameter(contour), None,
                                  "Calcification"))
            rois.append(Roi("Calcification", point))
        else:
            targets.append(Target(x, y, feret_diameter(contour), contour, "Calcification"))
            rois.append(Roi("Calcification", contour))
    return Annotation(tuple(targets), tuple(ignore)), rois


def insert_mcs(pixels: np.ndarray, pixel_mm: float, existing: Annotation, settings: InsertSettings,
               rng: np.random.Generator, *, abnormal: bool, max_value: int | None,
               mask: np.ndarray | None = None) -> Inserted | None:
    """Insert clusters and isolated MCs into ``pixels`` (displayed values) when ``abnormal``.

    ``mask`` is the breast (found from the pixels when not given); ``None`` when there is none. The
    result keeps the source's values outside the inserted MCs exactly. With ``max_value`` (a stored
    image) it is rounded and kept within [0, ``max_value``] in the source's dtype; without (a working-
    grid image in training) it stays float32 within the grid's [0, 1], saturating as a detector does.
    """
    mask = breast_mask(pixels) if mask is None else np.asarray(mask, bool)
    if not mask.any():
        return None
    out = np.asarray(pixels, np.float64).copy()
    layout = McLayout()
    peaks: list[float] = []
    if abnormal:
        layout = sample_mcs(placement(mask, pixel_mm, existing, settings), rng, settings.mcs, settings.clusters)
        signal = BreastSignal.of(out, mask)
        for (shape, _), contrast in zip(layout.mcs, layout.contrasts, strict=True):
            peaks.append(imprint(out, mask, shape, contrast, pixel_mm, signal, settings.imprint, rng))
    annotation, rois = _truth(layout, existing)
    if max_value is None:
        stored = np.clip(out, 0, 1).astype(np.float32) if abnormal else np.asarray(pixels)
    else:
        stored = (np.clip(np.rint(out), 0, max_value) if abnormal else np.asarray(pixels)).astype(
            np.asarray(pixels).dtype)
    return Inserted(stored, annotation, rois, len(layout.mcs), peaks, layout.unplaced)
