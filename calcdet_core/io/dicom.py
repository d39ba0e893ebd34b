"""Reading and writing mammograms as DICOM files.

Reading returns the stored pixels as a :class:`~calcdet_core.contracts.data.Mammogram` in
MONOCHROME2 sense (bright = dense), with only the ``BitsStored`` bits kept; Float Pixel
Data is read as float and refused when a pixel is NaN or infinite.
Compressed transfer syntaxes are decoded by pydicom's pixel-data plugins
(pylibjpeg with its libjpeg, openjpeg and rle codecs). Writing exists so that
phantoms and tests can produce files exactly like a scanner's, compressed and
MONOCHROME1 included.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from calcdet_core.contracts.data import Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.preprocess import MAX_WORKING_PIXELS, require_finite
from calcdet_core.io.dicom_header import read_header
from calcdet_core.io.ljpeg import encode_lossless_jpeg

DIGITAL_MAMMOGRAPHY_STORAGE = "1.2.840.10008.5.1.4.1.1.1.2"
"""SOP class of a 'Digital Mammography X-Ray Image Storage - For Presentation' object."""

TRANSFER_SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "jpeg-lossless": JPEGLosslessSV1,
    "jpeg2000": JPEG2000Lossless,
    "rle": RLELossless,
}
"""Names accepted by :func:`write_dicom` for the transfer syntax it writes."""

PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

MODALITIES_ENV = "CALCDET_MODALITIES"
"""Comma-separated Modality values to read besides none given (default ``MG``; ``*`` reads any).

Only mammograms are read by default: a CT or MR slice processed as a mammogram gives
detections that look plausible and mean nothing. A site with mammograms stored under
another Modality (some CR and DX systems) sets e.g. ``CALCDET_MODALITIES=MG,DX``; being
an environment variable, it reaches every command and worker process.
"""

MASKED_SHARE_WARNING = 0.001
"""Warn when more than this share of pixels had bits above ``BitsStored`` cleared.

A few such pixels are overlay graphics some scanners keep in the high bits; more means
``BitsStored`` is smaller than the data and the cleared image is not the acquired one.
"""


MAX_DECODED_PIXELS = MAX_WORKING_PIXELS
"""The most pixels (Rows x Columns x SamplesPerPixel x NumberOfFrames) an input may declare: 64 M.

A full-field mammogram has at most about 4096x5120 = 21 M pixels; this leaves three times that
and equals the bound on the working image resampling may make."""

MAX_DECODED_BYTES = MAX_DECODED_PIXELS * 8
"""The most bytes an input's decoded pixels may take: 64 M pixels of 8-byte (double float) samples, 512 MB."""

SPACING_RANGE_MM = (0.01, 1.0)
"""Pixel spacings a mammogram can have: detectors and digitisers span tens to a few hundred µm.

Outside it the tag is wrong (0.001 mm would ask for a working image a million times the size)."""


def _raw(ds: Dataset, keyword: str) -> str:
    """A tag's value as stored, for a message (its parsed value may be what failed)."""
    item = ds.get_item(keyword)
    value = getattr(item, "value", item)
    return repr(value.decode("latin-1", "replace") if isinstance(value, bytes) else value)


def _int_tag(ds: Dataset, keyword: str, default: int, path: Path) -> int:
    """An integer tag's value (``default`` when absent or empty); a value that is no integer names the tag."""
    try:
        value = ds.get(keyword)
        return default if value in (None, "") else int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{path}: {keyword} must be an integer, got {_raw(ds, keyword)}") from exc


def _numbers(value: object) -> list[float]:
    items = [value] if isinstance(value, str | bytes | int | float) else list(value)  # type: ignore[call-overload]
    return [float(v) for v in items]


def header_spacing(ds: Dataset, path: Path) -> tuple[float, float] | None:
    """(row, column) spacing in mm from ``PixelSpacing``, else ``ImagerPixelSpacing``; checked, errors named.

    A single value (some writers store one for square pixels) is read as isotropic, with a warning.
    """
    low, high = SPACING_RANGE_MM
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            value = ds.get(keyword)
            values = [] if value in (None, "") else _numbers(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}: {keyword} must be two numbers in mm (row\\column), "
                                    f"got {_raw(ds, keyword)}") from exc
        if not values:
            continue
        if len(values) == 1:
            warnings.warn(f"{path}: {keyword} holds one value ({values[0]} mm); read as square pixels", stacklevel=3)
            values *= 2
        if len(values) != 2:
            raise InvalidInputError(f"{path}: {keyword} must be two numbers in mm (row\\column), got {values}")
        if not all(low <= v <= high for v in values):
            raise InvalidInputError(f"{path}: {keyword} {values[0]}\\{values[1]} mm is no mammogram's pixel "
                                    f"spacing (expected {low}-{high} mm); the tag is wrong")
        return values[0], values[1]
    return None


def check_decoded_size(ds: Dataset, path: Path) -> None:
    """Refuse, naming the tags, a header declaring more pixels or bytes than any mammogram decodes to.

    Called on the header alone, so a file claiming a huge image costs nothing before it is refused.
    """
    rows, columns = _int_tag(ds, "Rows", 0, path), _int_tag(ds, "Columns", 0, path)
    samples, frames = _int_tag(ds, "SamplesPerPixel", 1, path), _int_tag(ds, "NumberOfFrames", 1, path)
    bits = _int_tag(ds, "BitsAllocated", 16, path)
    pixels = rows * columns * samples * frames
    nbytes = pixels * max(1, math.ceil(bits / 8))
    if pixels > MAX_DECODED_PIXELS or nbytes > MAX_DECODED_BYTES:
        raise InvalidInputError(
            f"{path}: Rows x Columns x SamplesPerPixel x NumberOfFrames = {rows} x {columns} x {samples} x {frames} "
            f"at BitsAllocated {bits} is {pixels / 1e6:.0f} M pixels ({nbytes / 1e6:.0f} MB decoded); calcdet reads "
            f"at most {MAX_DECODED_PIXELS / 1e6:.0f} M pixels and {MAX_DECODED_BYTES / 1e6:.0f} MB (a full-field "
            "mammogram has about 21 M pixels): the header is wrong or this is no mammogram")


def read_checked_header(path: Path) -> Dataset:
    """The header without pixel data (:func:`read_header`), its declared decoded size checked; errors name the file."""
    try:
        header = read_header(path)
    except InvalidInputError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from exc
    check_decoded_size(header, path)
    return header


def _code(ds: Dataset, keyword: str, allowed: tuple[str, ...]) -> str | None:
    value = str(ds.get(keyword, "") or "").strip().upper()
    return value if value in allowed else None


def read_dicom(path: str | Path, image_id: str | None = None, patient_id: str | None = None) -> Mammogram:
    """Read one single-frame grayscale DICOM image.

    MONOCHROME1 pixels are inverted so that bright always means dense; bits above
    ``BitsStored`` are cleared; spacing comes from ``PixelSpacing`` or else
    ``ImagerPixelSpacing`` (mm, row then column). A header declaring more than
    :data:`MAX_DECODED_PIXELS` or :data:`MAX_DECODED_BYTES` is refused before any pixel
    data is inflated or decoded. Every error names the file.
    """
    path = Path(path)
    read_checked_header(path)  # a huge declared image is refused before pydicom inflates or decodes anything
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise InvalidInputError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from exc
    if not any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS):
        raise InvalidInputError(f"{path}: DICOM file holds no pixel data")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise InvalidInputError(f"{path}: expected a grayscale image (MONOCHROME1/2), found {photometric}")
    _check_modality(path, ds)
    if _int_tag(ds, "NumberOfFrames", 1, path) != 1:
        raise InvalidInputError(f"{path}: expected one frame, found {ds.NumberOfFrames}")
    signed = _int_tag(ds, "PixelRepresentation", 0, path)
    if signed == 0:
        ds.pixel_array_options(correct_unused_bits=False)  # the bits above BitsStored are cleared (and counted) below
    try:
        pixels = ds.pixel_array
    except Exception as exc:
        syntax = ds.file_meta.get("TransferSyntaxUID", "unknown")
        raise InvalidInputError(f"{path}: cannot decode pixel data with transfer syntax {syntax} "
                                f"({type(exc).__name__}: {exc}); is the pylibjpeg codec for it installed?") from exc
    pixels = np.asarray(pixels)
    if np.issubdtype(pixels.dtype, np.floating):  # Float Pixel Data: no stored bits to keep
        require_finite(pixels, path)
        if photometric == "MONOCHROME1":
            pixels = pixels.max() + pixels.min() - pixels
    else:
        bits = _int_tag(ds, "BitsStored", pixels.dtype.itemsize * 8, path)
        pixels = _keep_stored_bits(path, pixels, bits, signed)
        if photometric == "MONOCHROME1":
            pixels = _invert(pixels, bits)
    patient = patient_id or (str(ds.get("PatientID", "")) or None)
    return Mammogram(
        pixels=pixels,
        image_id=image_id or path.stem,
        spacing_mm=header_spacing(ds, path),
        laterality=_code(ds, "ImageLaterality", ("L", "R")) or _code(ds, "Laterality", ("L", "R")),
        view=_code(ds, "ViewPosition", ("CC", "MLO", "ML", "LM", "XCC", "XCCL", "XCCM", "FB", "SIO", "LMO")),
        patient_id=patient,
        source=path,
    )


def accepted_modalities() -> set[str] | None:
    """The Modality values read (``None``: any), from :data:`MODALITIES_ENV`."""
    value = os.environ.get(MODALITIES_ENV, "").strip()
    if value == "*":
        return None
    return {m.strip().upper() for m in value.split(",") if m.strip()} or {"MG"}


def _check_modality(path: Path, ds: Dataset) -> None:
    modality = str(ds.get("Modality", "") or "").strip().upper()
    accepted = accepted_modalities()
    if modality and accepted is not None and modality not in accepted:
        raise InvalidInputError(
            f"{path}: Modality is {modality}, not a mammogram ({', '.join(sorted(accepted))}); to read it anyway "
            f"set {MODALITIES_ENV}={','.join(sorted(accepted | {modality}))} (or * for any)")


def _keep_stored_bits(path: Path, pixels: np.ndarray, bits_stored: int, signed: int) -> np.ndarray:
    """Clear bits above ``BitsStored`` (overlays and junk live there on some scanners), warning when many go."""
    if signed or bits_stored >= pixels.dtype.itemsize * 8:
        return pixels
    top = (1 << bits_stored) - 1
    over = int(np.count_nonzero(pixels > top))
    if over > MASKED_SHARE_WARNING * pixels.size:
        warnings.warn(f"{path}: {over} of {pixels.size} pixels ({100 * over / pixels.size:.1f}%) exceed "
                      f"{top}, the largest value BitsStored={bits_stored} allows (largest found "
                      f"{int(pixels.max())}); their high bits are cleared, so the image read is not the one "
                      "stored - is BitsStored wrong?", stacklevel=3)
    return pixels & np.asarray(top, dtype=pixels.dtype)


def _invert(pixels: np.ndarray, bits_stored: int) -> np.ndarray:
    """MONOCHROME1 to MONOCHROME2 over the full stored range, keeping the dtype."""
    if np.issubdtype(pixels.dtype, np.signedinteger):
        low, high = -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
        return (low + high - pixels.astype(np.int64)).astype(pixels.dtype)
    return ((1 << bits_stored) - 1 - pixels.astype(np.int64)).astype(pixels.dtype)


def write_dicom(
    path: str | Path,
    pixels: np.ndarray,
    *,
    bits_stored: int = 14,
    spacing_mm: tuple[float, float] | None = (0.07, 0.07),
    spacing_tag: str = "ImagerPixelSpacing",
    laterality: str | None = None,
    view: str | None = None,
    patient_id: str = "",
    photometric: str = "MONOCHROME2",
    transfer_syntax: str = "explicit",
    uid_entropy: str | None = None,
) -> Path:
    """Write a 2-D unsigned image as a digital mammography DICOM file.

    ``pixels`` are given as displayed (bright = dense); with
    ``photometric="MONOCHROME1"`` they are stored inverted, as such scanners do, so
    :func:`read_dicom` gives back exactly ``pixels``. ``transfer_syntax`` is one of
    :data:`TRANSFER_SYNTAXES` (all lossless). With ``uid_entropy`` the UIDs are derived from
    it, so the same call writes the same bytes (reproducible phantom releases).
    """
    path = Path(path)
    arr = np.asarray(pixels)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.unsignedinteger) or arr.dtype.itemsize > 2:
        raise ValueError(f"{path}: pixels must be a 2-D uint8/uint16 array, got {arr.dtype} {arr.shape}")
    if not 1 <= bits_stored <= arr.dtype.itemsize * 8:
        raise ValueError(f"{path}: bits_stored={bits_stored} does not fit {arr.dtype}")
    if arr.size and int(arr.max()) >= 1 << bits_stored:
        raise ValueError(f"{path}: pixel value {int(arr.max())} does not fit in {bits_stored} bits")
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(f"{path}: unknown transfer syntax {transfer_syntax!r}; "
                         f"choose one of {', '.join(TRANSFER_SYNTAXES)}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"{path}: photometric must be MONOCHROME1 or MONOCHROME2, got {photometric!r}")
    if spacing_tag not in ("PixelSpacing", "ImagerPixelSpacing"):
        raise ValueError(f"{path}: spacing_tag must be PixelSpacing or ImagerPixelSpacing, got {spacing_tag!r}")
    stored = _invert(arr, bits_stored) if photometric == "MONOCHROME1" else arr

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DIGITAL_MAMMOGRAPHY_STORAGE if arr.dtype.itemsize == 2 \
        else SecondaryCaptureImageStorage
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    def uid(role: str) -> str:
        return generate_uid(entropy_srcs=[uid_entropy, role]) if uid_entropy is not None else generate_uid()

    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("instance")
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.Modality = "MG"
    ds.PatientID = patient_id
    if laterality:
        ds.ImageLaterality = laterality
    if view:
        ds.ViewPosition = view
    if spacing_mm is not None:
        setattr(ds, spacing_tag, [f"{spacing_mm[0]:.6g}", f"{spacing_mm[1]:.6g}"])
    ds.set_pixel_data(stored, photometric, bits_stored, generate_instance_uid=False)
    if ds.SOPClassUID == DIGITAL_MAMMOGRAPHY_STORAGE:
        from calcdet_core.io.mammography_iod import add_mammography_attributes

        add_mammography_attributes(ds, laterality, view, bits_stored)
    if transfer_syntax == "jpeg-lossless":
        frame = encode_lossless_jpeg(stored, precision=max(bits_stored, 2))
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    elif transfer_syntax != "explicit":
        ds.compress(TRANSFER_SYNTAXES[transfer_syntax], generate_instance_uid=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
