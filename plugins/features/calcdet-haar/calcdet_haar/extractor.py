"""The ``haar`` feature extractor: selected Haar-like features of the patch around each candidate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from calcdet_core.api import (
    Candidates,
    ComponentConfig,
    DataNeed,
    FeatureExtractor,
    InvalidInputError,
    ProgressTask,
    SplitFacts,
    TrainingContext,
    extract_patches,
    fit_threads,
    reporter_of,
    timed_step,
)
from calcdet_haar.bank import HaarBank, bank_size, build_bank
from calcdet_haar.selection import balance, grouped_importance, top_k
from calcdet_haar.store import Selection, read_selection, write_selection
from calcdet_haar.tables import flat_tables

if TYPE_CHECKING:
    from scipy import sparse

_CHUNK = 256
"""Patches per block when the whole bank is computed for selection (bounds the float64 temporary to 64 MB)."""
_MAX_SELECTION_BYTES = 32 * 2**30
"""Most memory the selection matrices may need (about twice samples x bank size x 4 bytes): a workstation's."""


def bank_features(patches: np.ndarray, bank: HaarBank, task: ProgressTask | None = None) -> np.ndarray:
    """(N, len(bank)) float32: every feature of the bank for every patch (the input of selection).

    ``task`` advances by the patches of every block done.
    """
    matrix = bank.matrix()
    out = np.empty((len(patches), len(bank)), np.float32)
    for start in range(0, len(patches), _CHUNK):
        block = patches[start : start + _CHUNK]
        out[start : start + len(block)] = flat_tables(block) @ matrix
        if task is not None:
            task.advance(len(block))
    return out


class HaarConfig(ComponentConfig):
    """The patch, how many features to keep, and the cross-validated forests that rank them."""

    patch_size: int = Field(14, ge=2, le=24, description="Side of the square patch centred on each "
                            "candidate, px (the study: 14). The bank grows as patch_size^4.")
    n_selected: int = Field(500, gt=0, le=100_000, description="Haar features kept after selection (the study: 500, "
                            "where validation AUROC/AUPRC reached a plateau).")
    n_estimators: int = Field(100, ge=1, le=10_000, description="Trees of each cross-validation fold's random forest.")
    cv_folds: int = Field(5, ge=2, le=20, description="Folds of the case-grouped, stratified cross-validation whose "
                          "forests' Gini importances are averaged (the study: 5).")
    negatives_per_positive: float | None = Field(10.0, gt=0, le=1000, description="Downsample negatives to at most "
                                                 "this many per positive before selection (the study: 10); "
                                                 "null keeps all.")
    max_training_samples: int = Field(10_000, ge=2, le=1_000_000, description="Cap on patches used for selection, both "
                                      "classes thinned in proportion; memory is about twice samples x "
                                      "bank size (31,219 for 14x14) x 4 bytes.")
    n_jobs: int | None = Field(None, ge=-1, le=256,
                               description="Threads of each random forest (scikit-learn n_jobs; -1: all "
                                           "cores); null: the run's --workers, at most the cores. The forests are the "
                                           "same for any value.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of downsampling, folds and forests.")

    @model_validator(mode="after")
    def _consistent(self) -> HaarConfig:
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be a positive number of jobs or -1 (all cores), not 0")
        available = bank_size(self.patch_size)
        if self.n_selected > available:
            raise ValueError(f"n_selected={self.n_selected} exceeds the {available} Haar features of a "
                             f"{self.patch_size}x{self.patch_size} patch")
        need = 2 * self.max_training_samples * available * 4
        if need > _MAX_SELECTION_BYTES:
            raise ValueError(f"max_training_samples={self.max_training_samples} patches x the {available} Haar "
                             f"features of patch_size={self.patch_size} need about {need / 2**30:.0f} GiB for "
                             f"selection, over {_MAX_SELECTION_BYTES // 2**30} GiB; lower either")
        return self


class HaarExtractor(FeatureExtractor):
    """Haar-like features chosen by random-forest importance, computed as one sparse gather-and-sum.

    ``fit`` computes the whole bank (:mod:`calcdet_haar.bank`) on training patches and keeps the
    ``n_selected`` most important features; ``extract`` computes only those, in that order.
    """

    name = "haar"
    description = "Haar-like features (upright, concentric, 45-degree) chosen by random-forest importance."
    trainable = True
    Config = HaarConfig
    config: HaarConfig
    selected_: np.ndarray | None = None
    selection_: Selection | None = None

    @property
    def bank(self) -> HaarBank:
        """The full prototype bank for this patch size."""
        return build_bank(self.config.patch_size)

    # ------------------------------------------------------------------ learning

    def data_needs(self, train: SplitFacts, validation: SplitFacts) -> list[DataNeed]:
        """The cross-validation groups patches by patient: each fold needs its own training patients."""
        if train.patients < self.config.cv_folds:
            return [DataNeed("cv_folds", f"{self.config.cv_folds}-fold patient-grouped cross-validation needs at "
                                         f"least {self.config.cv_folds} training patients; the train split has "
                                         f"{train.patients}", train.patients if train.patients >= 2 else None)]
        return []

    def fit(self, patches: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            context: TrainingContext | None = None) -> HaarExtractor:
        """Choose ``n_selected`` features from (N, P, P) patches, 0/1 ``labels`` and case ids ``groups``.

        The selection is seeded by the config's ``seed``; ``context``'s reporter shows the progress of the
        bank computation and of every fold's forest, and gets the facts of it (patches used, cases, each
        fold's held-out AUROC, each step's seconds), which calcdet keeps in the training metrics.
        """
        cfg = self.config
        patches, labels, groups = self._check_training(patches, labels, groups)
        rng = np.random.default_rng(cfg.seed)
        keep = balance(labels, cfg.negatives_per_positive, cfg.max_training_samples, rng)
        reporter = reporter_of(context)
        seconds: dict[str, dict[str, float]] = {}
        bank = self.bank
        with timed_step(reporter, f"haar: {len(bank)} bank features of {len(keep)} patches", len(keep),
                        seconds, "bank") as task:
            features = bank_features(patches[keep], bank, task)
        n_jobs = cfg.n_jobs if cfg.n_jobs is not None else fit_threads(context)
        with timed_step(reporter, f"haar: {cfg.cv_folds} folds x {cfg.n_estimators} trees ({n_jobs} threads)",
                        cfg.cv_folds * cfg.n_estimators, seconds, "forests") as task:
            importance = grouped_importance(features, labels[keep], groups[keep], n_estimators=cfg.n_estimators,
                                            cv_folds=cfg.cv_folds, seed=cfg.seed, n_jobs=n_jobs, task=task)
        chosen = top_k(importance.mean, cfg.n_selected)
        training = {"samples": len(keep), "positives": int(labels[keep].sum()),
                    "cases": len(np.unique(groups[keep]))}
        self._use(Selection(chosen, importance.mean[chosen].tolist(), importance.fold_auroc, training))
        reporter.record(**training, fold_auroc=importance.fold_auroc, n_jobs=n_jobs, seconds=seconds)
        return self

    def _check_training(self, patches: np.ndarray, labels: np.ndarray,
                        groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.config.patch_size
        patches = np.asarray(patches)
        if patches.ndim != 3 or patches.shape[1:] != (p, p):
            raise ValueError(f"haar fit() needs (N, {p}, {p}) patches (patch_size={p}); got shape {patches.shape}")
        if not np.isfinite(patches).all():
            raise ValueError("haar fit() needs finite patches; found NaN or inf")
        labels, groups = np.asarray(labels).reshape(-1), np.asarray(groups).reshape(-1)
        if len(labels) != len(patches) or len(groups) != len(patches):
            raise ValueError(f"haar fit(): {len(patches)} patches but {len(labels)} labels and {len(groups)} groups")
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"haar fit() needs 0/1 labels; found values {np.unique(labels)[:5].tolist()}")
        if len(np.unique(labels)) < 2:  # the data's doing, not the caller's: a user error
            raise InvalidInputError("haar fit() needs both positive (1) and negative (0) patches to rank features; "
                                    f"got {int(labels.sum())} positive and {int((labels == 0).sum())} negative")
        return patches, labels.astype(np.int64), groups

    def _use(self, selection: Selection) -> None:
        self.selection_ = selection
        self.selected_ = np.asarray(selection.indices, np.int64)
        self._matrix: sparse.csr_array = self.bank.matrix(self.selected_)

    def save_state(self, directory: Path) -> list[Path]:
        """Write the selection (indices, names, bank fingerprint) as JSON."""
        return [write_selection(directory, self.bank, self._fitted())]

    def load_state(self, directory: Path) -> None:
        """Read a selection saved by :meth:`save_state`; refuse one made for another bank or configuration."""
        self._use(read_selection(directory, self.bank, self.config.n_selected))

    def _fitted(self) -> Selection:
        if self.selection_ is None:
            raise RuntimeError("haar needs fit() (supervised feature selection on training patches) or load_state() "
                               "(a saved selection) before it can name or extract features")
        return self.selection_

    # ------------------------------------------------------------------ extraction

    def feature_names(self) -> list[str]:
        """``haar_<prototype>_<x>_<y>_<w>_<h>`` of the selected features, most important first."""
        return self.bank.names(self._fitted().indices)

    def extract(self, image: np.ndarray, candidates: Candidates) -> np.ndarray:
        """(N, n_selected) float64: one integral table per patch, then one sparse product."""
        self._fitted()
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"haar needs a 2-D grey image, got shape {image.shape}")
        if not np.isfinite(image).all():
            raise ValueError("haar needs finite pixel values; the image contains NaN or inf")
        patches = extract_patches(image, candidates.xyr[:, :2], self.config.patch_size)
        return np.ascontiguousarray(flat_tables(patches) @ self._matrix, dtype=np.float64)
