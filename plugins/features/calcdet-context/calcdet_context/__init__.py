"""calcdet-context: candidate-context features (score rank in the image, cluster neighbourhood)."""

from calcdet_context.extractor import CandidateContext

__all__ = ["CandidateContext"]
