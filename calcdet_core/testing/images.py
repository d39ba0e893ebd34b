"""Synthetic images for the kit's checks: textured backgrounds with bright disks, breast-like masks.

Generated on the fly and seeded, so a check is reproducible without any data on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import Annotation, Target
from calcdet_core.contracts.training import ImageStream, TrainingImage


def textured_background(shape: tuple[int, int], seed: int = 0, beta: float = 3.0, level: float = 0.35,
                        contrast: float = 0.04) -> np.ndarray:
    """Smooth power-law (1/f^beta) texture in [0, 1], like breast parenchyma at small scale."""
    rng = np.random.default_rng(seed)
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (beta / 2)
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=shape)
    field = (field - field.mean()) / (field.std() + 1e-12)
    return np.clip(level + contrast * field, 0, 1).astype(np.float32)


def add_disks(image: np.ndarray, disks: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """Add bright, slightly blurred disks ``(x, y, radius, contrast)`` to a copy of ``image``."""
    out = image.astype(np.float32).copy()
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    for x, y, r, contrast in disks:
        d = np.hypot(xx - x, yy - y)
        out += contrast * np.clip(r + 0.5 - d, 0, 1).astype(np.float32)
    return np.clip(out, 0, 1)


def disk_test_image(size: int = 128, radius: float = 4.0, seed: int = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """A textured image with one bright disk; returns the image and the disk centre (x, y)."""
    centre = (size * 0.55, size * 0.45)
    image = add_disks(textured_background((size, size), seed), [(centre[0], centre[1], radius, 0.35)])
    return image, centre



def bright_object_scene(seed: int, size: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clean image, the same with a clip, breast mask, and the MC centres (24 disks, radius 1.5-3 px).

    The tissue tops out near 0.33 and the MCs near 0.45; the clip is a saturated 40x15 px rectangle
    (1.0, three times the tissue maximum) inside the breast, 40+ px from every MC. Copies of a cached
    scene: each takes most of a second to draw, and every configuration checked reuses them.
    """
    clean, bright, mask, centres = _bright_object_scene(seed, size)
    return clean.copy(), bright.copy(), mask.copy(), centres.copy()


@lru_cache(maxsize=8)
def _bright_object_scene(seed: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = breast_like_mask((size, size))
    clip = (slice(40, 55), slice(30, 70))
    ys, xs = np.nonzero(mask)
    disks: list[tuple[float, float, float, float]] = []
    for i in rng.permutation(len(xs)):
        x, y = int(xs[i]), int(ys[i])
        near_clip = y < clip[0].stop + 40 and x < clip[1].stop + 40
        if near_clip or not mask[y - 12:y + 13, x - 12:x + 13].all():
            continue
        if all(np.hypot(x - a, y - b) >= 16 for a, b, _, _ in disks):
            disks.append((x, y, rng.uniform(1.5, 3.0), rng.uniform(0.05, 0.15)))
        if len(disks) == 24:
            break
    clean = add_disks(textured_background((size, size), seed=seed, level=0.25, contrast=0.03), disks) * mask
    bright = clean.copy()
    bright[clip] = 1.0
    return clean, bright, mask, np.array([d[:2] for d in disks])



DETECTOR_IMAGE_SIZE = 80
"""Side of the kit's detector images: tiny, so a fit takes seconds; a real detector pads or tiles them."""


def breast_like_mask(shape: tuple[int, int]) -> np.ndarray:
    """A half-ellipse against the left edge, like a breast on the working grid (chest wall left)."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    return (xx / (0.8 * w)) ** 2 + ((yy - (h - 1) / 2) / (0.55 * h)) ** 2 <= 1.0


def detector_test_image(seed: int, n_disks: int = 3, size: int = DETECTOR_IMAGE_SIZE,
                        image_id: str | None = None) -> TrainingImage:
    """A textured image with ``n_disks`` bright disks (radius 2-3.5 px, 16+ px apart) inside a breast-like mask."""
    rng = np.random.default_rng([seed, 7])
    mask = breast_like_mask((size, size))
    allowed = _eroded(mask, 6)
    allowed[:6], allowed[-6:], allowed[:, :6] = False, False, False
    ys, xs = np.nonzero(allowed)
    disks: list[tuple[float, float, float, float]] = []
    for i in rng.permutation(len(xs)):
        if len(disks) == n_disks:
            break
        x, y = float(xs[i]), float(ys[i])
        if all(np.hypot(x - dx, y - dy) >= 16 for dx, dy, _, _ in disks):
            disks.append((x, y, float(rng.uniform(2.0, 3.5)), 0.3))
    pixels = add_disks(textured_background((size, size), seed=seed), disks)
    targets = tuple(Target(x, y, 2 * r) for x, y, r, _ in disks)
    image_id = image_id or f"kit-{seed}"
    return TrainingImage(image_id, f"patient-{image_id}", pixels, mask, Annotation(targets=targets), (0.07, 0.07))


def _eroded(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        out[1:-1, 1:-1] &= out[:-2, 1:-1] & out[2:, 1:-1] & out[1:-1, :-2] & out[1:-1, 2:]
        out[[0, -1]], out[:, [0, -1]] = False, False
    return out


def write_detector_dataset(root: Path, images: int = 12, size: int = 112) -> dict[str, list[tuple[float, float]]]:
    """A `folder`-adapter dataset of DICOMs for a detector's command-line test; returns each image's MC centres.

    Each image is a :func:`detector_test_image` breast beside a black strip, three MCs each; every
    second one is a right breast stored mirrored, so `calcdet train`/`detect` crop and flip it and the
    test checks the detections come back in the stored grid.
    """
    from calcdet_core.io.dicom import write_dicom

    rows = ["image,x,y,diameter,patient"]
    truth = {}
    for i in range(images):
        left = i % 2 == 0
        image = detector_test_image(seed=200 + i, size=size)
        pixels = image.pixels if left else image.pixels[:, ::-1]
        stored = (np.clip(pixels, 0, 1) * 12000 + 500).astype(np.uint16)
        stored[~(image.mask if left else image.mask[:, ::-1])] = 0
        name = f"case{i:02d}_{'L' if left else 'R'}_CC"
        write_dicom(Path(root) / f"{name}.dcm", stored, laterality="L" if left else "R", view="CC", patient_id=f"p{i}")
        targets = image.annotation.targets
        truth[name] = [(t.x if left else size - 1 - t.x, t.y) for t in targets]
        rows += [f"{name},{x},{y},{t.diameter},p{i}" for (x, y), t in zip(truth[name], targets, strict=True)]
    (Path(root) / "annotations.csv").write_text("\n".join(rows) + "\n")
    return truth


def detector_streams(normal_validation: bool = False) -> tuple[ImageStream, ImageStream]:
    """The kit's training data: five images (one normal) to train on, two to validate on (and, with
    ``normal_validation``, a normal one: what a validation FROC needs)."""
    train = [detector_test_image(seed, n_disks=0 if seed == 4 else 3) for seed in range(5)]
    validation = [detector_test_image(seed) for seed in (10, 11)]
    validation += [detector_test_image(12, n_disks=0)] if normal_validation else []
    return ImageStream.from_images(train), ImageStream.from_images(validation)


