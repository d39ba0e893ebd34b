"""Imprinting one simulated MC into a real mammogram, in the image's own intensity scale.

The phantom adds an MC's attenuation before the detector; a real image has already been
detected, so the MC is added afterwards, the way it would have shown:

- **signal**: the calcium's attenuation ΔA (thickness x 1.2/mm x the MC's contrast share, as
  in the phantom), blurred by the detector's response (a Gaussian MTF), becomes pixel values
  through the image's local gain: the breast's signal range over ``attenuation_span``, scaled by
  the local signal above the skin-line level to the power ``signal_exponent`` (0: a log image
  with one gain everywhere; 1: contrast proportional to the local signal);
- **noise**: fewer quanta pass the calcium, so quantum noise grows by exp(ΔA/2); the extra
  noise, σ·sqrt(exp(ΔA) - 1) with σ the local noise, is cut from the image's own high-pass
  residual elsewhere in the breast, so it has the image's noise texture and correlation.

Pixels are given as displayed (bright = dense; MONOCHROME1 already inverted by the reader).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from calcdet_phantom.lesions import Shape, render

MU_CALCIUM_PER_MM = 1.2
"""Effective attenuation of a calcium grain per mm of path (the phantom's value)."""
NOISE_SIGMA_PX = 1.5
"""The high-pass residual that stands for the noise: the image minus its Gaussian blur of this sigma."""
LOCAL_MM = 2.5
"""Half-width of the window the local signal and noise are measured in."""


@dataclass(frozen=True)
class ImprintSettings:
    """How the calcium's attenuation becomes pixel values in a detected image (see the module docstring)."""

    attenuation_span: float = 1.6
    signal_exponent: float = 0.5
    mtf_sigma_mm: float = 0.0525  # 0.75 px at 70 µm, the phantom's default detector


@dataclass(frozen=True)
class BreastSignal:
    """One image's breast intensities: the skin-line level and the top of the range (displayed values)."""

    floor: float
    high: float

    @classmethod
    def of(cls, pixels: np.ndarray, mask: np.ndarray) -> BreastSignal:
        inside = pixels[mask]
        inside = inside[:: max(len(inside) // 500_000, 1)]
        floor, high = np.percentile(inside, [1.0, 99.8])
        return cls(float(floor), float(max(high, floor + 1e-6)))


def _residual(crop: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return crop - ndimage.gaussian_filter(crop, NOISE_SIGMA_PX, mode="nearest")


def _robust_std(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else 0.0


def _noise_patch(pixels: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator
                 ) -> np.ndarray:
    """Unit-variance noise of the image's own texture: its high-pass residual at a random breast spot."""
    h, w = size
    margin = 4
    rows, cols = pixels.shape
    for _ in range(50):
        y = int(rng.integers(0, max(rows - h - 2 * margin, 1)))
        x = int(rng.integers(0, max(cols - w - 2 * margin, 1)))
        if mask[y: y + h + 2 * margin, x: x + w + 2 * margin].all():
            residual = _residual(pixels[y: y + h + 2 * margin, x: x + w + 2 * margin])[margin:-margin, margin:-margin]
            std = _robust_std(residual)
            if std > 0 and residual.shape == (h, w):
                return residual / std
    return rng.standard_normal((h, w))  # a breast too small for a clean patch: white noise of the same variance


def imprint(pixels: np.ndarray, mask: np.ndarray, shape: Shape, contrast: float, pixel_mm: float,
            signal: BreastSignal, settings: ImprintSettings, rng: np.random.Generator) -> float:
    """Add one MC to ``pixels`` (float64, displayed values) in place; return its peak added value.

    Only breast pixels change; the caller rounds and clips to the stored range.
    """
    from scipy import ndimage

    rows, cols = pixels.shape
    sigma_px = settings.mtf_sigma_mm / pixel_mm
    reach = int(np.ceil(shape.radius * shape.elongation * 1.6 + 4 * sigma_px + 3))
    local = int(np.ceil(LOCAL_MM / pixel_mm))
    x0, x1 = max(int(shape.cx) - reach, 0), min(int(shape.cx) + reach + 1, cols)
    y0, y1 = max(int(shape.cy) - reach, 0), min(int(shape.cy) + reach + 1, rows)
    layer = np.zeros((y1 - y0, x1 - x0), np.float64)
    render(layer, replace(shape, cx=shape.cx - x0, cy=shape.cy - y0), MU_CALCIUM_PER_MM * pixel_mm * contrast)
    attenuation = ndimage.gaussian_filter(layer, sigma_px, mode="constant") if sigma_px > 0 else layer

    lx0, lx1 = max(int(shape.cx) - local, 0), min(int(shape.cx) + local + 1, cols)
    ly0, ly1 = max(int(shape.cy) - local, 0), min(int(shape.cy) + local + 1, rows)
    window, window_mask = pixels[ly0:ly1, lx0:lx1], mask[ly0:ly1, lx0:lx1]
    level = float(np.median(window[window_mask])) if window_mask.any() else signal.floor
    noise_sd = _robust_std(_residual(window)[window_mask])
    span = signal.high - signal.floor
    relative = float(np.clip((level - signal.floor) / span, 0.05, 1.0))
    gain = span / settings.attenuation_span * relative**settings.signal_exponent

    noise = _noise_patch(pixels, mask, layer.shape, rng)
    added = gain * attenuation + noise_sd * np.sqrt(np.expm1(attenuation)) * noise
    inside = mask[y0:y1, x0:x1]
    pixels[y0:y1, x0:x1][inside] += added[inside]
    return float(gain * attenuation.max())
