"""The GM proposer: white top-hat by reconstruction, two quantile thresholds, small round components.

This module holds the parameters and the steps' order only; the steps (OpenCV, SciPy, numba)
are imported when ``propose`` first runs, so registering the plugin imports none of them.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from calcdet_core.api import Candidates, ComponentConfig, Proposer, bounding_box, checked_inputs, erode_mask

MIN_SIDE = 32
"""Smallest image side accepted, px: below it the 14 px opening and the border erosion leave nothing."""


class GMConfig(ComponentConfig):
    """The opening, the border band, the two thresholds and the component filters (study values)."""

    opening_diameter: int = Field(14, ge=3, le=101, description=(
        "Diameter of the disk whose opening gives the reconstruction marker, px (study: 14). The "
        "reconstruction itself uses the study's 3x3 square (8-connected geodesic dilations)."))
    border_erosion: int = Field(20, ge=0, le=500, description=(
        "Band along the breast border (inside the image) where nothing is proposed, px (study's code: "
        "10 erosions with a 5x5 square)."))
    first_quantile: float = Field(0.95, gt=0, lt=1, description=(
        "First threshold: this quantile of the positive top-hat values inside the eroded breast "
        "(study: 0.95; 0.97 is its stricter variant)."))
    second_quantile: float = Field(0.80, ge=0, lt=1, description=(
        "Second threshold: this quantile of the top-hat values above the first threshold (study: 0.80)."))
    max_area: float = Field(154.0, gt=0, le=100_000, description=(
        "Largest area of a component's outer contour, px^2; a single pixel counts 1. Default: a 1 mm MC "
        "(14 px wide at 70 um, pi * 7^2). The study's code compares its 'area' 14 with this contour area, "
        "which drops every MC wider than ~5 px whose whole body passes the thresholds."))
    max_radius: float = Field(10.0, gt=0, le=500, description=(
        "Largest radius of a component's minimum enclosing circle through pixel centres, px (study: 10)."))
    min_distance: float = Field(6.0, ge=0, le=1000, description=(
        "Candidates this close (px) to a higher-contrast one are dropped (study: 6)."))


class GMProposer(Proposer):
    """Grayscale morphology (study section 2.1.4): bright spots smaller than a 14 px disk, by contrast."""

    name = "gm"
    description = "Grayscale morphology: top-hat by reconstruction, quantile thresholds, small round components."
    Config = GMConfig
    config: GMConfig

    def propose(self, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
        """Candidates (x, y, radius, score = peak top-hat contrast) inside ``mask`` (``None``: pixels > 0)."""
        from calcdet_gm.blobs import component_blobs, keep_strongest_apart
        from calcdet_gm.morphology import tophat_by_reconstruction
        from calcdet_gm.thresholds import positive_inside, quantile

        cfg = self.config
        image, mask = checked_inputs(image, mask, self.name, MIN_SIDE)
        box = bounding_box(mask)
        if box is None:
            return Candidates.empty()
        region = erode_mask(mask, 2 * cfg.border_erosion + 1)[box]  # erode first: the box edge is no border
        crop = image[box]
        contrast = tophat_by_reconstruction(crop, cfg.opening_diameter)
        positive = positive_inside(contrast, region)
        if positive.size == 0:
            return Candidates.empty()
        above = positive[positive > quantile(positive, cfg.first_quantile)]
        if above.size == 0:
            return Candidates.empty()
        binary = (contrast > quantile(above, cfg.second_quantile)) & region
        xyr, score = component_blobs(binary, contrast, cfg.max_area, cfg.max_radius)
        keep = keep_strongest_apart(xyr[:, :2], score, cfg.min_distance)
        xyr, score = xyr[keep], score[keep]
        xyr[:, 0] += box[1].start
        xyr[:, 1] += box[0].start
        return Candidates(xyr, score)
