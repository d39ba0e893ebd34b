"""Reading one mammogram from DICOM, PNG or TIFF into a :class:`~calcdet_core.contracts.data.Mammogram`.

PNG and TIFF go through Pillow and keep their stored integer type (16-bit PNGs stay
uint16). They carry no laterality or view, so those are taken from the file name when
it holds the usual tokens (``_L_``, ``RIGHT``, ``CC``, ``MLO``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.contracts.data import Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.preprocess import require_finite
from calcdet_core.io.dicom import MAX_DECODED_PIXELS, header_spacing, read_checked_header, read_dicom

DICOM_SUFFIXES = {".dcm", ".dicom"}
PILLOW_SUFFIXES = {".png", ".tif", ".tiff"}
IMAGE_SUFFIXES = DICOM_SUFFIXES | PILLOW_SUFFIXES

_LATERALITY = {"l": "L", "left": "L", "r": "R", "right": "R"}
_VIEWS = {"cc": "CC", "mlo": "MLO", "ml": "ML", "lm": "LM"}


def name_tokens(path: Path) -> tuple[str | None, str | None]:
    """Laterality and view read from a file name such as ``case7_R_MLO.png`` (``None`` when absent)."""
    tokens = [t.lower() for t in re.split(r"[^A-Za-z0-9]+", path.stem) if t]
    laterality = next((_LATERALITY[t] for t in tokens if t in _LATERALITY), None)
    view = next((_VIEWS[t] for t in tokens if t in _VIEWS), None)
    return laterality, view


@contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """The image opened lazily by Pillow (its size known, nothing decoded), refused when larger than a mammogram."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.height * img.width > MAX_DECODED_PIXELS:
                raise InvalidInputError(
                    f"{path}: the image declares {img.width}x{img.height} = {img.height * img.width / 1e6:.0f} M "
                    f"pixels; calcdet reads at most {MAX_DECODED_PIXELS / 1e6:.0f} M (a full-field mammogram has "
                    "about 21 M)")
            yield img
    except Image.DecompressionBombError as exc:  # Pillow's own bound, past ours: refused while opening
        raise InvalidInputError(f"{path}: {exc}; calcdet reads at most {MAX_DECODED_PIXELS / 1e6:.0f} M "
                                "pixels") from exc
    except (OSError, UnidentifiedImageError) as exc:
        raise InvalidInputError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from exc


def _pillow_pixels(path: Path) -> np.ndarray:
    with _opened(path) as img:
        if getattr(img, "n_frames", 1) != 1:
            raise InvalidInputError(f"{path}: expected one image, found {img.n_frames} frames")
        arr = np.asarray(img)
    if arr.ndim == 3:
        channels = arr[..., :3]
        if not (np.array_equal(channels[..., 0], channels[..., 1])
                and np.array_equal(channels[..., 0], channels[..., 2])):
            raise InvalidInputError(f"{path}: expected a grayscale image, found colour ({arr.shape[2]} channels)")
        arr = channels[..., 0]
    if arr.dtype == np.int32 and arr.size and arr.min() >= 0 and arr.max() < 2**16:
        arr = arr.astype(np.uint16)  # Pillow opens 16-bit PNGs as 32-bit integers
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    require_finite(arr, path)
    return np.ascontiguousarray(arr)


def read_image(path: str | Path, image_id: str | None = None, patient_id: str | None = None,
               spacing_mm: float | None = None) -> Mammogram:
    """Read a DICOM, PNG or TIFF mammogram; errors name the file. ``spacing_mm`` is the pixel spacing of an image
    that states none (PNG, TIFF, a DICOM without the tags), so the pipeline resamples it as it does the others."""
    image = _read_image(Path(path), image_id, patient_id)
    if image.spacing_mm is None and spacing_mm is not None:
        image.spacing_mm = (spacing_mm, spacing_mm)
    return image


def _read_image(path: Path, image_id: str | None, patient_id: str | None) -> Mammogram:
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        image = read_dicom(path, image_id=image_id, patient_id=patient_id)
        if image.laterality is None or image.view is None:
            laterality, view = name_tokens(path)
            image.laterality, image.view = image.laterality or laterality, image.view or view
        return image
    if suffix not in PILLOW_SUFFIXES:
        raise InvalidInputError(f"{path}: unsupported image type {suffix!r}; "
                                f"use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    laterality, view = name_tokens(path)
    return Mammogram(pixels=_pillow_pixels(path), image_id=image_id or path.stem, laterality=laterality, view=view,
                     patient_id=patient_id, source=path)


def image_header(path: Path) -> tuple[int, int, tuple[float, float] | None]:
    """(height, width, spacing in mm or ``None``) without decoding the pixels."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        header = read_checked_header(path)  # size checked as read_dicom checks it, nothing inflated past it
        try:
            rows, columns = int(header.Rows), int(header.Columns)
        except Exception as exc:
            raise InvalidInputError(f"{path}: unreadable DICOM header ({type(exc).__name__}: {exc})") from exc
        return rows, columns, header_spacing(header, path)  # read and checked as read_dicom reads it
    with _opened(path) as img:
        return img.height, img.width, None
