"""Calcifications and masses: irregular shapes, their rendering and their placement.

Sizes are physical (mm at the phantom's pixel spacing). A shape's projected thickness
is that of a solid whose outline is an irregular star-shaped curve, so contrast grows
with size the way a calcium grain's does; the synthesiser blurs them by the MTF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_core.api import feret_diameter, polygon_centroid
from calcdet_phantom.fields import splat


@dataclass(frozen=True)
class Shape:
    """A star-shaped outline r(θ) = radius·(1 + Σ harmonics), stretched by ``elongation``, turned by ``angle``."""

    cx: float
    cy: float
    radius: float
    harmonics: np.ndarray  # (K, 2): cos and sin weights of orders 2..K+1
    elongation: float = 1.0
    angle: float = 0.0

    def _local(self, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c, s = np.cos(self.angle), np.sin(self.angle)
        u, v = (dx * c + dy * s) / self.elongation, -dx * s + dy * c
        return np.hypot(u, v), np.arctan2(v, u)

    def boundary(self, theta: np.ndarray) -> np.ndarray:
        k = np.arange(2, len(self.harmonics) + 2)[:, None]
        t = np.asarray(theta)[None, :]
        ripple = (self.harmonics[:, :1] * np.cos(k * t) + self.harmonics[:, 1:] * np.sin(k * t)).sum(0)
        return self.radius * np.clip(1 + ripple, 0.35, None)

    def polygon(self, n: int = 32) -> np.ndarray:
        theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
        r = self.boundary(theta)
        u, v = r * np.cos(theta) * self.elongation, r * np.sin(theta)
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.stack([self.cx + u * c - v * s, self.cy + u * s + v * c], axis=1)

    def thickness(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Projected thickness (px) at points ``x, y``: an ellipsoid-like dome over the outline."""
        rho, theta = self._local(x - self.cx, y - self.cy)
        rb = self.boundary(theta.ravel()).reshape(theta.shape)
        return 2 * rb * np.sqrt(np.clip(1 - (rho / rb) ** 2, 0, None))


def random_shape(cx: float, cy: float, diameter_px: float, rng: np.random.Generator, roughness: float = 0.18,
                 elongation: float = 1.0, orders: int = 4) -> Shape:
    """An irregular shape whose polygon's Feret diameter is exactly ``diameter_px``."""
    harmonics = rng.uniform(-roughness, roughness, (orders, 2)) / np.sqrt(np.arange(1, orders + 1))[:, None]
    unit = Shape(cx, cy, 1.0, harmonics, elongation, rng.uniform(0, np.pi))
    scale = diameter_px / feret_diameter(unit.polygon())
    return Shape(cx, cy, scale, harmonics, elongation, unit.angle)


def shape_centre(shape: Shape) -> tuple[float, float]:
    return polygon_centroid(shape.polygon())


def render(layer: np.ndarray, shape: Shape, amplitude: float, supersample: int = 4, lucent: float = 0.0) -> None:
    """Add ``amplitude`` × thickness (px) of ``shape`` into ``layer``, supersampled; ``lucent`` hollows it."""
    h, w = layer.shape
    reach = shape.radius * shape.elongation * 1.6 + 2
    x0, x1 = max(int(shape.cx - reach), 0), min(int(shape.cx + reach) + 2, w)
    y0, y1 = max(int(shape.cy - reach), 0), min(int(shape.cy + reach) + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).ravel()
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).ravel()
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    t = shape.thickness(xx, yy)
    if lucent > 0:
        inner = Shape(shape.cx, shape.cy, shape.radius * 0.62, shape.harmonics, shape.elongation, shape.angle)
        t = np.clip(t - lucent * inner.thickness(xx, yy), 0, None)
    t = t.reshape(y1 - y0, supersample, x1 - x0, supersample).mean(axis=(1, 3))
    layer[y0:y1, x0:x1] += (amplitude * t).astype(layer.dtype)


def tram_track(layer: np.ndarray, path: np.ndarray, half_gap: float, amplitude: float,
               rng: np.random.Generator) -> None:
    """Two parallel, interrupted bright lines along ``path``: a calcified vessel wall."""
    seg = np.diff(path, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0], np.cumsum(length)])
    s = np.arange(0, cum[-1], 0.5)
    centre = np.stack([np.interp(s, cum, path[:, 0]), np.interp(s, cum, path[:, 1])], axis=1)
    tangent = np.gradient(centre, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None] + 1e-9
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    for side in (-1, 1):
        beads = np.convolve(rng.normal(size=len(s) + 40), np.ones(40) / 40, mode="same")[20 : 20 + len(s)]
        on = np.clip((beads + 0.05) * 12, 0, 1) * rng.uniform(0.6, 1.0)
        splat(layer, centre + side * half_gap * normal, (0.5 * amplitude * on).astype(np.float32))
