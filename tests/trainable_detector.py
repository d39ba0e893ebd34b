"""A small trainable detector and a synthetic dataset, as a third-party plugin would ship them.

``threshold-test`` learns, epoch by epoch, the contrast level (a 3x3 mean minus a 15x15 mean)
that separates microcalcification centres from breast background, reading the training
images one at a time from the stream, checkpointing after every epoch and resuming from the
last checkpoint. ``synthetic-test`` indexes a folder holding ``dataset.json``
(``{"images": N, "size": S}``) into N generated S x S mammograms whose pixels are made only
when read. This module is also the entry point of a distribution the CLI tests put on the
path, so ``calcdet train`` in a subprocess finds both.
"""

from __future__ import annotations

import json
import os
import time
from functools import partial
from pathlib import Path

import numpy as np
from pydantic import Field

from calcdet_core.api import (
    Annotation,
    ComponentConfig,
    Dataset,
    DatasetAdapter,
    Detections,
    Detector,
    ImageRecord,
    ImageStream,
    Mammogram,
    Target,
    TrainingContext,
    hookimpl,
    load_arrays,
    save_arrays,
)

HOLD_ENV = "CALCDET_TEST_HOLD_AFTER_EPOCH"
"""When set to an epoch number, training waits after that epoch's checkpoint (for a test to kill it there)."""

STATE_FILE = "threshold.safetensors"
MATCH_PX = 4.0


# --------------------------------------------------------------------------- image arithmetic


def box_mean(image: np.ndarray, half: int) -> np.ndarray:
    """Mean over the (2 half + 1)^2 box around every pixel (edges repeated)."""
    k = 2 * half + 1
    padded = np.pad(np.asarray(image, np.float64), ((half + 1, half), (half + 1, half)), mode="edge")
    c = padded.cumsum(0).cumsum(1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def contrast(image: np.ndarray) -> np.ndarray:
    """How much brighter a 3x3 spot is than its 15x15 surroundings."""
    return box_mean(image, 1) - box_mean(image, 7)


def local_peaks(values: np.ndarray, mask: np.ndarray | None, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the 3x3 maxima above ``level`` inside ``mask``."""
    padded = np.pad(values, 1, mode="constant", constant_values=-np.inf)
    h, w = values.shape
    neighbours = np.max([padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
                         for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx], axis=0)
    keep = (values > level) & (values >= neighbours)
    if mask is not None:
        keep &= mask
    return np.nonzero(keep)


def _extent(profile: np.ndarray, centre: int, level: float) -> tuple[int, int]:
    """How far the profile stays above ``level`` on each side of ``centre``."""
    low = centre
    while low > 0 and profile[low - 1] > level:
        low -= 1
    high = centre
    while high < len(profile) - 1 and profile[high + 1] > level:
        high += 1
    return centre - low, high - centre


def target_points(annotation: Annotation) -> np.ndarray:
    return np.array([[t.x, t.y] for t in annotation.targets], dtype=np.float64).reshape(-1, 2)


# --------------------------------------------------------------------------- the detector


class ThresholdConfig(ComponentConfig):
    """How long and how fast the level is learned."""

    epochs: int = Field(3, ge=1, description="Passes over the training stream.")
    rate: float = Field(0.6, gt=0, le=1, description="Fraction of the way the level moves toward each "
                        "epoch's estimate (midway between MC contrast and the background's 99th percentile).")
    negatives_per_image: int = Field(256, ge=1, description="Background pixels sampled per image and epoch.")
    max_detections: int = Field(200, ge=1, description="Most detections kept per image, by contrast.")
    batch_size: int = Field(1, ge=1, le=64, description="Images per detect_batch call.")


class ThresholdDetector(Detector):
    name = "threshold-test"
    description = "Local-contrast maxima above a level learned over epochs (a test detector)."
    Config = ThresholdConfig

    def __init__(self, config: ThresholdConfig | None = None, **params: object) -> None:
        super().__init__(config, **params)
        self.level_: float | None = None
        self.device_ = "cpu"

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    # ------------------------------------------------------------------ learning

    def _samples(self, pixels: np.ndarray, mask: np.ndarray | None, annotation: Annotation,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        values = contrast(pixels)
        h, w = values.shape
        targets = target_points(annotation)
        cols = np.clip(np.rint(targets[:, 0]).astype(int), 0, w - 1)
        rows = np.clip(np.rint(targets[:, 1]).astype(int), 0, h - 1)
        positives = np.array([values[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].max()
                              for r, c in zip(rows, cols, strict=True)])
        inside = np.flatnonzero(mask.ravel()) if mask is not None else np.arange(h * w)
        picks = inside[rng.integers(0, len(inside), self.config.negatives_per_image)]
        py, px = np.divmod(picks, w)
        if len(targets):
            far = np.hypot(px[:, None] - targets[None, :, 0], py[:, None] - targets[None, :, 1]).min(axis=1) > 6
            py, px = py[far], px[far]
        return positives, values[py, px]

    def _validate(self, validation: ImageStream, level: float) -> dict[str, float]:
        hits = targets = false = 0
        for image in validation:
            found = self._detect(image.pixels, image.mask, level)
            points = target_points(image.annotation)
            near = np.hypot(found.x[:, None] - points[None, :, 0], found.y[:, None] - points[None, :, 1]) <= MATCH_PX
            hits += int(near.any(axis=0).sum())
            targets += len(points)
            false += int((~near.any(axis=1)).sum()) if len(points) else len(found)
        if not len(validation):
            return {}
        return {"val_sensitivity": hits / targets if targets else 0.0, "val_fp_per_image": false / len(validation)}

    def fit(self, train: ImageStream, validation: ImageStream, context: TrainingContext) -> ThresholdDetector:
        cfg = self.config
        checkpoint = context.last_checkpoint()
        level = float(checkpoint.arrays["level"][0]) if checkpoint else 0.0
        for epoch in range(checkpoint.epoch + 1 if checkpoint else 1, cfg.epochs + 1):
            rng = context.rng(epoch)
            positives, negatives = [], []
            with context.reporter.progress(f"epoch {epoch}/{cfg.epochs}", total=len(train)) as task:
                for image in train:
                    pos, neg = self._samples(image.pixels, image.mask, image.annotation, rng)
                    positives.append(pos)
                    negatives.append(neg)
                    task.advance()
            pos, neg = np.concatenate(positives), np.concatenate(negatives)
            background = float(np.quantile(neg, 0.99))
            estimate = (float(np.median(pos)) + background) / 2 if len(pos) else background
            level += cfg.rate * (estimate - level)
            loss = 0.5 * (float((pos <= level).mean()) if len(pos) else 0.0) + 0.5 * float((neg > level).mean())
            context.reporter.log_epoch(epoch, loss=loss, level=level, **self._validate(validation, level))
            context.save_checkpoint(epoch, {"level": np.array([level])})
            if os.environ.get(HOLD_ENV) == str(epoch):
                time.sleep(300)
        history = context.reporter.history
        best = max(history, key=lambda row: row.get("val_sensitivity", 0.0) - 0.05 * row.get("val_fp_per_image", 0.0))
        context.reporter.record(best_epoch=int(best["epoch"]), level=level, train_images=len(train))
        self.level_ = level
        return self

    # ------------------------------------------------------------------ state

    def save_state(self, directory: Path) -> list[Path]:
        if self.level_ is None:
            return []
        return [save_arrays(Path(directory) / STATE_FILE, {"level": np.array([self.level_])})]

    def load_state(self, directory: Path) -> None:
        self.level_ = float(load_arrays(Path(directory) / STATE_FILE)["level"][0])

    def to_device(self, device: str) -> None:
        self.device_ = device  # numpy computes on the CPU wherever asked; the request is kept for the tests

    # ------------------------------------------------------------------ detection

    def _detect(self, pixels: np.ndarray, mask: np.ndarray | None, level: float) -> Detections:
        values = contrast(pixels)
        rows, cols = local_peaks(values, mask, level)
        order = np.argsort(-values[rows, cols], kind="stable")[: self.config.max_detections]
        rows, cols = rows[order], cols[order]
        boxes, radii = [], []
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            left, right = _extent(values[r], c, level / 2)
            up, down = _extent(values[:, c], r, level / 2)
            boxes.append((c - left - 0.5, r - up - 0.5, c + right + 0.5, r + down + 0.5))
            radii.append(max(left, right, up, down) + 0.5)
        xyr = np.column_stack([cols, rows, radii]).astype(np.float64).reshape(-1, 3)
        return Detections(xyr, values[rows, cols], boxes=np.array(boxes, dtype=np.float64).reshape(-1, 4))

    def detect(self, image: np.ndarray, mask: np.ndarray | None = None) -> Detections:
        if self.level_ is None:
            raise ValueError(f"{self.name}: detect() called before fit() or load_state()")
        return self._detect(np.asarray(image), mask, self.level_)


class ForgetfulDetector(ThresholdDetector):
    """Learns like ``threshold-test`` but saves nothing: a model directory must refuse it."""

    name = "forgetful-test"

    def save_state(self, directory: Path) -> list[Path]:
        return []


# --------------------------------------------------------------------------- the dataset


def synthetic_truth(i: int, size: int) -> tuple[tuple[float, float], ...]:
    """Centres of image ``i``'s microcalcifications (every fourth image is normal)."""
    if i % 4 == 3:
        return ()
    rng = np.random.default_rng(500 + i)
    strip = size // 8
    return tuple((float(rng.uniform(strip + 12, size - 12)), float(rng.uniform(12, size - 12))) for _ in range(6))


def synthetic_mammogram(i: int, size: int) -> Mammogram:
    """A 14-bit image: a noisy breast right of a black strip, with small bright disks at the truth."""
    rng = np.random.default_rng(i)
    image = rng.normal(0.4, 0.05, (size, size))
    yy, xx = np.mgrid[0:size, 0:size]
    for x, y in synthetic_truth(i, size):
        x0, y0 = int(x) - 4, int(y) - 4
        window = (slice(y0, y0 + 9), slice(x0, x0 + 9))
        image[window] += 0.12 * (np.hypot(xx[window] - x, yy[window] - y) <= 2.0)
    stored = (np.clip(image, 0, 1) * 16000 + 200).astype(np.uint16)
    stored[:, : size // 8] = 0
    return Mammogram(stored, f"img{i:03d}", spacing_mm=(0.07, 0.07), laterality="L")


def synthetic_records(count: int, size: int) -> list[ImageRecord]:
    return [ImageRecord(f"img{i:03d}", f"p{i:03d}", Path(f"img{i:03d}"),
                        Annotation(targets=tuple(Target(x, y, 4.0) for x, y in synthetic_truth(i, size))),
                        read=partial(synthetic_mammogram, i, size), laterality="L") for i in range(count)]


def write_dataset(root: Path, images: int, size: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps({"images": images, "size": size}))
    return root


class SyntheticDataset(DatasetAdapter):
    name = "synthetic-test"
    description = "Generated mammograms described by ROOT/dataset.json (a test dataset)."

    def index(self, root: Path) -> Dataset:
        spec = json.loads((Path(root) / "dataset.json").read_text())
        return Dataset(self.name, Path(root), synthetic_records(int(spec["images"]), int(spec["size"])))


calcdet_contract = 2


@hookimpl
def calcdet_register_detectors() -> list[type[Detector]]:
    return [ThresholdDetector]


@hookimpl
def calcdet_register_datasets() -> list[type[DatasetAdapter]]:
    return [SyntheticDataset]
