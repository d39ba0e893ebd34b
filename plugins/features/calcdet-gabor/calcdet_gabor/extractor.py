"""Gabor texture features: filter the image region around the candidates once per kernel, then
take energy, mean, standard deviation, skewness and kurtosis of each candidate's filtered patch."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from calcdet_core.api import Candidates, ComponentConfig, FeatureExtractor, extract_patches, moments
from calcdet_gabor.kernels import GaborKernel, gabor_bank

STATISTICS = ("energy", "mean", "std", "skewness", "kurtosis")
"""Per kernel, in column order: sum of squares, mean, std (ddof 0), skewness, excess kurtosis."""


class GaborConfig(ComponentConfig):
    """The patch, and the bank: orientations x frequencies of one Gaussian envelope."""

    patch_size: int = Field(14, ge=2, le=256, description="Side of the square patch centred on each candidate (px)")
    n_orientations: int = Field(3, ge=1, le=36, description="Orientations theta = k * 180 / n_orientations degrees")
    n_frequencies: int = Field(2, ge=1, le=16, description="Frequencies max_frequency / sqrt(2)**i, i < n_frequencies")
    max_frequency: float = Field(0.2, gt=0, le=0.5, description="Highest frequency of the bank (cycles/px)")
    kernel_size: int = Field(20, ge=3, le=256,
                             description="cv2.getGaborKernel ksize; the kernel is 2*(ksize//2)+1 wide")
    sigma: float = Field(3.0, gt=0, le=100, description="Standard deviation of the Gaussian envelope (px)")
    gamma: float = Field(0.5, gt=0, le=10, description="Spatial aspect ratio of the envelope")
    phase: float = Field(0.0, ge=-2 * math.pi, le=2 * math.pi,
                         description="Phase offset psi of the carrier (radians); 0 = even (symmetric)")


class GaborFeatures(FeatureExtractor):
    """Statistics of each candidate's patch in the responses of a small Gabor bank."""

    name = "gabor"
    description = "Energy, mean, std, skewness, kurtosis of each candidate's patch per Gabor kernel (6 by default)"
    Config = GaborConfig
    config: GaborConfig

    def bank(self) -> list[GaborKernel]:
        c = self.config
        return gabor_bank(c.n_orientations, c.n_frequencies, c.max_frequency, c.kernel_size, c.sigma, c.gamma, c.phase)

    def feature_names(self) -> list[str]:
        return [f"gabor_k{k.index}_{s}" for k in self.bank() for s in STATISTICS]

    def extract(self, image: np.ndarray, candidates: Candidates) -> np.ndarray:
        import cv2

        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"gabor: expected a 2-D image, got shape {image.shape}")
        bank = self.bank()
        n, p = len(candidates), self.patch_size
        out = np.zeros((n, len(bank) * len(STATISTICS)))
        if n == 0:
            return out
        crop, xy = candidate_region(image, candidates.xyr[:, :2], p, max(k.half for k in bank))
        if not np.isfinite(crop).all():
            raise ValueError("gabor: the image holds NaN or infinite pixels around the candidates")
        for k in bank:
            response = cv2.filter2D(crop, cv2.CV_64F, k.kernel, borderType=cv2.BORDER_REFLECT_101)
            x = extract_patches(response, xy, p, dtype=np.float64).reshape(n, p * p)
            m = moments(x)
            cols = slice(k.index * len(STATISTICS), (k.index + 1) * len(STATISTICS))
            out[:, cols] = np.stack([(x * x).sum(axis=1), m["mean"], m["std"], m["skewness"], m["kurtosis"]], 1)
        return out


def candidate_region(image: np.ndarray, xy: np.ndarray, patch: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The float64 crop holding every candidate's patch plus ``margin`` px of context, and the
    candidate centres in that crop's grid.

    Filtering the crop equals filtering the whole image on every patch pixel: inside the image the
    margin covers the kernel's reach, and where the crop meets the image edge both use the same
    reflection (OpenCV's BORDER_REFLECT_101 is numpy's ``reflect``, as ``extract_patches`` pads).
    """
    h, w = image.shape
    cols = np.clip(np.rint(xy[:, 0]).astype(np.intp), 0, w - 1)
    rows = np.clip(np.rint(xy[:, 1]).astype(np.intp), 0, h - 1)
    half = patch // 2
    r0 = max(int(rows.min()) - half - margin, 0)
    r1 = min(int(rows.max()) - half + patch + margin, h)
    c0 = max(int(cols.min()) - half - margin, 0)
    c1 = min(int(cols.max()) - half + patch + margin, w)
    crop = np.ascontiguousarray(image[r0:r1, c0:c1], dtype=np.float64)
    return crop, np.column_stack([cols - c0, rows - r0]).astype(np.float64)
