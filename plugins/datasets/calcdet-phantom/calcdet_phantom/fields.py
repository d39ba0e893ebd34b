"""Random fields and resampling helpers shared by the anatomy and lesion models."""

from __future__ import annotations

import numpy as np

TEXTURE_SCALE_PX = 1024
"""Largest structure of the parenchyma texture, in pixels (~7 cm at 70 µm): a physical scale,
so a small phantom shows the same tissue per millimetre as a full-size one, only less of it."""


def power_law_field(shape: tuple[int, int], beta: float, rng: np.random.Generator,
                    stretch: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Gaussian random field with a 1/f^beta power spectrum, zero mean, unit std (float32).

    ``stretch`` (x, y) > 1 elongates structures along that axis (ducts, ligaments).
    Images smaller than :data:`TEXTURE_SCALE_PX` are cut from a field of that size.
    """
    from scipy import fft  # here, not at the top: registering the plugin's command imports no SciPy

    h, w = max(shape[0], TEXTURE_SCALE_PX), max(shape[1], TEXTURE_SCALE_PX)
    fy = fft.fftfreq(h).astype(np.float32)[:, None] / np.float32(stretch[1])
    fx = fft.rfftfreq(w).astype(np.float32)[None, :] / np.float32(stretch[0])
    f = np.sqrt(fx * fx + fy * fy)
    f = np.maximum(f, np.float32(1.0 / TEXTURE_SCALE_PX))
    amplitude = f ** np.float32(-beta / 2)
    amplitude[0, 0] = 0
    spectrum = np.empty(f.shape, np.complex64)
    spectrum.real = rng.standard_normal(f.shape, np.float32) * amplitude
    spectrum.imag = rng.standard_normal(f.shape, np.float32) * amplitude
    field = fft.irfft2(spectrum, s=(h, w), overwrite_x=True)
    field -= field.mean()
    field /= field.std() + np.float32(1e-12)
    return np.ascontiguousarray(field[: shape[0], : shape[1]], dtype=np.float32)


def upsample(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a smooth coarse map to ``shape`` (pixel centres aligned)."""
    h, w = shape
    ch, cw = coarse.shape
    y = np.clip((np.arange(h, dtype=np.float32) + 0.5) * (ch / h) - 0.5, 0, ch - 1)
    x = np.clip((np.arange(w, dtype=np.float32) + 0.5) * (cw / w) - 0.5, 0, cw - 1)
    rows = np.empty((ch, w), np.float32)
    for i in range(ch):  # rows first: ch is small
        rows[i] = np.interp(x, np.arange(cw), coarse[i])
    y0 = np.floor(y).astype(int)
    y1 = np.minimum(y0 + 1, ch - 1)
    wy = (y - y0).astype(np.float32)[:, None]
    out = rows[y1] - rows[y0]
    out *= wy
    out += rows[y0]
    return out


def smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (float32); the system MTF and soft edges use it."""
    from scipy import ndimage

    return ndimage.gaussian_filter(image, sigma, mode="nearest").astype(np.float32, copy=False)


def splat(layer: np.ndarray, xy: np.ndarray, weight: np.ndarray) -> None:
    """Add point masses at sub-pixel positions ``xy`` (N, 2) into ``layer`` (bilinear)."""
    h, w = layer.shape
    x0 = np.floor(xy[:, 0]).astype(int)
    y0 = np.floor(xy[:, 1]).astype(int)
    fx, fy = xy[:, 0] - x0, xy[:, 1] - y0
    for dx, dy, part in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        np.add.at(layer, (yi[ok], xi[ok]), (weight * part)[ok])
