"""Entry point of the calcdet-wavelet distribution."""

from calcdet_core.api import FeatureExtractor, hookimpl
from calcdet_wavelet.extractor import WaveletFeatures


@hookimpl
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    return [WaveletFeatures]
