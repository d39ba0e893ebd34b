"""From a stored mammogram to the working grid every component expects.

Three steps, each recorded in the returned :class:`~calcdet_core.contracts.data.GridTransform`
so that any point found on the working grid maps back to the stored grid exactly:

1. breast mask: the largest 4-connected region brighter than the background, holes filled;
2. crop to the mask's bounding box (optional);
3. flip so the chest wall is on the left (optional): from the laterality when the file
   says it (right breasts are stored mirrored), else toward the side holding more breast;

4. resample to the working spacing (optional; the pipeline's ``preprocess.working_spacing_mm``,
   70 µm by default, the spacing INbreast and the study's components were built for), so a
   50 µm film scan or a 100 µm system shows a calcification at the size components expect;
   an image already at that spacing (within 0.1%) or stating none is left untouched;

then intensities are scaled to float32 in [0, 1] by the image's own range, as the study did
("the images did not span the whole range defined by the uint16 data type").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from calcdet_core.contracts.data import GridTransform, Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.regions import fill_holes, largest_region

SPACING_TOLERANCE = 1e-3
"""Relative spacing difference below which an image counts as already on the working spacing."""

BACKGROUND_FRACTION = 0.01
"""Pixels within this fraction of the intensity range above the minimum are background."""


def require_finite(pixels: np.ndarray, who: object) -> None:
    """Refuse float pixels holding NaN or infinity, saying how many: no threshold or scaling survives one."""
    if not np.issubdtype(pixels.dtype, np.floating):
        return
    bad = pixels.size - int(np.count_nonzero(np.isfinite(pixels)))
    if bad:
        nan = int(np.count_nonzero(np.isnan(pixels)))
        raise InvalidInputError(f"{who}: {bad} of {pixels.size} float pixels are not finite ({nan} NaN, "
                                f"{bad - nan} infinite); calcdet needs finite intensities")


def breast_mask(pixels: np.ndarray) -> np.ndarray:
    """The breast region: largest connected region above the background level, holes filled."""
    p = np.asarray(pixels, dtype=np.float64)
    low, high = float(p.min()), float(p.max())
    if high <= low:
        return np.zeros(p.shape, bool)
    return fill_holes(largest_region(p > low + BACKGROUND_FRACTION * (high - low)))


def _flip_needed(mammogram: Mammogram, mask: np.ndarray) -> bool:
    if mammogram.laterality in ("L", "R"):
        return mammogram.laterality == "R"
    half = mask.shape[1] // 2
    return int(mask[:, mask.shape[1] - half :].sum()) > int(mask[:, :half].sum())


def to_unit_range(pixels: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] by the image's own minimum and maximum (constant images become 0)."""
    p = np.asarray(pixels, dtype=np.float32)
    low, high = float(p.min()), float(p.max())
    if high <= low:
        return np.zeros_like(p)
    return (p - low) / np.float32(high - low)


MAX_WORKING_PIXELS = 64_000_000
"""The largest working image resampling may make (256 MB as float32; a 3328x2560 mammogram has 8.5 M pixels)."""


def working_scale(spacing_mm: tuple[float, float] | None, working_spacing_mm: float | None,
                  who: object = "image") -> tuple[float, float]:
    """Working pixels per stored pixel along (x, y); (1, 1) when nothing is to be resampled."""
    if spacing_mm is None or working_spacing_mm is None:
        return 1.0, 1.0
    row_mm, col_mm = (float(v) for v in spacing_mm)
    if not (np.isfinite([row_mm, col_mm]).all() and row_mm > 0 and col_mm > 0):
        raise InvalidInputError(f"{who}: pixel spacing must be positive millimetres, got {spacing_mm}")
    if max(abs(row_mm / working_spacing_mm - 1), abs(col_mm / working_spacing_mm - 1)) <= SPACING_TOLERANCE:
        return 1.0, 1.0
    return col_mm / working_spacing_mm, row_mm / working_spacing_mm


def _resample(pixels: np.ndarray, mask: np.ndarray, scale: tuple[float, float]) -> tuple[np.ndarray, np.ndarray,
                                                                                          tuple[float, float]]:
    """Pixels and mask on the resampled grid, and the scale achieved (sizes are whole pixels).

    Shrinking averages areas (no aliasing of fine detail into larger blobs); enlarging is
    bilinear. OpenCV keeps pixel centres in register, as :class:`GridTransform` assumes.
    """
    import cv2

    h, w = pixels.shape
    new_w, new_h = max(1, round(w * scale[0])), max(1, round(h * scale[1]))
    interpolation = cv2.INTER_AREA if new_w * new_h < w * h else cv2.INTER_LINEAR
    out = cv2.resize(np.ascontiguousarray(pixels, dtype=np.float32), (new_w, new_h), interpolation=interpolation)
    out_mask = cv2.resize(mask.astype(np.float32), (new_w, new_h), interpolation=interpolation) >= 0.5
    return out, out_mask, (new_w / w, new_h / h)


def preprocess(mammogram: Mammogram, crop_breast: bool = True, flip_to_left: bool = True,
               working_spacing_mm: float | None = None) -> Mammogram:
    """The working-grid image: breast-cropped, chest wall left, float32 in [0, 1], mask and transform set.

    With ``working_spacing_mm`` an image whose ``spacing_mm`` differs is resampled to it.
    """
    pixels = np.asarray(mammogram.pixels)
    who = mammogram.source or mammogram.image_id
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"{who}: expected a non-empty 2-D image, got shape {pixels.shape}")
    if not (np.issubdtype(pixels.dtype, np.integer) or np.issubdtype(pixels.dtype, np.floating)):
        raise ValueError(f"{who}: expected integer or float pixels, got {pixels.dtype}")
    require_finite(pixels, who)
    if mammogram.transform != GridTransform():
        raise ValueError(f"{who}: image is already preprocessed (transform {mammogram.transform})")
    mask = breast_mask(pixels)
    if not mask.any():
        raise ValueError(f"{who}: image is constant, so no breast region can be found")
    h, w = pixels.shape
    x0, y0, x1, y1 = 0, 0, w, h
    if crop_breast:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    flipped = flip_to_left and _flip_needed(mammogram, mask)
    work, work_mask = pixels[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    if flipped:
        work, work_mask = work[:, ::-1], work_mask[:, ::-1]
    scale = working_scale(mammogram.spacing_mm, working_spacing_mm, who)
    spacing = mammogram.spacing_mm
    if scale != (1.0, 1.0):
        wanted = round(work.shape[1] * scale[0]) * round(work.shape[0] * scale[1])
        if wanted > MAX_WORKING_PIXELS:
            raise InvalidInputError(
                f"{who}: resampling from {mammogram.spacing_mm} mm to the working spacing {working_spacing_mm} mm "
                f"would make a {wanted / 1e6:.0f} M pixel image (at most {MAX_WORKING_PIXELS / 1e6:.0f} M); check "
                "the image's pixel spacing or the pipeline's preprocess.working_spacing_mm")
        work, work_mask, scale = _resample(work, work_mask, scale)
        spacing = (spacing[0] / scale[1], spacing[1] / scale[0])
    transform = GridTransform(x0=x0, y0=y0, width=x1 - x0, height=y1 - y0, flipped=flipped, scale_x=scale[0],
                              scale_y=scale[1])
    return replace(mammogram, pixels=np.ascontiguousarray(to_unit_range(work)),
                   mask=np.ascontiguousarray(work_mask), transform=transform, spacing_mm=spacing)
