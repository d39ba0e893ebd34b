"""Patient-level data splits: no patient in two splits, MC-positive share kept per split.

Records are anything with a ``patient_id`` and ``is_normal`` (an :class:`ImageRecord`), so
this module needs nothing from :mod:`calcdet_core.contracts.data`, which imports it for
``Dataset.split``: the dependency runs one way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

SPLIT_NAMES = ("train", "validation", "test")
DEFAULT_SPLIT_FRACTIONS = (0.33, 0.17, 0.50)


class PatientImage(Protocol):
    """What a split needs to know of a record."""

    @property
    def patient_id(self) -> str: ...

    @property
    def is_normal(self) -> bool: ...


RecordT = TypeVar("RecordT", bound=PatientImage)


def _allocate(n: int, fractions: Sequence[float]) -> list[int]:
    """Split ``n`` items into counts proportional to ``fractions`` (largest remainder)."""
    raw = np.asarray(fractions, dtype=np.float64) / np.sum(fractions) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def patient_split(
    records: Sequence[RecordT], seed: int, fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS
) -> dict[str, list[RecordT]]:
    """Assign whole patients to train/validation/test.

    Patients are stratified by whether any of their images holds an MC target, so each
    split keeps the dataset's MC-positive share; the order is deterministic for a seed.
    """
    if len(fractions) != len(SPLIT_NAMES) or min(fractions) < 0 or sum(fractions) <= 0:
        raise ValueError(f"fractions must be {len(SPLIT_NAMES)} non-negative numbers, got {fractions}")
    by_patient: dict[str, list[RecordT]] = defaultdict(list)
    for record in records:
        by_patient[record.patient_id].append(record)
    positive = sorted(p for p, recs in by_patient.items() if any(not r.is_normal for r in recs))
    negative = sorted(p for p in by_patient if p not in set(positive))
    rng = np.random.default_rng(seed)
    splits: dict[str, list[RecordT]] = {name: [] for name in SPLIT_NAMES}
    for stratum in (positive, negative):
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        start = 0
        for name, count in zip(SPLIT_NAMES, _allocate(len(order), fractions), strict=True):
            for patient in order[start : start + count]:
                splits[name].extend(by_patient[patient])
            start += count
    return splits
