"""What every classifier here shares: input checks, a JSON record of training, and skops save/load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from calcdet_core.api import Classifier, InvalidInputError, TrainingContext
from calcdet_svm.persist import dump_model, load_model

META_FILE = "classifier.json"


class SkopsClassifier(Classifier):
    """A classifier made of named scikit-learn models plus JSON metadata.

    Subclasses fill ``models_`` (name -> fitted estimator) and ``info_`` (JSON-ready facts
    about training: sizes, thresholds, tuning results; kept in ``classifier.json`` since
    scoring needs some of them), hand ``info_`` to the run's reporter with :meth:`_report`, and
    declare in ``MODEL_TYPES`` the only top-level type and the types each named model file may
    contain (named, e.g. ``sklearn.pipeline.Pipeline``).
    """

    MODEL_TYPES: ClassVar[dict[str, tuple[str, frozenset[str]]]] = {}

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.models_: dict[str, Any] = {}
        self.info_: dict[str, Any] = {}

    def _report(self, context: TrainingContext | None) -> None:
        """Record the facts of the ``fit`` just done with the run's reporter (the model's training metrics)."""
        if context is not None:
            context.reporter.record(**self.info_)

    def _check_fitted(self, features: np.ndarray) -> np.ndarray:
        if not self.models_:
            raise ValueError(f"{self.name}: score() called before fit() or load_state()")
        X = np.asarray(features, dtype=np.float64)
        n = self.info_["n_features"]
        if X.ndim != 2 or X.shape[1] != n:
            raise ValueError(f"{self.name}: expected (N, {n}) features as in training; got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError(f"{self.name}: features contain NaN or infinite values")
        return X

    def save_state(self, directory: Path) -> list[Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = [dump_model(model, directory / f"{key}.skops") for key, model in self.models_.items()]
        meta = directory / META_FILE
        meta.write_text(json.dumps({"models": sorted(self.models_), "info": self.info_}, indent=2, allow_nan=False))
        return [*files, meta]

    def load_state(self, directory: Path) -> None:
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"{self.name}: cannot read {directory / META_FILE}: {exc}") from exc
        names = meta.get("models") if isinstance(meta, dict) else None
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
                and isinstance(meta.get("info", {}), dict)):
            raise InvalidInputError(f"{self.name}: {directory / META_FILE} is not a classifier record "
                                    '({"models": [names], "info": {...}} expected)')
        unknown = sorted(set(names) - set(self.MODEL_TYPES))
        if unknown:
            raise InvalidInputError(f"{self.name}: {directory / META_FILE} names models this classifier never has: "
                                    f"{unknown}")
        models = {}
        for key in names:
            expected, allowed = self.MODEL_TYPES[key]
            models[key] = load_model(directory / f"{key}.skops", allowed, expected)
        self.models_, self.info_ = models, dict(meta.get("info", {}))
