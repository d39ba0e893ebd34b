"""The morphology steps: top-hat by reconstruction, and the breast mask without its border band."""

from __future__ import annotations

import cv2
import numpy as np

from calcdet_gm.reconstruction import reconstruct_by_dilation


def tophat_by_reconstruction(image: np.ndarray, opening_diameter: int) -> np.ndarray:
    """``image`` minus its reconstruction by dilation from its opening with a disk (the study's RBD).

    The reconstruction starts from the erosion, not the opening: every value the opening's dilation
    spreads lies on a disk where the image is at least that high, and the 8-connected reconstruction
    floods that disk anyway (also for OpenCV's even-sized ellipse, whose offsets are symmetric about
    (-0.5, -0.5)), so both markers reconstruct to the same image and the dilation is saved.
    """
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (opening_diameter, opening_diameter))
    return image - reconstruct_by_dilation(cv2.erode(image, disk), image)


def eroded(mask: np.ndarray, border: int) -> np.ndarray:
    """``mask`` without a ``border``-px band along its edge inside the image (image edges are not eroded)."""
    if border <= 0:
        return mask
    square = np.ones((2 * border + 1, 2 * border + 1), np.uint8)
    return cv2.erode(np.ascontiguousarray(mask).view(np.uint8), square).view(bool)
