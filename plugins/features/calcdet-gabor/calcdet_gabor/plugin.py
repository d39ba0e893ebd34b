"""Entry point of the calcdet-gabor distribution."""

from calcdet_core.api import FeatureExtractor, hookimpl
from calcdet_gabor.extractor import GaborFeatures

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    return [GaborFeatures]
