"""calcdet-wavelet: two-level Haar sub-band statistics and detail-band GLCM features per candidate."""

from calcdet_wavelet.extractor import BAND_STATISTICS, BANDS, GLCM_BANDS, WaveletFeatures, decompose

__all__ = ["BANDS", "BAND_STATISTICS", "GLCM_BANDS", "WaveletFeatures", "decompose"]
