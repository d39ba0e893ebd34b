"""The Hough-transform candidate proposer (the study's section 2.1.2, Appendix 1 parameters).

The steps (:mod:`calcdet_hough.enhance`, :mod:`calcdet_hough.stages`, :mod:`calcdet_hough.circles`:
OpenCV and SciPy) are imported by the methods that run them, so registering the plugin imports neither.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from calcdet_core.api import (
    Candidates,
    ComponentConfig,
    Proposer,
    bright_objects,
    checked_image,
    checked_mask,
    erode_mask,
)

if TYPE_CHECKING:
    from calcdet_hough.circles import HoughSettings

MIN_SIDE = 32
"""Smallest image side accepted, px."""


class HoughConfig(ComponentConfig):
    """The enhancement chain, the thresholds and the two transforms (the study's Appendix 1 values)."""

    omega: float = Field(0.9, gt=0, lt=1, description="Dehazing strength (dark channel prior omega).")
    dehaze_window: int = Field(11, ge=1, le=101, description="Side of the dark-channel minimum filter, px.")
    guided_radius: int = Field(40, ge=1, le=500,
                               description="Radius of the guided filter that refines the dehazed image.")
    guided_eps: float = Field(1e-5, gt=0, le=1, description="Regularisation of the guided filter.")
    ball_radius: float = Field(50.0, gt=0, le=1000, description="Rolling-ball radius for background subtraction.")
    gaussian_sigma: float = Field(2.0, gt=0, le=50, description="Sigma of the Gaussian between the two Sobel filters.")
    erosion_size: int = Field(5, ge=1, le=101, description="Side of the square that erodes the breast border.")
    erosion_iterations: int = Field(20, ge=0, le=1000, description="Number of breast-border erosions.")
    global_quantile: float = Field(0.97, gt=0, lt=1, description="Quantile threshold before the global Hough.")
    local_quantile: float = Field(0.95, gt=0, lt=1, description="Quantile threshold in each local patch.")
    local_transform: bool = Field(True, description="Run the second, local transform (False: global only).")
    patch_size: int = Field(200, ge=16, le=1024, description="Side of the local patches around global circles, px.")
    patch_grid: int = Field(1, ge=1, le=1000, description=(
        "Global circles whose centres share a cell of this side (px) share one local window; "
        "1 = one window per circle, as in the study (hough-tuned.yaml: 35, chosen on calcdet's phantoms)."))
    union_transform: bool = Field(False, description=(
        "Also run one local transform on the union of the windows' binary images (ours, not the study's; "
        "hough-tuned.yaml turns it on with patch_grid 35)."))
    dp: float = Field(1.0, gt=0, le=8, description="Inverse accumulator resolution of cv2.HoughCircles.")
    min_dist: float = Field(10.0, gt=0, le=1000, description="cv2.HoughCircles minDist between circle centres, px.")
    canny_high: float = Field(300.0, gt=0, le=10_000, description="cv2.HoughCircles param1 (upper Canny threshold).")
    global_votes: float = Field(5.0, gt=0, le=10_000, description="cv2.HoughCircles param2 of the global transform.")
    local_votes: float = Field(3.0, gt=0, le=10_000, description="cv2.HoughCircles param2 of the local transforms.")
    min_radius: int = Field(2, ge=0, le=100, description="Smallest circle radius searched, px.")
    max_radius: int = Field(10, ge=1, le=100, description="Largest circle radius searched, px.")
    min_distance: float = Field(6.0, ge=0, le=1000,
                                description="Candidates closer than this keep the better supported.")
    radius_offset: float = Field(2.0, ge=0, le=100, description=(
        "Subtracted from the Hough radius to report the blob's radius: the Sobel-Gaussian-Sobel ring lies "
        "about one Gaussian sigma outside the blob edge (0 = raw Hough radius, as the study reported)."))

    @model_validator(mode="after")
    def _radius_range(self) -> HoughConfig:
        if self.min_radius > self.max_radius:
            raise ValueError(f"min_radius ({self.min_radius}) must not exceed max_radius ({self.max_radius})")
        return self


class HoughProposer(Proposer):
    """Circles found by two Hough transforms on an edge-enhanced image; score = circle support (votes)."""

    name = "hough"
    description = "Dehazing, rolling ball, Sobel-Gaussian-Sobel, then global and local Hough circle transforms."
    Config = HoughConfig
    config: HoughConfig

    def _settings(self, votes: float) -> HoughSettings:
        from calcdet_hough.circles import HoughSettings

        c = self.config
        return HoughSettings(c.dp, c.min_dist, c.canny_high, votes, c.min_radius, c.max_radius)

    def _margin(self) -> int:
        """Pixels beyond the mask's bounding box that can change values inside it (filter reach)."""
        c = self.config
        ball_reach = math.sqrt(2.0 * c.ball_radius)  # for a [0, 1] image, see rolling_ball_background
        return int(2 * c.guided_radius + c.dehaze_window // 2 + ball_reach + 4 * c.gaussian_sigma + 4)

    def enhance(self, image: np.ndarray) -> np.ndarray:
        """The study's preprocessing chain (steps 1-3) on a [0, 1] image."""
        from calcdet_hough.enhance import dehaze, rolling_ball_background, sobel_gaussian_sobel

        c = self.config
        dehazed = dehaze(image, c.omega, c.dehaze_window, c.guided_radius, c.guided_eps)
        flat = dehazed - rolling_ball_background(dehazed, c.ball_radius)
        return sobel_gaussian_sobel(flat, c.gaussian_sigma)

    def propose(self, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
        """Candidates inside ``mask``; a flat (constant) image or an empty mask gives none.

        The chain scales the image by its maximum and each 8-bit binarisation by its strongest edge;
        large objects much brighter than the tissue (clips, markers, large calcifications;
        :func:`calcdet_core.api.bright_objects`) would set both and flatten every MC, so their pixels
        are first lowered to the brightest value elsewhere in the breast.
        """
        from calcdet_hough.circles import keep_separated
        from calcdet_hough.stages import global_stage, local_stage, quantile_with_zeros

        c = self.config
        image = checked_image(image, self.name, MIN_SIDE)
        mask = checked_mask(mask, image.shape, self.name)
        if mask is not None and not mask.any():
            return Candidates.empty()
        region = np.ones(image.shape, bool) if mask is None else mask
        objects = bright_objects(image, region)
        if objects.any():  # lowered to the brightest value elsewhere in the breast (a plateau, no spike)
            image = image.copy()
            image[objects] = image[region & ~objects].max(initial=0.0)
        low, high = float(image.min()), float(image.max())
        if high <= low:
            return Candidates.empty()
        rows, cols = np.nonzero(region.any(1))[0], np.nonzero(region.any(0))[0]
        m = self._margin()
        y0, y1 = max(rows[0] - m, 0), min(rows[-1] + 1 + m, image.shape[0])
        x0, x1 = max(cols[0] - m, 0), min(cols[-1] + 1 + m, image.shape[1])
        crop = (image[y0:y1, x0:x1] - np.float32(low)) / np.float32(high - low)
        edges = self.enhance(crop)
        edges[~erode_mask(region, c.erosion_size, c.erosion_iterations)[y0:y1, x0:x1]] = 0  # image edges stay
        threshold = quantile_with_zeros(edges, image.size - edges.size, c.global_quantile)
        kept = np.where(edges > threshold, edges, np.float32(0))
        circles, support = global_stage(kept, self._settings(c.global_votes))
        if c.local_transform and len(circles):
            circles, support = local_stage(kept, circles, c.local_quantile, c.patch_size, c.patch_grid,
                                           self._settings(c.local_votes), c.union_transform)
        if len(circles) == 0:
            return Candidates.empty()
        circles = circles + np.array([x0, y0, 0.0])
        inside = region[np.clip(np.rint(circles[:, 1]).astype(np.intp), 0, image.shape[0] - 1),
                        np.clip(np.rint(circles[:, 0]).astype(np.intp), 0, image.shape[1] - 1)]
        circles, support = circles[inside], support[inside]
        keep = keep_separated(circles, support, c.min_distance)
        circles = circles[keep]
        circles[:, 2] = np.maximum(circles[:, 2] - c.radius_offset, 0.5)
        return Candidates(circles, support[keep])
