"""Candidate context: where each candidate stands among the proposer's candidates of its image.

A patch feature sees 14x14 pixels; a radiologist reads an MC in its cluster and against the rest
of the breast. These features give a classifier that view: the candidate's proposer-score rank
and its score against the image's median, and its neighbourhood (how many candidates lie within
a few radii, how many of them are among the image's strongest, the best and mean score among
them, the distance to the k-th nearest one). They depend on the image's other candidates, which is why the
engine always hands an extractor every candidate of an image at once, for training as for
detection; they do not depend on the candidates' order.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated

import numpy as np
from pydantic import Field, field_validator

from calcdet_core.api import Candidates, ComponentConfig, FeatureExtractor, InvalidInputError, context_features


class ContextConfig(ComponentConfig):
    """The neighbourhood radii, what counts as a strong neighbour, and how scores compare."""

    radii: list[Annotated[float, Field(gt=0, le=1000)]] = Field([14.0, 28.0, 56.0], min_length=1,
                                       description="Neighbourhood radii (px, increasing; defaults 1, 2 and 4 mm at "
                                                   "INbreast's 70 um): one neighbour count per radius; the largest "
                                                   "also bounds the strong-neighbour count and the neighbours' scores.")
    strong_share: float = Field(0.1, gt=0, lt=1, description="Share of the image's candidates, by proposer score, "
                                "that count as strong neighbours (0.1: the top 10%).")
    nearest: int = Field(3, ge=1, le=100, description="k of the distance to the k-th nearest other candidate.")
    log_score: bool = Field(True, description="Compare proposer scores on a log scale (they must then be "
                            "positive, as GM's contrasts); false compares them as they are.")

    @field_validator("radii")
    @classmethod
    def _increasing(cls, radii: list[float]) -> list[float]:
        if any(b <= a for a, b in pairwise(radii)):
            raise ValueError(f"radii must be strictly increasing; got {radii}")
        return radii


class CandidateContext(FeatureExtractor):
    """Score rank and cluster neighbourhood of each candidate among its image's candidates."""

    name = "context"
    description = "Candidate context: proposer-score rank in the image, neighbour counts and scores"
    Config = ContextConfig
    config: ContextConfig

    def feature_names(self) -> list[str]:
        cfg = self.config
        return ["ctx_score_rank", "ctx_score_vs_median", *(f"ctx_neighbours_{r:g}px" for r in cfg.radii),
                "ctx_strong_neighbours", "ctx_neighbour_max_vs_median", "ctx_neighbour_mean_vs_median",
                f"ctx_nearest{cfg.nearest}_distance"]

    def extract(self, image: np.ndarray, candidates: Candidates) -> np.ndarray:
        cfg = self.config
        score = candidates.score
        if not np.isfinite(score).all():
            raise ValueError("context: candidates' proposer scores hold NaN or infinite values")
        if cfg.log_score:
            if (score <= 0).any():  # the pipeline pairs log_score with a proposer that scores <= 0: a user error
                raise InvalidInputError(f"context: log_score needs positive proposer scores; candidate "
                                        f"{int(np.argmin(score))} scores {score.min():g} (set log_score: false)")
            score = np.log(score)
        diagonal = float(np.hypot(*np.shape(image)[:2]))
        return context_features(candidates.xyr[:, :2], score, cfg.radii, cfg.strong_share, cfg.nearest, diagonal)
