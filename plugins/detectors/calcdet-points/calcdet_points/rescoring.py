"""Context rescoring: each detection's score from its heat and its place among the image's other detections (numpy).

Why: the heat map sees about 30 px around a pixel; MCs of interest come in clusters a few mm wide,
and a peak means more against its own image's peaks than in absolute terms. A logistic regression
on the peak's heat (as a logit) and the core's :func:`~calcdet_core.api.context_features` of all the
image's peaks (score rank, neighbours within 1, 2 and 4 mm at 70 um, the strongest and mean
neighbour, spacing) gives the final score, the probability that the detection is an MC. It is fitted
after the net, on the detections of images the net did not train on, labelled by the FROC's
matching rule (figures in the plugin's README).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from calcdet_core.api import (
    DROPPED,
    TP,
    Detections,
    ImageStream,
    TrainingContext,
    context_features,
    match_detections,
)

RADII = (14.0, 28.0, 56.0)
"""Neighbourhood radii, px: calcdet-context's defaults (1, 2 and 4 mm at INbreast's 70 um)."""
STRONG_SHARE = 0.1
NEAREST = 3
WIDTH = 7 + len(RADII)
"""Columns of :func:`detection_features`: the heat's logit, then ``context_features``' 6 + len(RADII)."""
HEAT_FLOOR = 1e-6
"""Heats are clipped to [HEAT_FLOOR, 1 - HEAT_FLOOR] before their logit."""
PENALTY = 1.0
"""L2 penalty on the standardised coefficients (scikit-learn's LogisticRegression with C=1)."""


def detection_features(found: Detections, shape: tuple[int, int]) -> np.ndarray:
    """(N, WIDTH): the heat's logit, then the context of each detection among all of its image's."""
    heat = np.clip(found.score, HEAT_FLOOR, 1 - HEAT_FLOOR)
    logit = np.log(heat / (1 - heat))
    if not len(found):
        return np.zeros((0, WIDTH))
    far = float(np.hypot(*shape))
    return np.column_stack([logit, context_features(found.xyr[:, :2], logit, list(RADII), STRONG_SHARE, NEAREST,
                                                    far)])


@dataclass(frozen=True)
class Rescorer:
    """A logistic regression on standardised detection features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def identity(cls) -> Rescorer:
        """The rescorer whose probability is the heat itself (the logit's coefficient 1, every other 0)."""
        return cls(np.zeros(WIDTH), np.ones(WIDTH), np.eye(WIDTH)[0], 0.0)

    def probability(self, features: np.ndarray) -> np.ndarray:
        return _sigmoid((features - self.mean) / self.scale @ self.coef + self.intercept)

    def rescored(self, found: Detections, shape: tuple[int, int]) -> Detections:
        """``found`` with its scores replaced by the probabilities, best first."""
        if not len(found):
            return found
        score = self.probability(detection_features(found, shape))
        order = np.argsort(-score, kind="stable")
        return Detections(found.xyr[order], score[order])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": np.array([self.intercept])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str) -> Rescorer:
        """A rescorer from :meth:`arrays`; a clear error naming ``source`` when they do not describe one."""
        try:
            mean, scale, coef = (np.asarray(arrays[k], np.float64).reshape(-1) for k in ("mean", "scale", "coef"))
            intercept = float(np.asarray(arrays["intercept"]).reshape(-1)[0])
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{source}: not a point-heatmap context rescorer ({exc!r})") from None
        values = np.concatenate([mean, scale, coef, [intercept]])
        if not len(mean) == len(scale) == len(coef) == WIDTH or not np.isfinite(values).all():
            raise ValueError(f"{source}: a context rescorer holds {WIDTH} finite means, scales and coefficients")
        return cls(mean, scale, coef, intercept)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -60, 60)))


def fit_rescorer(features: np.ndarray, labels: np.ndarray, iterations: int = 50) -> Rescorer:
    """The L2-penalised logistic regression of ``labels`` (1 MC, 0 not) on standardised ``features`` (Newton's method).

    Newton's method on a dozen columns converges in a few exact steps and is deterministic, and the
    coefficients are plain arrays to save (no pickle, no scikit-learn needed).
    """
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    penalty = np.full(design.shape[1], PENALTY)
    penalty[-1] = 0.0  # the intercept is not penalised
    w = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return Rescorer(mean, scale, w[:-1], float(w[-1]))


def fit_context_rescorer(detect: Callable[[np.ndarray, np.ndarray | None], Detections],
                         sources: Sequence[tuple[str, ImageStream]], context: TrainingContext) -> Rescorer:
    """Fit on the detections ``detect`` (the trained net, heat as score) makes on the first of ``sources`` whose
    detections hold both MCs and false positives (the FROC's matching rule; detections it ignores are left out).

    The validation images come first: the net has not trained on them, so their heats are what detection
    will see; the training images are the fallback. When no source has both, there is nothing to learn and
    the heat stays the score (:meth:`Rescorer.identity`); each of these is said.
    """
    for name, stream in sources:
        rows, labels = [], []
        for k in range(len(stream)):
            image = stream[k]
            found = detect(image.pixels, image.mask)
            status = match_detections(found, image.annotation).status
            keep = status != DROPPED
            rows.append(detection_features(found, image.pixels.shape)[keep])
            labels.append(status[keep] == TP)
        y = np.concatenate(labels) if labels else np.zeros(0, bool)
        if y.any() and not y.all():
            context.reporter.record(rescoring={"images": name, "detections": len(y), "mcs": int(y.sum())})
            return fit_rescorer(np.concatenate(rows), y)
        context.reporter.message(f"point-heatmap: the {name} images' detections hold {int(y.sum())} MCs among "
                                 f"{len(y)}; the context rescoring needs both MCs and false detections")
    context.reporter.record(rescoring={"images": None, "detections": 0, "mcs": 0})
    context.reporter.message("point-heatmap: no split's detections hold both MCs and false detections; the heat "
                             "stays the score (rescore: context keeps it unchanged)")
    return Rescorer.identity()
