"""The DoG scale space, streamed one layer at a time so that memory stays a few layers deep."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def sigma_ladder(min_sigma: float, max_sigma: float, n_scales: int | None, sigma_ratio: float) -> np.ndarray:
    """The Gaussian scales as the study's code chose them: n_scales + 1 sigmas from ``min_sigma``.

    With ``n_scales`` set the ratio is (max / min) ** (1 / n_scales); without it the ratio is
    ``sigma_ratio`` and n_scales = int(log(max / min) / log(ratio) + 1).
    """
    if n_scales is None:
        n_scales = int(np.log(max_sigma / min_sigma) / np.log(sigma_ratio) + 1)
    else:
        sigma_ratio = (max_sigma / min_sigma) ** (1 / n_scales)
    return min_sigma * sigma_ratio ** np.arange(n_scales + 1)


def kernel_size(sigma: float) -> int:
    """The study's Gaussian kernel width: int(4 sigma + 0.5), made odd (so about +-2 sigma)."""
    size = int(4 * sigma + 0.5)
    return size if size % 2 == 1 else size + 1


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable sampled Gaussian with the study's kernel width (borders mirrored, 101 style)."""
    import cv2

    size = kernel_size(sigma)
    return cv2.GaussianBlur(image, (size, size), sigma, sigma, borderType=cv2.BORDER_REFLECT_101)


def dog_layers(image: np.ndarray, sigmas: np.ndarray) -> Iterator[np.ndarray]:
    """DoG layer j = (G(s_j) - G(s_j+1)) * s_j / (s_j+1 - s_j), for j = 0 .. len(sigmas) - 2, in order.

    The normalisation makes responses comparable across scales (as skimage's blob_dog and the study).
    Each Gaussian is computed once and kept only until the next layer is out.
    """
    import cv2

    previous = blur(image, float(sigmas[0]))
    for j in range(1, len(sigmas)):
        current = blur(image, float(sigmas[j]))
        layer = cv2.subtract(previous, current)
        layer *= np.float32(sigmas[j - 1] / (sigmas[j] - sigmas[j - 1]))
        yield layer
        previous = current
