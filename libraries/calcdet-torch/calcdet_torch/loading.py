"""Training images read lazily, one item per image, by ``workers - 1`` loader processes (torch).

Every detector draws its per-image training items (windows, patches) the same way: a map-style
dataset whose item ``k`` is image ``k``'s draw with its own seed, so the result does not depend on
which process reads which image, and a ``DataLoader`` that hands the items over one image at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from calcdet_core.api import ImageStream, TrainingImage


class EpochWindows:
    """Item ``k``: ``sample(stream.draw(k, rng_k), spec, rng_k, augment)``, ``rng_k`` seeded per image from ``rng``.

    ``stream.draw`` gives the image a fresh pass through the pipeline's training transform (new
    inserted MCs every epoch); without one it is ``stream[k]``.

    ``sample`` must be a module-level function, so the dataset pickles into loader processes.
    """

    def __init__(self, stream: ImageStream, spec: Any, rng: np.random.Generator, augment: bool,
                 sample: Callable[[TrainingImage, Any, np.random.Generator, bool], Any]) -> None:
        self.stream, self.spec, self.augment, self.sample = stream, spec, augment, sample
        self.seeds = rng.integers(2**63, size=len(stream))

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, k: int) -> Any:
        rng = np.random.default_rng(self.seeds[k])
        return self.sample(self.stream.draw(k, rng), self.spec, rng, self.augment)


def _as_is(item: Any) -> Any:
    return item


def read_items(dataset: Dataset | Sized, workers: int, order: np.ndarray | None = None) -> Iterator[Any]:
    """Each image's item, in ``order`` (default: stream order), read by ``workers - 1`` processes when > 1."""
    picks = None if order is None else [int(i) for i in order]
    yield from DataLoader(dataset, batch_size=None, collate_fn=_as_is, sampler=picks, num_workers=max(0, workers - 1))
