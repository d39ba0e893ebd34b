"""The morphology step: top-hat by reconstruction."""

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
