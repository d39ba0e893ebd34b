"""The dataset adapter check: unique ids, targets inside their images, deterministic patient-disjoint splits.

An adapter needs a dataset on disk, so it is not parametrized: the plugin's test prepares a root and calls it.
"""

from __future__ import annotations

from pathlib import Path

from calcdet_core.contracts.components import DatasetAdapter
from calcdet_core.contracts.data import Mammogram
from calcdet_core.testing._runtime import kit_check


@kit_check
def check_dataset_adapter(adapter: DatasetAdapter, root: Path, seed: int = 0) -> None:
    """Check an adapter against a dataset root prepared by the caller's test."""
    dataset = adapter.index(Path(root))
    ids = [r.image_id for r in dataset.records]
    assert len(ids) == len(set(ids)), "image ids should be unique"
    for record in dataset.records[:5]:
        image = record.read()
        assert isinstance(image, Mammogram) and image.pixels.ndim == 2, "load() should give a 2-D Mammogram"
        h, w = image.pixels.shape
        for t in record.annotation.targets:
            assert -0.5 <= t.x <= w - 0.5 and -0.5 <= t.y <= h - 0.5, (
                f"{record.image_id}: target ({t.x}, {t.y}) lies outside the {w}x{h} image")
    splits = dataset.split(seed)
    patients = [{r.patient_id for r in recs} for recs in splits.values()]
    for i in range(len(patients)):
        for j in range(i + 1, len(patients)):
            assert not patients[i] & patients[j], "splits should be patient-disjoint"
    assert sum(len(v) for v in splits.values()) == len(dataset.records), "splits should cover every image"
    again = adapter.index(Path(root)).split(seed)
    assert {k: [r.image_id for r in v] for k, v in again.items()} == {
        k: [r.image_id for r in v] for k, v in splits.items()}, "splits should be deterministic for a seed"

