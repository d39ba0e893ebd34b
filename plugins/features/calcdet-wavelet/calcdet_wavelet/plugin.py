"""Entry point of the calcdet-wavelet distribution."""

from calcdet_core.api import FeatureExtractor, hookimpl
from calcdet_wavelet.extractor import WaveletFeatures

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    return [WaveletFeatures]
