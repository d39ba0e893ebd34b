"""calcdet-context: candidate-context features (score rank in the image, cluster neighbourhood)."""

from calcdet_context.extractor import CandidateContext, context_features

__all__ = ["CandidateContext", "context_features"]
