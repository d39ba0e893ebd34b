"""The Gabor filter bank: orientations x frequencies, built with OpenCV as the study did."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaborKernel:
    """One filter of the bank, with the parameters that made it (for names and docs)."""

    index: int
    theta_deg: float
    wavelength: float
    kernel: np.ndarray

    @property
    def half(self) -> int:
        """Rows (and columns) the kernel reaches on each side of its centre."""
        return self.kernel.shape[0] // 2


def gabor_bank(n_orientations: int, n_frequencies: int, max_frequency: float, kernel_size: int, sigma: float,
               gamma: float, phase: float) -> list[GaborKernel]:
    """Kernels in orientation-major order: theta_o = o * 180 / n_orientations degrees,
    frequency f_i = max_frequency / sqrt(2)**i cycles/px (wavelength 1 / f_i), index o * n_frequencies + i.

    ``cv2.getGaborKernel`` makes a square kernel of side ``2 * (kernel_size // 2) + 1``.
    """
    import cv2

    bank = []
    for o in range(n_orientations):
        theta = o * math.pi / n_orientations
        for i in range(n_frequencies):
            wavelength = 1.0 / (max_frequency / math.sqrt(2) ** i)
            kernel = cv2.getGaborKernel((kernel_size, kernel_size), sigma, theta, wavelength, gamma, phase,
                                        ktype=cv2.CV_64F)
            bank.append(GaborKernel(len(bank), math.degrees(theta), wavelength, kernel))
    return bank
