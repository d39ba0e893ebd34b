"""INbreast's ROI files (Apple plists) and the mapping of their messy names to MC truth.

The study's rule: single calcifications (points or contours up to 1 mm across) are
targets; cluster outlines and larger calcifications are ignore regions; masses,
spiculated regions, asymmetries and distortions are not MC truth at all.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from calcdet_core.api import InvalidInputError

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class RoiKind(Enum):
    CALCIFICATION = "calcification"  # target, or ignore region when larger than the MC limit
    CLUSTER = "cluster"  # ignore region
    OTHER_LESION = "other"  # known non-MC finding: recorded, not truth
    UNKNOWN = "unknown"  # name not in the vocabulary: reported


CALCIFICATION_NAMES = {"calcification", "calcifications", "calcificacao", "calcificação", "microcalcification",
                       "microcalcifications", "micro calcification", "micro calcifications"}
CLUSTER_NAMES = {"cluster", "clusters", "calcification cluster", "cluster of calcifications"}
OTHER_NAMES = {"mass", "masses", "espiculated region", "spiculated region", "spiculated regions", "assymetry",
               "asymmetry", "asymetry", "distortion", "architectural distortion"}


def _key(name: str) -> str:
    return " ".join(name.lower().split())


def classify(name: str, extra: Mapping[str, str] | None = None) -> RoiKind:
    """The kind of a ROI from its name (case, spacing and a trailing number do not matter).

    ``extra`` maps further names to a kind's value (``"calcification"``, ``"cluster"``,
    ``"other"``): a site's own vocabulary, declared rather than guessed.
    """
    key = _key(name)
    for extra_name, kind in (extra or {}).items():
        if _key(extra_name) == key:
            return RoiKind(kind)
    if re.fullmatch(r"point( \d+)?", key) or key in CALCIFICATION_NAMES:
        return RoiKind.CALCIFICATION
    if key in CLUSTER_NAMES:
        return RoiKind.CLUSTER
    if key in OTHER_NAMES:
        return RoiKind.OTHER_LESION
    return RoiKind.UNKNOWN


@dataclass(frozen=True)
class RawRoi:
    """One ROI as the file states it; ``problem`` says why it cannot be used (``None``: usable)."""

    index: int
    name: str
    points: np.ndarray  # (K, 2) x, y in the stored pixel grid
    declared_points: int | None
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"ROI {self.index} {self.name!r}"


def _point(text: object) -> tuple[float, float]:
    numbers = _NUMBER.findall(str(text))
    if len(numbers) < 2:
        raise ValueError(f"point {text!r} is not '(x, y)'")
    return float(numbers[0]), float(numbers[1])


def _roi(index: int, entry: object) -> RawRoi:
    if not isinstance(entry, dict):
        return RawRoi(index, "?", np.zeros((0, 2)), None, "entry is not a dictionary")
    name = str(entry.get("Name", "") or "").strip() or "Unnamed"
    declared = entry.get("NumberOfPoints")
    declared = int(declared) if isinstance(declared, int | float) else None
    raw_points = entry.get("Point_px")
    if not isinstance(raw_points, list) or not raw_points:
        return RawRoi(index, name, np.zeros((0, 2)), declared, "it has no Point_px points")
    try:
        points = np.array([_point(p) for p in raw_points], dtype=np.float64)
    except ValueError as exc:
        return RawRoi(index, name, np.zeros((0, 2)), declared, str(exc))
    if not np.isfinite(points).all():
        return RawRoi(index, name, points, declared, "a point is not finite")
    return RawRoi(index, name, points, declared)


@dataclass(frozen=True)
class RoiFile:
    """The ROIs of ``Images[0]``; ``empty`` says why there are none (``None``: the file holds ROIs)."""

    rois: list[RawRoi]
    empty: str | None = None


def read_rois(path: Path) -> RoiFile:
    """The ROIs of ``Images[0]``; a file that is not such a plist raises InvalidInputError naming it.

    An annotation file exists only for an annotated image, so one without images or ROIs is
    reported as ``empty`` for the adapter to weigh against the table, never read as "no findings".
    """
    try:
        with path.open("rb") as f:
            doc = plistlib.load(f)
        images = doc["Images"]
        if not isinstance(images, list):
            raise TypeError("Images is not a list")
        if not images:
            return RoiFile([], "the file holds no images")
        if not isinstance(images[0], dict):
            raise TypeError("Images[0] is not a dictionary")
        rois = images[0].get("ROIs", [])
    except Exception as exc:
        raise InvalidInputError(f"{path}: not an INbreast ROI plist ({type(exc).__name__}: {exc})") from exc
    if not isinstance(rois, list):
        raise InvalidInputError(f"{path}: Images[0].ROIs is not a list")
    if not rois:
        return RoiFile([], "Images[0] holds no ROIs")
    return RoiFile([_roi(i, entry) for i, entry in enumerate(rois)])
