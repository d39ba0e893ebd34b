"""The breast itself: outline, compressed thickness, parenchyma, pectoral muscle, vessels.

Everything is drawn in the *left* frame (chest wall at x = 0); the synthesiser mirrors
right breasts afterwards, as scanners store them. Quantities are x-ray attenuation
line integrals (dimensionless), so objects add up like they do physically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_phantom.families import Texture
from calcdet_phantom.fields import power_law_field, smooth, splat, upsample

COARSE = 4
"""Smooth maps (outline, vessels, masses) are computed on a grid this many times coarser."""

DENSITY_BIAS = {1: -1.9, 2: -0.9, 3: 0.0, 4: 1.0}
"""Offset of the glandular field before the soft threshold, per ACR density class."""
DEFAULT_TEXTURE = Texture()


@dataclass(frozen=True)
class Outline:
    """Breast geometry in the left frame, in pixels."""

    cy: float
    a: float
    b_up: float
    b_down: float
    wobble: np.ndarray  # Fourier coefficients of the outline's irregularity
    pectoral: tuple[float, float, float] | None  # (x at top, y at chest wall, bend) for MLO

    def normalised_radius(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """0 at the chest-wall centre, 1 on the skin line (``x``, ``y`` are 2-D)."""
        dy = y - self.cy
        b = np.where(dy < 0, self.b_up, self.b_down)
        theta = np.arctan2(dy / b, x / self.a)
        k = np.arange(1, len(self.wobble) // 2 + 1, dtype=np.float32)[:, None, None]
        ripple = 1 + np.sum(self.wobble[0::2, None, None] * np.cos(k * theta)
                            + self.wobble[1::2, None, None] * np.sin(k * theta), axis=0)
        return np.hypot(x / self.a, dy / b) / ripple

    def pectoral_depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """How far inside the pectoral muscle a point is (>0 inside, in pixels); -inf for CC."""
        if self.pectoral is None:
            return np.full(x.shape, -np.inf, np.float32)
        xt, yc, bend = self.pectoral
        edge = xt * np.clip(1 - y / yc, 0, None) ** bend
        return edge - x


def random_outline(height: int, width: int, view: str, rng: np.random.Generator) -> Outline:
    wobble = rng.normal(0, 0.012, 8).astype(np.float32)
    if view == "CC":
        return Outline(cy=height * rng.uniform(0.46, 0.54), a=width * rng.uniform(0.74, 0.9),
                       b_up=height * rng.uniform(0.38, 0.45), b_down=height * rng.uniform(0.38, 0.45),
                       wobble=wobble, pectoral=None)
    cy = height * rng.uniform(0.52, 0.6)
    return Outline(cy=cy, a=width * rng.uniform(0.72, 0.88), b_up=cy * rng.uniform(1.15, 1.35),
                   b_down=height * rng.uniform(0.3, 0.37), wobble=wobble,
                   pectoral=(width * rng.uniform(0.26, 0.4), height * rng.uniform(0.45, 0.68),
                             rng.uniform(0.8, 1.25)))


@dataclass
class Anatomy:
    """Maps on the full grid: attenuation of normal tissue, breast mask and helpers for lesions."""

    attenuation: np.ndarray
    mask: np.ndarray
    radius: np.ndarray  # normalised radius (0 centre, 1 skin)
    pectoral: np.ndarray  # bool, inside the pectoral muscle
    vessels: list[tuple[np.ndarray, float]]  # centre-line (N, 2) and radius in px


def _thickness(d: np.ndarray, skin_px: np.ndarray) -> np.ndarray:
    """Compressed thickness: flat inside, rounding off over the outer 30 % toward the skin."""
    edge = np.clip((d - 0.7) / 0.3, 0, 1)
    t = np.sqrt(np.clip(1 - edge**2, 0, 1)) * 0.85 + 0.15
    skin = np.exp(-np.clip(skin_px, 0, None) / 18.0) * 0.08  # ~1.5 mm skin line
    return np.where(d < 1, t + skin, 0).astype(np.float32)


def _vessel_paths(outline: Outline, inside: callable, height: int, width: int,
                  rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """Smooth random walks from the chest wall toward the nipple; ``inside(x, y)`` is the normalised radius."""
    paths = []
    for _ in range(rng.integers(2, 7)):
        y = outline.cy + rng.uniform(-0.6, 0.6) * (outline.b_up + outline.b_down) / 2
        x = rng.uniform(0, 0.08) * outline.a
        angle = np.arctan2(outline.cy - y, outline.a) * rng.uniform(0.3, 0.8) + rng.normal(0, 0.15)
        turn = 0.0
        points = []
        for _ in range(int(1.5 * (outline.a + height) / 3)):
            points.append((x, y))
            toward_nipple = np.arctan2(outline.cy - y, outline.a - x)
            turn = 0.9 * turn + rng.normal(0, 0.006)
            angle += turn + 0.01 * (toward_nipple - angle)
            x, y = x + 3 * np.cos(angle), y + 3 * np.sin(angle)
            if not (0 <= x < width and 0 <= y < height) or inside(x, y) > 0.93:
                break
        if len(points) > 20:
            paths.append((np.asarray(points, np.float32), float(rng.uniform(0.5, 1.4) / 0.07)))
    return paths


def build_anatomy(height: int, width: int, view: str, density: int, rng: np.random.Generator,
                  texture: Texture = DEFAULT_TEXTURE) -> Anatomy:
    outline = random_outline(height, width, view, rng)
    ch, cw = max(height // COARSE, 8), max(width // COARSE, 8)
    sy, sx = height / ch, width / cw
    yc, xc = np.mgrid[:ch, :cw].astype(np.float32)
    xc, yc = (xc + 0.5) * sx - 0.5, (yc + 0.5) * sy - 0.5
    d = outline.normalised_radius(xc, yc).astype(np.float32)
    r = np.hypot(xc, yc - outline.cy)
    thickness = _thickness(d, r * (1 / np.maximum(d, 1e-3) - 1))
    pect = smooth((outline.pectoral_depth(xc, yc) > 0).astype(np.float32), 6 / COARSE) * (d < 1)
    envelope = np.clip((0.9 - d) / 0.35, 0, 1) * (1 - pect)

    def radius_at(x: float, y: float) -> float:
        return float(d[min(int(y / sy), ch - 1), min(int(x / sx), cw - 1)])

    vessel_layer = np.zeros((ch, cw), np.float32)
    vessels = _vessel_paths(outline, radius_at, height, width, rng)
    for path, radius in vessels:
        taper = np.linspace(1.0, 0.4, len(path), dtype=np.float32)
        single = np.zeros((ch, cw), np.float32)
        splat(single, (path + 0.5) / np.array([sx, sy], np.float32) - 0.5, taper * (3 / sx))
        vessel_layer += smooth(single, radius / 1.6 / sx) * (radius / sx) * 0.16

    mu_fat, mu_gland, mu_muscle = 2.3, 3.5, texture.muscle  # attenuation of a full compressed thickness
    coarse = {"d": d, "scale": thickness * (1 - pect), "envelope": envelope,
              "add": thickness * pect * mu_muscle + vessel_layer}
    full = {k: upsample(v.astype(np.float32), (height, width)) for k, v in coarse.items()}
    mask = full["d"] < 1

    gland = power_law_field((height, width), texture.beta, rng)
    strands = power_law_field((height, width), texture.strand_beta, rng, stretch=(texture.strand_stretch, 1.0))
    gland += texture.strand_weight * strands
    z = (gland + np.float32(DENSITY_BIAS[density]) - 2.5 * (1 - full["envelope"])) / np.float32(-texture.softness)
    fraction = 1 / (1 + np.exp(z))
    ligaments = np.exp(-((strands / np.float32(0.04)) ** 2)) * (1 - fraction)  # thin septa in the fat
    lobules = 0.05 * gland * (1 - fraction)  # fat is not uniform either
    attenuation = full["scale"] * (mu_fat + (mu_gland - mu_fat) * fraction + 0.05 * ligaments + lobules)
    attenuation += full["add"] * (1 + 0.03 * gland)
    attenuation *= mask
    return Anatomy(attenuation=attenuation.astype(np.float32, copy=False), mask=mask, radius=full["d"],
                   pectoral=full["add"] > 0.25 * mu_muscle, vessels=vessels)
