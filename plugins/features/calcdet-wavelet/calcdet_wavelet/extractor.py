"""Wavelet features: statistics of a two-level Haar decomposition of each candidate's patch, and
GLCM summaries of its first-level detail sub-bands (Fanizzi et al. 2019/2020, as the study)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from calcdet_core.api import Candidates, ComponentConfig, FeatureExtractor, entropy_uniformity, extract_patches, moments
from calcdet_wavelet import glcm

BANDS = ("LL1", "LH1", "HL1", "HH1", "LL2", "LH2", "HL2", "HH2")
"""Sub-bands in column order; LH/HL/HH are pywt's horizontal/vertical/diagonal details (cH, cV, cD)."""
BAND_STATISTICS = ("mean", "skewness", "std", "kurtosis", "entropy", "uniformity", "smoothness")
"""Per sub-band, in column order (see the README for definitions)."""
GLCM_BANDS = ("LH1", "HL1", "HH1")


class WaveletConfig(ComponentConfig):
    """The patch, the sub-band histograms and the detail-band GLCMs."""

    patch_size: int = Field(14, ge=4, le=256, description="Side of the square patch centred on each candidate (px)")
    histogram_bins: int = Field(
        16, ge=2, le=1024,
        description="Bins of the histogram (spanning each sub-band's min..max) for entropy, uniformity")
    glcm_levels: int = Field(
        8, ge=2, le=256, description="Grey levels each detail sub-band's min..max is quantised to for its GLCM")
    glcm_distance: int = Field(2, ge=1, le=64, description="GLCM pixel-pair distance (scikit-image's convention)")
    glcm_angles: tuple[Annotated[int, Field(ge=0, lt=360)], ...] = Field((0, 45, 90), min_length=1,
                                            description="GLCM angles in degrees")

    @model_validator(mode="after")
    def _pairs_fit(self) -> WaveletConfig:
        side = (self.patch_size + 1) // 2
        for angle in self.glcm_angles:
            dr, dc = glcm.offset(self.glcm_distance, angle)
            if abs(dr) >= side or abs(dc) >= side:
                raise ValueError(f"patch_size {self.patch_size} gives {side}x{side} first-level sub-bands, too "
                                 f"small for a GLCM step of {(dr, dc)} (distance {self.glcm_distance}, angle "
                                 f"{angle}); use a larger patch_size or a smaller glcm_distance")
        return self


class WaveletFeatures(FeatureExtractor):
    """Haar sub-band statistics and detail-band GLCM texture of each candidate's patch."""

    name = "wavelet"
    description = "Statistics of 8 two-level Haar sub-bands (56) and GLCMs of LH1, HL1, HH1 (36) per patch"
    Config = WaveletConfig
    config: WaveletConfig

    def feature_names(self) -> list[str]:
        stats = [f"wavelet_{band}_{s}" for band in BANDS for s in BAND_STATISTICS]
        angles = self.config.glcm_angles
        return stats + [f"glcm_{band}_{a}_{p}" for band in GLCM_BANDS for a in angles for p in glcm.PROPERTIES]

    def extract(self, image: np.ndarray, candidates: Candidates) -> np.ndarray:
        c = self.config
        n = len(candidates)
        if n == 0:
            return np.zeros((0, len(self.feature_names())))
        patches = extract_patches(image, candidates.xyr[:, :2], self.patch_size, dtype=np.float64)
        if not np.isfinite(patches).all():
            raise ValueError("wavelet: the image holds NaN or infinite pixels in candidates' patches")
        bands = decompose(patches)
        columns = [band_statistics(bands[b], c.histogram_bins) for b in BANDS]
        for b in GLCM_BANDS:
            q = glcm.quantise(bands[b], c.glcm_levels)
            for angle in c.glcm_angles:
                step = glcm.offset(c.glcm_distance, angle)
                columns.append(glcm.properties(glcm.cooccurrence(q, c.glcm_levels, step)))
        return np.concatenate(columns, axis=1)


def decompose(patches: np.ndarray) -> dict[str, np.ndarray]:
    """The 8 sub-bands of every patch: ``pywt.dwt2`` (Haar, symmetric extension) on the stack, twice."""
    import pywt

    ll1, (lh1, hl1, hh1) = pywt.dwt2(patches, "haar", axes=(-2, -1))
    ll2, (lh2, hl2, hh2) = pywt.dwt2(ll1, "haar", axes=(-2, -1))
    return dict(zip(BANDS, (ll1, lh1, hl1, hh1, ll2, lh2, hl2, hh2), strict=True))


def band_statistics(band: np.ndarray, bins: int) -> np.ndarray:
    """(N, 7) mean, skewness, std, kurtosis, entropy, uniformity, relative smoothness of each sub-band."""
    x = band.reshape(len(band), -1)
    m = moments(x)
    entropy, uniformity = entropy_uniformity(x, bins)
    smoothness = 1.0 - 1.0 / (1.0 + m["std"] ** 2)
    return np.stack([m["mean"], m["skewness"], m["std"], m["kurtosis"], entropy, uniformity, smoothness], axis=1)
