"""Entry point of the calcdet-context distribution."""

from calcdet_context.extractor import CandidateContext
from calcdet_core.api import FeatureExtractor, hookimpl

calcdet_contract = 2
"""The edition of calcdet's plugin contract these hooks follow."""


@hookimpl
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    return [CandidateContext]
