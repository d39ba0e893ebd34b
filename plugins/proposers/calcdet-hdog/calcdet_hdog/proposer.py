"""The HDoG proposer: DoG scale-space maxima, suppression, then a Hessian shape condition.

The numba kernels (:mod:`calcdet_hdog.blobs`, :mod:`calcdet_hdog.hessian`) and OpenCV are
imported by the methods that run them, so registering the plugin imports neither.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from calcdet_core.api import (
    Candidates,
    ComponentConfig,
    Proposer,
    bounding_box,
    bright_objects,
    checked_inputs,
    erode_mask,
)
from calcdet_hdog.scale_space import dog_layers, kernel_size, sigma_ladder

MIN_SIDE = 32
"""Smallest image side accepted, px: below it a 3-sigma Gaussian blur is mostly border."""


class HDoGConfig(ComponentConfig):
    """The scale ladder, the DoG threshold, the suppression and the Hessian condition (study values)."""

    min_sigma: float = Field(1.0, gt=0, le=100, description="Smallest Gaussian scale, px (study: 1).")
    max_sigma: float = Field(3.0, gt=0, le=100, description="Largest Gaussian scale, px (study: 3).")
    n_scales: int | None = Field(20, ge=1, le=200, description=(
        "Number of DoG layers; the ratio between scales is then (max/min)^(1/n_scales) (study: 20). "
        "null: use sigma_ratio instead."))
    sigma_ratio: float = Field(1.05, gt=1, le=10, description=(
        "Ratio between consecutive scales, used only when n_scales is null (study: 1.05)."))
    dog_threshold: float = Field(0.006, ge=0, le=100, description=(
        "Smallest normalised DoG response of a scale-space maximum (study: 0.006)."))
    overlap: float = Field(0.2, ge=0, le=1, description=(
        "A blob overlapping a stronger one by more than this fraction of the smaller disk (radius "
        "sigma * sqrt 2) is dropped (study: 0.2)."))
    min_distance: float = Field(6.0, ge=0, le=1000, description=(
        "A blob closer than this to a stronger one is dropped, px (study: 6)."))
    method: Literal["eigenval", "marasinou"] = Field("eigenval", description=(
        "Hessian condition: 'eigenval' = multiscale products of eigenvalues of scales j and j+1 at least "
        "their maximum over the breast / hessian_divider (study's choice); 'marasinou' = trace < 0 and "
        "(det < 0 or |det| / trace^2 <= hessian_threshold)."))
    hessian_threshold: float = Field(1.4, gt=0, le=10_000,
                                     description="Threshold of the 'marasinou' test (study: 1.4).")
    hessian_divider: float = Field(300.0, gt=0, le=1_000_000, description=(
        "Divider of the 'eigenval' test (study: 300). 50, tuned on calcdet's default phantom generator, "
        "is the pipeline variant hdog-tuned.yaml: fewer false positives there, far fewer MCs kept on "
        "images made another way."))
    border_erosion: int = Field(0, ge=0, le=500, description=(
        "Band along the breast border (inside the image) where nothing is proposed, px (study: 0)."))

    @model_validator(mode="after")
    def _scales_increase(self) -> HDoGConfig:
        if self.max_sigma <= self.min_sigma:
            raise ValueError(f"max_sigma ({self.max_sigma}) must exceed min_sigma ({self.min_sigma})")
        return self


class HDoGProposer(Proposer):
    """Hessian of difference of Gaussians (study section 2.1.3, after Marasinou et al. 2021)."""

    name = "hdog"
    description = "Hessian of DoG: scale-space maxima kept when the Hessian says blob (eigenvalue or trace/det test)."
    Config = HDoGConfig
    config: HDoGConfig

    def sigmas(self) -> np.ndarray:
        """The Gaussian scales; DoG layer j has scale sigmas[j] (blob radius sigmas[j] * sqrt 2)."""
        c = self.config
        return sigma_ladder(c.min_sigma, c.max_sigma, c.n_scales, c.sigma_ratio)

    def propose(self, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
        """Candidates (x, y, radius = sigma * sqrt 2, score = DoG response) inside ``mask`` (``None``: pixels > 0).

        The eigenvalue test's maximum leaves out large objects much brighter than the tissue (clips,
        markers, large calcifications; :func:`calcdet_core.api.bright_objects`) and the pixels within
        reach of the filters around them: the study's "maximum over the breast" means the strongest
        tissue or MC response, which such an object would otherwise replace, dropping most MCs.
        """
        import cv2

        from calcdet_hdog.blobs import suppress

        cfg = self.config
        image, mask = checked_inputs(image, mask, self.name, MIN_SIDE)
        region = erode_mask(mask, 2 * cfg.border_erosion + 1)  # the breast border, not the image edges
        box = bounding_box(region)
        if box is None:
            return Candidates.empty()
        sigmas = self.sigmas()
        ladder = sigmas if cfg.method == "marasinou" else np.append(sigmas, sigmas[-1] ** 2 / sigmas[-2])
        margin = kernel_size(float(ladder[-1])) // 2 + 3  # Gaussians and derivatives see real pixels
        rows = slice(max(box[0].start - margin, 0), min(box[0].stop + margin, image.shape[0]))
        cols = slice(max(box[1].start - margin, 0), min(box[1].stop + margin, image.shape[1]))
        crop, inside = image[rows, cols], np.ascontiguousarray(region[rows, cols])
        reference = inside
        if cfg.method == "eigenval":
            objects = bright_objects(crop, inside)
            if objects.any():  # out of the test's maximum, with the reach of the blurs and derivatives
                reach = 2 * (kernel_size(float(ladder[-1])) // 2 + 2) + 1
                reference = inside & ~cv2.dilate(objects.view(np.uint8), np.ones((reach, reach), np.uint8)).view(bool)
                reference = reference if reference.any() else inside
        ys, xs, layer, score, passes = self._peaks(crop, inside, reference, sigmas, ladder)
        radii = sigmas[layer] * math.sqrt(2)
        keep = suppress(xs, ys, radii, score, cfg.overlap, cfg.min_distance)
        keep = keep[passes[keep]]
        return Candidates.from_columns(xs[keep] + cols.start, ys[keep] + rows.start, radii[keep], score[keep])

    def _peaks(self, crop: np.ndarray, inside: np.ndarray, reference: np.ndarray, sigmas: np.ndarray,
               ladder: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every scale-space maximum: rows, columns, layer, response, and whether it passes the Hessian test.

        Maxima are searched ``inside``; the eigenvalue test's maximum is taken over ``reference``.

        Streams the DoG layers: layer j's maxima are found once layer j+1 is out, and the multiscale
        eigenvalue products of j and j+1 are formed then; at most four layers are alive at a time.
        """
        from calcdet_hdog.blobs import local_maxima
        from calcdet_hdog.hessian import layer_eigenvalues

        cfg = self.config
        eigen = cfg.method == "eigenval"
        n = len(sigmas) - 1  # DoG layers searched for maxima
        scratch = np.empty(crop.size, np.int64)
        work = [np.empty_like(crop) for _ in range(6)] if eigen else []
        found: list[tuple[np.ndarray, ...]] = []
        below = middle = None
        previous_eigen: tuple[np.ndarray, np.ndarray] | None = None
        for k, layer in enumerate(dog_layers(crop, ladder)):
            current_eigen = layer_eigenvalues(layer, (work[0], work[1], *work[2 + 2 * (k % 2):4 + 2 * (k % 2)])) \
                if eigen else None
            if middle is not None:
                above = layer if k < n else None  # the extra eigenvalue scale is no scale-space neighbour
                ys, xs = local_maxima(below, middle, above, cfg.dog_threshold, inside, scratch)
                if eigen:
                    passes = self._eigen_test(previous_eigen, current_eigen, reference, ys, xs)
                else:
                    passes = self._marasinou_test(middle, ys, xs)
                found.append((ys, xs, np.full(len(ys), k - 1), middle[ys, xs], passes))
            below, middle, previous_eigen = middle, layer, current_eigen
        if not eigen:  # the top layer has no layer above it
            ys, xs = local_maxima(below, middle, None, cfg.dog_threshold, inside, scratch)
            found.append((ys, xs, np.full(len(ys), n - 1), middle[ys, xs], self._marasinou_test(middle, ys, xs)))
        return tuple(np.concatenate(column) for column in zip(*found, strict=True))

    def _eigen_test(self, lower: tuple[np.ndarray, np.ndarray], upper: tuple[np.ndarray, np.ndarray],
                    inside: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """P_k = lambda_k(j) * lambda_k(j+1) >= max over the breast of P_k / divider, for both eigenvalues k."""
        from calcdet_hdog.hessian import product_maxima

        if len(ys) == 0:
            return np.zeros(0, bool)
        maxima = product_maxima(lower[0], upper[0], lower[1], upper[1], inside)
        limits = np.asarray(maxima) / self.config.hessian_divider
        ok = np.ones(len(ys), bool)
        for a, b, limit in zip(lower, upper, limits, strict=True):
            ok &= a[ys, xs].astype(np.float64) * b[ys, xs] >= limit
        return ok

    def _marasinou_test(self, layer: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """trace < 0 and (det < 0 or |det| / trace^2 <= hessian_threshold), as Marasinou et al. 2021."""
        from calcdet_hdog.hessian import hessian_at

        hrr, hrc, hcc = hessian_at(layer, ys, xs)
        trace, det = hrr + hcc, hrr * hcc - hrc**2
        blobby = (np.abs(det) / (trace * trace + 2.23e-16) <= self.config.hessian_threshold) | (det < 0)
        return blobby & (trace < 0)
