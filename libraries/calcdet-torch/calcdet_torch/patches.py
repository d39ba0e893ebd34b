"""Training patches from an image stream: positives centred on targets, negatives inside the breast (numpy only).

Positives are centred on annotated MCs with a uniform jitter; negatives are drawn anew every
epoch inside the breast mask, away from every target, at ``negative_ratio`` negatives per
positive over the whole stream (images without any MC included), so the net sees a fresh
share of the whole pool of negatives each epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_core.api import ImageStream, TrainingImage


@dataclass(frozen=True)
class PatchSpec:
    """How patches are cut and labelled."""

    size: int
    negative_ratio: float = 10.0
    jitter: float = 2.0
    exclusion: float = 8.0
    """A negative's centre lies farther than this from every target, px."""


def zscore(patches: np.ndarray) -> np.ndarray:
    """Each patch (the last two axes) as z-scores of its own pixels; a flat patch comes back centred."""
    patches = np.asarray(patches, np.float32)
    mean = patches.mean(axis=(-2, -1), keepdims=True)
    std = patches.std(axis=(-2, -1), keepdims=True)
    return ((patches - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def standardised(pixels: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The image as z-scores of the breast's own pixels (all pixels without a mask): contrast, not exposure."""
    pixels = np.asarray(pixels, np.float32)
    inside = pixels[mask] if mask is not None and mask.any() else pixels
    std = float(inside.std())
    return ((pixels - float(inside.mean())) / (std if std > 0 else 1.0)).astype(np.float32)


def target_centres(image: TrainingImage) -> np.ndarray:
    """(K, 2) target centres (x, y) of a working-grid image."""
    return np.array([(t.x, t.y) for t in image.annotation.targets], np.float64).reshape(-1, 2)


def negative_counts(stream: ImageStream, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Negatives per image for one epoch: ``ratio`` times all positives, spread evenly at random over the images."""
    positives = sum(len(e.annotation.targets) for e in stream.entries)
    total = round(ratio * max(positives, 1))
    if not len(stream):
        return np.zeros(0, int)
    return rng.multinomial(total, np.full(len(stream), 1 / len(stream)))


def cut(pixels: np.ndarray, centres: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size) patches whose centres ((size - 1) / 2 inside) lie at ``centres`` (x, y), edges mirrored.

    The patch of a centre starts at ``round(c - (size - 1) / 2)``: the geometry the dense map uses.
    """
    pad = size
    padded = np.pad(pixels, pad, mode="symmetric")
    starts = np.rint(np.asarray(centres, np.float64).reshape(-1, 2) - (size - 1) / 2).astype(int) + pad
    h, w = padded.shape
    starts[:, 0] = np.clip(starts[:, 0], 0, w - size)
    starts[:, 1] = np.clip(starts[:, 1], 0, h - size)
    out = np.empty((len(starts), size, size), np.float32)
    for k, (x0, y0) in enumerate(starts):
        out[k] = padded[y0 : y0 + size, x0 : x0 + size]
    return out


def far_from(points: np.ndarray, targets: np.ndarray, distance: float) -> np.ndarray:
    """(N,) bool: which (x, y) ``points`` lie farther than ``distance`` from every target."""
    near = np.zeros(len(points), bool)
    for tx, ty in targets:
        near |= np.hypot(points[:, 0] - tx, points[:, 1] - ty) <= distance
    return ~near


def sample_image(image: TrainingImage, spec: PatchSpec, negatives: int, rng: np.random.Generator,
                 normalise: str = "breast", hard: np.ndarray | None = None, hard_share: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Patches (N, S, S) and labels (N,) of one image: every target (jittered) and ``negatives`` breast positions.

    ``normalise`` is ``"breast"`` (the image as z-scores of its breast, then cut) or ``"patch"``
    (each patch as z-scores of its own pixels, as the study did). ``hard`` (K, 2) are candidate
    centres (x, y), e.g. a proposer's: ``round(hard_share * negatives)`` negatives are drawn from
    those farther than ``spec.exclusion`` from every target, the rest anywhere in the breast.
    """
    pixels = np.asarray(image.pixels, np.float32)
    mask = np.ones(pixels.shape, bool) if image.mask is None else np.asarray(image.mask, bool)
    targets = target_centres(image)
    positives = targets + rng.uniform(-spec.jitter, spec.jitter, targets.shape)
    ys, xs = np.nonzero(mask)
    picks = np.column_stack([xs, ys]).astype(np.float64)
    if len(targets) and len(picks):
        picks = picks[far_from(picks, targets, spec.exclusion)]
    hard = np.zeros((0, 2)) if hard is None else np.asarray(hard, np.float64).reshape(-1, 2)
    hard = hard[far_from(hard, targets, spec.exclusion)]
    n_hard = min(round(hard_share * negatives), negatives) if len(hard) else 0
    anywhere = negatives - n_hard
    chosen = picks[rng.integers(0, len(picks), anywhere)] if len(picks) and anywhere else np.zeros((0, 2))
    if n_hard:
        chosen = np.concatenate([chosen, hard[rng.integers(0, len(hard), n_hard)]])
    source = standardised(pixels, mask) if normalise == "breast" else pixels
    patches = cut(source, np.concatenate([positives, chosen]), spec.size)
    if normalise == "patch":
        patches = zscore(patches)
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(chosen))]).astype(np.float32)
    return patches, labels


@dataclass(frozen=True)
class Augment:
    """Random flips, 90-degree rotations, and contrast and brightness changes of z-scored patches."""

    contrast: float = 0.2
    brightness: float = 0.2

    def __call__(self, patches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(patches, np.float32, copy=True)
        n = len(out)
        flip_x, flip_y, turns = rng.random(n) < 0.5, rng.random(n) < 0.5, rng.integers(0, 4, n)
        out[flip_x] = out[flip_x, :, ::-1]
        out[flip_y] = out[flip_y, ::-1, :]
        for k in range(1, 4):
            out[turns == k] = np.rot90(out[turns == k], k, axes=(1, 2))
        gain = rng.uniform(1 - self.contrast, 1 + self.contrast, (n, 1, 1))
        shift = rng.uniform(-self.brightness, self.brightness, (n, 1, 1))
        return (out * gain + shift).astype(np.float32)


class EpochPatches:
    """A map-style dataset (``DataLoader`` ready): item ``k`` is image ``k``'s patches, drawn with its own seed.

    The seeds come from the epoch's generator, so the patches do not depend on how many
    worker processes read the images.
    """

    def __init__(self, stream: ImageStream, spec: PatchSpec, rng: np.random.Generator, normalise: str = "breast",
                 hard: list[np.ndarray] | None = None, hard_share: float = 0.0):
        """``hard``: per image, candidate centres for hard negatives (see :func:`sample_image`)."""
        self.stream, self.spec, self.normalise = stream, spec, normalise
        self.hard, self.hard_share = hard, hard_share
        self.negatives = negative_counts(stream, spec.negative_ratio, rng)
        self.seeds = rng.integers(2**63, size=len(stream))

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seeds[k])
        return sample_image(self.stream.draw(k, rng), self.spec, int(self.negatives[k]), rng,
                            self.normalise, None if self.hard is None else self.hard[k], self.hard_share)
