"""The data model shared by every component: images, annotations, candidates.

Numbers stay numpy arrays; metadata is typed. Coordinates are pixels with
x = column, y = row, origin at the top-left pixel centre.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from calcdet_core.contracts.splits import DEFAULT_SPLIT_FRACTIONS, SPLIT_NAMES, patient_split

MC_MAX_DIAMETER_MM = 1.0
"""Calcifications wider than this are benign-looking: ignore regions, not targets."""


@dataclass(frozen=True)
class GridTransform:
    """Maps points between the stored image grid and the working grid.

    The working grid is the stored grid cropped to ``(x0, y0, width, height)``, then, if
    ``flipped``, mirrored left-right, then resampled by ``scale_x``, ``scale_y`` (working
    pixels per stored pixel, about stored spacing / working spacing) with pixel centres
    kept in register: a stored pixel's edge at -0.5 stays the working grid's edge. Both
    directions are exact, so every coordinate that leaves the toolkit is in the stored
    grid; sizes (radii, diameters) scale by :attr:`size_scale`. ``width`` and ``height``
    are the crop's size in stored pixels.
    """

    x0: int = 0
    y0: int = 0
    width: int | None = None
    height: int | None = None
    flipped: bool = False
    scale_x: float = 1.0
    scale_y: float = 1.0

    def _check_width(self) -> int:
        if self.flipped and self.width is None:
            raise ValueError("a flipped GridTransform needs the working width")
        return self.width or 0

    @property
    def scaled(self) -> bool:
        return (self.scale_x, self.scale_y) != (1.0, 1.0)

    @property
    def size_scale(self) -> float:
        """Working-grid size of one stored pixel (geometric mean of the two axes): multiplies radii."""
        return float(np.sqrt(self.scale_x * self.scale_y)) if self.scaled else 1.0

    def to_working(self, xy: np.ndarray) -> np.ndarray:
        """Stored-grid points (N, 2) to working-grid points."""
        out = np.asarray(xy, dtype=np.float64).reshape(-1, 2).copy()
        out[:, 0] -= self.x0
        out[:, 1] -= self.y0
        if self.flipped:
            out[:, 0] = self._check_width() - 1 - out[:, 0]
        if self.scaled:
            out = (out + 0.5) * np.array([self.scale_x, self.scale_y]) - 0.5
        return out

    def to_stored(self, xy: np.ndarray) -> np.ndarray:
        """Working-grid points (N, 2) to stored-grid points."""
        out = np.asarray(xy, dtype=np.float64).reshape(-1, 2).copy()
        if self.scaled:
            out = (out + 0.5) / np.array([self.scale_x, self.scale_y]) - 0.5
        if self.flipped:
            out[:, 0] = self._check_width() - 1 - out[:, 0]
        out[:, 0] += self.x0
        out[:, 1] += self.y0
        return out


@dataclass(frozen=True)
class Target:
    """One annotated microcalcification.

    ``contour`` is an (K, 2) closed polygon of x, y points, or ``None`` for a
    point annotation (then the target is the pixel at ``x, y``).
    """

    x: float
    y: float
    diameter: float = 1.0
    contour: np.ndarray | None = None
    label: str = ""


@dataclass(frozen=True)
class IgnoreRegion:
    """An area where detections count as neither TP nor FP (cluster outline, large calcification)."""

    contour: np.ndarray
    label: str = ""


@dataclass(frozen=True)
class Annotation:
    """The truth for one image. An image with no target is *normal* for the FROC."""

    targets: tuple[Target, ...] = ()
    ignore: tuple[IgnoreRegion, ...] = ()

    @property
    def is_normal(self) -> bool:
        return len(self.targets) == 0

    def transformed(self, to_grid: Callable[[np.ndarray], np.ndarray], size_scale: float = 1.0) -> Annotation:
        """The same annotation with every point mapped by ``to_grid`` ((N, 2) -> (N, 2)) and target
        diameters multiplied by ``size_scale`` (a resampled grid's :attr:`GridTransform.size_scale`)."""

        def move_target(t: Target) -> Target:
            (x, y), = to_grid(np.array([[t.x, t.y]]))
            contour = None if t.contour is None else to_grid(t.contour)
            diameter = t.diameter if size_scale == 1.0 else t.diameter * size_scale
            return replace(t, x=float(x), y=float(y), diameter=diameter, contour=contour)

        return Annotation(
            targets=tuple(move_target(t) for t in self.targets),
            ignore=tuple(replace(r, contour=to_grid(r.contour)) for r in self.ignore),
        )


@dataclass
class Mammogram:
    """One image and what is known about it.

    ``pixels`` is 2-D. As read from disk it keeps the stored dtype (e.g. uint16 with
    14 bits used) and ``transform`` is the identity; after preprocessing it is
    float32 in [0, 1] on the working grid and ``transform`` maps back.
    """

    pixels: np.ndarray
    image_id: str
    spacing_mm: tuple[float, float] | None = None
    laterality: str | None = None
    view: str | None = None
    patient_id: str | None = None
    mask: np.ndarray | None = None
    transform: GridTransform = field(default_factory=GridTransform)
    source: Path | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]


@dataclass
class ImageRecord:
    """One image of a dataset: where it is, who it belongs to, and its truth.

    ``read`` reads the pixels only when called, so a dataset of thousands of
    images costs nothing until a component needs one.
    """

    image_id: str
    patient_id: str
    path: Path
    annotation: Annotation
    read: Callable[[], Mammogram]
    laterality: str | None = None
    view: str | None = None
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def is_normal(self) -> bool:
        return self.annotation.is_normal


@dataclass(frozen=True)
class SkippedItem:
    """Something a dataset adapter could not use, and why (nothing is dropped silently)."""

    path: str
    reason: str


@dataclass
class Dataset:
    """What an adapter returns: the usable images and everything it skipped."""

    name: str
    root: Path
    records: list[ImageRecord]
    skipped: list[SkippedItem] = field(default_factory=list)

    def split(
        self, seed: int = 0, fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS
    ) -> dict[str, list[ImageRecord]]:
        """Patient-disjoint train/validation/test split, stratified by MC-positive patients."""
        return patient_split(self.records, seed=seed, fractions=fractions)

    def select(self, split: str, seed: int = 0) -> list[ImageRecord]:
        """Records of one split, or all of them for ``split="all"``."""
        if split == "all":
            return list(self.records)
        if split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {split!r}; choose one of all, {', '.join(SPLIT_NAMES)}")
        return self.split(seed)[split]


def _as_column(values: np.ndarray | Sequence[float], n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"{what} must have {n} values, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Candidates:
    """Blobs found in one image: ``xyr`` is (N, 3) float64 of x, y, radius; ``score`` is (N,).

    A higher score means more MC-like. Coordinates are in the grid of the image the
    component was given; the engine maps them to the stored grid.
    """

    xyr: np.ndarray
    score: np.ndarray
    image_id: str = ""

    def __post_init__(self) -> None:
        xyr = np.asarray(self.xyr, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "xyr", xyr)
        object.__setattr__(self, "score", _as_column(self.score, len(xyr), "score"))

    @classmethod
    def empty(cls, image_id: str = "") -> Candidates:
        return cls(np.zeros((0, 3)), np.zeros(0), image_id)

    @classmethod
    def from_columns(
        cls, x: Sequence[float], y: Sequence[float], radius: Sequence[float], score: Sequence[float],
        image_id: str = "",
    ) -> Candidates:
        n = len(np.asarray(x).reshape(-1))
        cols = [_as_column(v, n, name) for v, name in ((x, "x"), (y, "y"), (radius, "radius"))]
        return cls(np.stack(cols, axis=1), _as_column(score, n, "score"), image_id)

    def __len__(self) -> int:
        return len(self.xyr)

    @property
    def x(self) -> np.ndarray:
        return self.xyr[:, 0]

    @property
    def y(self) -> np.ndarray:
        return self.xyr[:, 1]

    @property
    def radius(self) -> np.ndarray:
        return self.xyr[:, 2]

    def subset(self, index: np.ndarray) -> Candidates:
        return type(self)(self.xyr[index], self.score[index], self.image_id)

    def with_scores(self, score: np.ndarray) -> Candidates:
        return type(self)(self.xyr, score, self.image_id)

    def mapped(self, to_grid: Callable[[np.ndarray], np.ndarray], image_id: str | None = None,
               size_scale: float = 1.0) -> Candidates:
        """The same blobs with centres mapped by ``to_grid`` (e.g. ``GridTransform.to_stored``) and radii
        multiplied by ``size_scale`` (``1 / transform.size_scale`` back to a resampled image's stored grid)."""
        xy = to_grid(self.xyr[:, :2]) if len(self) else self.xyr[:, :2]
        radius = self.xyr[:, 2] if size_scale == 1.0 else self.xyr[:, 2] * size_scale
        xyr = np.column_stack([xy, radius])
        return type(self)(xyr, self.score, self.image_id if image_id is None else image_id)

    def to_stored(self, transform: GridTransform, image_id: str | None = None) -> Candidates:
        """Working-grid blobs in the stored grid that ``transform`` came from: centres, radii (and boxes)."""
        return self.mapped(transform.to_stored, image_id, 1 / transform.size_scale)


@dataclass(frozen=True)
class Detections(Candidates):
    """Final, scored findings of a pipeline: :class:`Candidates`, and optionally a box per finding.

    ``boxes`` is ``None`` or (N, 4) float64 of x0, y0, x1, y1 (x0 <= x1, y0 <= y1), for
    detectors that predict real extents (a Faster R-CNN), so box metrics need not
    assume squares around the centre.
    """

    boxes: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.boxes is not None:
            boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
            if len(boxes) != len(self.xyr):
                raise ValueError(f"boxes must have {len(self.xyr)} rows, got {len(boxes)}")
            if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
                raise ValueError("boxes must be x0, y0, x1, y1 with x0 <= x1 and y0 <= y1")
            object.__setattr__(self, "boxes", boxes)

    @classmethod
    def of(cls, candidates: Candidates, boxes: np.ndarray | None = None) -> Detections:
        """Candidates (or detections) as detections, with ``boxes`` when given."""
        if boxes is None and isinstance(candidates, Detections):
            boxes = candidates.boxes
        return cls(candidates.xyr, candidates.score, candidates.image_id, boxes)

    def subset(self, index: np.ndarray) -> Detections:
        return type(self)(self.xyr[index], self.score[index], self.image_id,
                          None if self.boxes is None else self.boxes[index])

    def with_scores(self, score: np.ndarray) -> Detections:
        return type(self)(self.xyr, score, self.image_id, self.boxes)

    def mapped(self, to_grid: Callable[[np.ndarray], np.ndarray], image_id: str | None = None,
               size_scale: float = 1.0) -> Detections:
        """Centres and box corners mapped by ``to_grid``, radii scaled by ``size_scale``; a mirrored grid swaps
        x0 and x1 back into order."""
        moved = Candidates(self.xyr, self.score, self.image_id).mapped(to_grid, image_id, size_scale)
        boxes = self.boxes
        if boxes is not None and len(boxes):
            corners = np.concatenate([to_grid(boxes[:, :2]), to_grid(boxes[:, 2:])], axis=1)
            low = np.minimum(corners[:, :2], corners[:, 2:])
            high = np.maximum(corners[:, :2], corners[:, 2:])
            boxes = np.column_stack([low, high])
        return type(self)(moved.xyr, moved.score, moved.image_id, boxes)


@dataclass(frozen=True)
class ImageResult:
    """What an evaluator scores for one image: detections and truth, both in the stored grid.

    ``spacing_mm`` is the stored image's (row, column) pixel spacing when known (DICOM PixelSpacing or
    ImagerPixelSpacing), so an evaluator that measures in millimetres need not assume one.
    """

    image_id: str
    detections: Candidates
    annotation: Annotation
    seconds: float = float("nan")
    spacing_mm: tuple[float, float] | None = None

    @property
    def is_normal(self) -> bool:
        return self.annotation.is_normal
