"""Entry point of the calcdet-gabor distribution."""

from calcdet_core.api import FeatureExtractor, hookimpl
from calcdet_gabor.extractor import GaborFeatures


@hookimpl
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    return [GaborFeatures]
