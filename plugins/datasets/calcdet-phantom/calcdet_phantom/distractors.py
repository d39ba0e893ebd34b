"""Structures that fool MC detectors and are not MCs: vascular speck lines, skin folds, dust, clips, markers.

None of them is a target or an ignore region: a detection on one is a false positive, as on a real
mammogram. Each is returned as a :class:`Distractor` (its kind and its outline or centre-line) so
the release can list them beside the truth. Everything is drawn in the left frame into the
attenuation layer that the synthesiser blurs by the MTF; amounts are attenuation line integrals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from calcdet_phantom.anatomy import Anatomy
from calcdet_phantom.families import Distractors
from calcdet_phantom.fields import smooth, splat
from calcdet_phantom.lesions import random_shape, render

METAL = 8.0
"""Attenuation of metal relative to a calcium grain of the same thickness (clips, markers saturate)."""
FOLD_SIGMA_PX = 2.0
"""Half-width of a skin fold's ridge."""


@dataclass(frozen=True)
class Distractor:
    """A kind (``vascular``, ``skin_fold``, ``dust``, ``clip``, ``marker``) and its points: an outline for a
    compact object, the centre-line for a fold, the speck centres for a vascular line."""

    kind: str
    points: np.ndarray


Clear = Callable[[float, float], bool]
"""Whether a point is far enough from every MC to put a distractor there."""


def _spot(anatomy: Anatomy, rng: np.random.Generator, radius: tuple[float, float], clear: Clear,
          off_muscle: bool = True) -> tuple[float, float] | None:
    """A random point inside the breast whose normalised radius lies in ``radius``, clear of the MCs."""
    h, w = anatomy.mask.shape
    for _ in range(200):
        x, y = rng.uniform(8, w - 9), rng.uniform(8, h - 9)
        r = anatomy.radius[int(y), int(x)]
        if radius[0] <= r < radius[1] and not (off_muscle and anatomy.pectoral[int(y), int(x)]) and clear(x, y):
            return float(x), float(y)
    return None


def _speck_line(anatomy: Anatomy, rng: np.random.Generator, layer: np.ndarray, pixel_mm: float, calcium: float,
                clear: Clear) -> Distractor | None:
    """Separate calcium specks, MC-sized, along one wall of a stretch of vessel."""
    if not anatomy.vessels:
        return None
    path, radius = anatomy.vessels[int(rng.integers(len(anatomy.vessels)))]
    start = int(rng.integers(0, max(len(path) // 2, 1)))
    stretch = path[start : start + max(int(len(path) * rng.uniform(0.2, 0.5)), 3)]
    tangent = np.gradient(stretch, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None] + 1e-9
    wall = stretch + rng.choice([-1, 1]) * max(radius * 0.5, 3.0) * np.stack([-tangent[:, 1], tangent[:, 0]], 1)
    step = np.hypot(*np.diff(wall, axis=0).T)
    along = np.concatenate([[0], np.cumsum(step)])
    centres = []
    s = rng.uniform(0, 1) / pixel_mm
    while s < along[-1]:
        x, y = np.interp(s, along, wall[:, 0]), np.interp(s, along, wall[:, 1])
        if anatomy.mask[int(y), int(x)] and clear(x, y):
            shape = random_shape(x, y, rng.uniform(0.15, 0.5) / pixel_mm, rng, elongation=rng.uniform(1.0, 1.8))
            render(layer, shape, calcium * rng.uniform(0.5, 1.0))
            centres.append((x, y))
        s += rng.uniform(0.6, 1.8) / pixel_mm
    return Distractor("vascular", np.asarray(centres)) if len(centres) >= 3 else None


def _skin_fold(anatomy: Anatomy, rng: np.random.Generator, folds: np.ndarray, pixel_mm: float) -> Distractor | None:
    """A curved band of doubled skin near the skin line, running along it (a soft ridge with a sharp core)."""
    spot = _spot(anatomy, rng, (0.8, 0.95), lambda x, y: True)
    if spot is None:
        return None
    x, y = spot
    h, w = anatomy.radius.shape
    xi, yi = int(x), int(y)
    gy = anatomy.radius[min(yi + 2, h - 1), xi] - anatomy.radius[max(yi - 2, 0), xi]
    gx = anatomy.radius[yi, min(xi + 2, w - 1)] - anatomy.radius[yi, max(xi - 2, 0)]
    angle = np.arctan2(gx, -gy) + rng.normal(0, 0.2)  # along the skin line (perpendicular to the gradient)
    length = rng.uniform(15, 40) / pixel_mm
    t = np.arange(-length / 2, length / 2, 0.5)
    bend = rng.uniform(-1, 1) / length
    line = np.stack([x + t * np.cos(angle) - bend * t**2 * np.sin(angle),
                     y + t * np.sin(angle) + bend * t**2 * np.cos(angle)], 1)
    line = line[(line[:, 0] >= 0) & (line[:, 0] < w) & (line[:, 1] >= 0) & (line[:, 1] < h)]
    if len(line) < 10:
        return None
    peak = rng.uniform(0.08, 0.2)  # extra attenuation on the ridge; points every 0.5 px, blurred by FOLD_SIGMA_PX
    splat(folds, line, np.full(len(line), peak * np.sqrt(2 * np.pi) * FOLD_SIGMA_PX / 2, np.float32))
    return Distractor("skin_fold", line[:: max(len(line) // 32, 1)].astype(np.float64))


def _compact(kind: str, anatomy: Anatomy, rng: np.random.Generator, layer: np.ndarray, pixel_mm: float,
             calcium: float, clear: Clear) -> Distractor | None:
    """Dust (a tiny sharp speck anywhere), a clip (a metal bar) or a skin marker (a metal bead or ring)."""
    lucent = 0.0
    if kind == "dust":
        spot, diameter = _spot(anatomy, rng, (0.0, 0.98), clear, off_muscle=False), rng.uniform(0.05, 0.15) / pixel_mm
        amplitude, elongation, roughness = calcium * rng.uniform(2, 4), rng.uniform(1.0, 2.5), 0.3
    elif kind == "clip":
        spot, diameter = _spot(anatomy, rng, (0.1, 0.8), clear), rng.uniform(3, 6) / pixel_mm
        amplitude, elongation, roughness = calcium * METAL, rng.uniform(4, 7), 0.02
    else:
        spot, diameter = _spot(anatomy, rng, (0.85, 0.96), clear, off_muscle=False), rng.uniform(1.5, 3) / pixel_mm
        amplitude, elongation, roughness = calcium * METAL, 1.0, 0.02
        lucent = 0.95 if rng.random() < 0.5 else 0.0
    if spot is None:
        return None
    shape = random_shape(*spot, diameter, rng, roughness=roughness, elongation=elongation)
    render(layer, shape, amplitude, supersample=2 if diameter > 8 else 4, lucent=lucent)
    return Distractor(kind, shape.polygon(16))


def add_distractors(anatomy: Anatomy, rng: np.random.Generator, rates: Distractors, layer: np.ndarray,
                    pixel_mm: float, calcium: float, clear: Clear) -> list[Distractor]:
    """Draw each kind a Poisson number of times (its rate); return what was drawn, in the left frame."""
    found: list[Distractor | None] = []
    for _ in range(rng.poisson(rates.speck_lines)):
        found.append(_speck_line(anatomy, rng, layer, pixel_mm, calcium, clear))
    folds = np.zeros_like(layer)
    for _ in range(rng.poisson(rates.skin_folds)):
        found.append(_skin_fold(anatomy, rng, folds, pixel_mm))
    if folds.any():
        layer += smooth(folds, FOLD_SIGMA_PX)
    for kind, rate in (("dust", rates.dust), ("clip", rates.clips), ("marker", rates.markers)):
        for _ in range(rng.poisson(rate)):
            found.append(_compact(kind, anatomy, rng, layer, pixel_mm, calcium, clear))
    return [d for d in found if d is not None]
