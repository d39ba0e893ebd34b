"""What a model found on one image, as a user receives it: every detection, and which of them are findings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calcdet_core.contracts import data
from calcdet_core.errors import CalcdetUserError
from calcdet_core.io.detections_csv import BOX_COLUMNS, COLUMNS, FINDING_COLUMN

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class Detections:
    """Detections of one image in its stored pixel grid (x = column, y = row, radii in pixels), best first.

    ``threshold`` is the score where findings start (the model's operating point, or the ``min_score``
    asked for); ``None`` when the model has none and none was asked for. ``reason`` says why then.
    """

    image_id: str
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    score: np.ndarray
    boxes: np.ndarray | None = None
    threshold: float | None = None
    reason: str | None = None
    source: Path | None = None

    @classmethod
    def of(cls, found: data.Detections, threshold: float | None, reason: str | None = None,
           source: Path | None = None) -> Detections:
        order = np.argsort(-found.score, kind="stable")
        boxes = None if found.boxes is None else found.boxes[order]
        xyr = found.xyr[order]
        return cls(found.image_id or "", xyr[:, 0], xyr[:, 1], xyr[:, 2], found.score[order], boxes, threshold,
                   reason, source)

    def __len__(self) -> int:
        return len(self.score)

    @property
    def is_finding(self) -> np.ndarray:
        """True where a detection scores at least :attr:`threshold` (every one when there is no threshold)."""
        return self.score >= (-np.inf if self.threshold is None else self.threshold)

    def findings(self) -> Detections:
        """The detections at or above the operating point: what a reader is shown."""
        if self.threshold is None:
            raise CalcdetUserError(f"{self.image_id}: no operating point ({self.reason or 'none was chosen'}); "
                                   "detect with min_score=SCORE, or use every detection")
        keep = self.is_finding
        return Detections(self.image_id, self.x[keep], self.y[keep], self.radius[keep], self.score[keep],
                          None if self.boxes is None else self.boxes[keep], self.threshold, self.reason, self.source)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per detection with the columns of ``calcdet detect``'s CSV."""
        columns = self._columns()
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]

    def to_dataframe(self) -> pandas.DataFrame:
        """A pandas DataFrame with the columns of ``calcdet detect``'s CSV (pandas is optional:
        ``pip install pandas``)."""
        try:
            import pandas
        except ImportError:
            raise CalcdetUserError("Detections.to_dataframe needs pandas: pip install pandas "
                                   "(or use to_records())") from None
        return pandas.DataFrame(self._columns())

    def _columns(self) -> dict[str, Any]:
        n = len(self)
        columns: dict[str, Any] = dict(zip(COLUMNS, ([self.image_id] * n, self.x, self.y, self.radius, self.score),
                                           strict=True))
        if self.boxes is not None:
            columns.update(zip(BOX_COLUMNS, self.boxes.T, strict=True))
        if self.threshold is not None:
            columns[FINDING_COLUMN] = self.is_finding
        return {k: list(v) if k == "image_id" else np.asarray(v).tolist() for k, v in columns.items()}

    def __repr__(self) -> str:
        point = "no operating point" if self.threshold is None else (
            f"{int(np.count_nonzero(self.is_finding))} findings at score >= {self.threshold:.4g}")
        return f"Detections({self.image_id!r}: {len(self)} detections, {point})"
