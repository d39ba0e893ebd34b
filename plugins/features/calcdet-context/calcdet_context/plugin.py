"""Entry point of the calcdet-context distribution."""

from calcdet_context.extractor import CandidateContext
from calcdet_core.api import FeatureExtractor, hookimpl


@hookimpl
def calcdet_register_features() -> list[type[FeatureExtractor]]:
    return [CandidateContext]
