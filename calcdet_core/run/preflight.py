"""Preflight: what a pipeline's settings need of the data, checked after the split and before any work.

Each component says what it needs through :meth:`~calcdet_core.contracts.components.Component.data_needs`
(the core knows no plugin's parameters); every unmet need is listed at its YAML path with a ``--set``
that fits, so a run that would fail after minutes of feature extraction stops in a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from calcdet_core.contracts.components import SplitFacts
from calcdet_core.contracts.data import ImageRecord
from calcdet_core.errors import InvalidInputError
from calcdet_core.run.pipeline import Pipeline


def split_facts(records: Sequence[ImageRecord]) -> SplitFacts:
    return SplitFacts(len(records), len({r.patient_id for r in records}), sum(r.is_normal for r in records),
                      sum(len(r.annotation.targets) for r in records))


def unmet_needs(pipeline: Pipeline, splits: Mapping[str, Sequence[ImageRecord]]) -> list[str]:
    """Every need of every component the ``train`` and ``validation`` splits do not meet, at its YAML path."""
    train, validation = split_facts(splits["train"]), split_facts(splits["validation"])
    problems = []
    for path, component in pipeline.components():
        for need in component.data_needs(train, validation):
            where = f"{path}.params.{need.param}"
            fix = f" (--set {where}={need.fits} fits)" if need.fits is not None else ""
            problems.append(f"{where}: {need.reason}{fix}")
    return problems


def check_data_needs(pipeline: Pipeline, splits: Mapping[str, Sequence[ImageRecord]], dataset: str) -> None:
    """Refuse, before any work, a pipeline whose settings this dataset's split cannot meet."""
    problems = unmet_needs(pipeline, splits)
    if problems:
        listed = "\n".join(f"  {p}" for p in problems)
        raise InvalidInputError(f"pipeline {pipeline.spec.name!r} cannot be trained on this {dataset} split:\n{listed}")
