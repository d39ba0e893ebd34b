"""Where a run's images come from: dataset records (found again by reference in worker processes) or DICOM files,
and the step every component's input starts with, the working grid."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from calcdet_core.contracts.data import Annotation, ImageRecord, Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.io.dicom import read_dicom
from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.executor import Executor, job_key
from calcdet_core.run.pipeline import PreprocessSpec


@dataclass(frozen=True)
class DatasetRef:
    """How a worker process finds a dataset record again (records hold loaders that may not pickle)."""

    dataset: str
    root: str
    image_id: str


_DATASET_CACHE: dict[tuple[str, str], dict[str, ImageRecord]] = {}


def resolve_record(item: ImageRecord | DatasetRef) -> ImageRecord:
    """The record itself, or the one a :class:`DatasetRef` names (datasets indexed once per process)."""
    if isinstance(item, ImageRecord):
        return item
    key = (item.dataset, item.root)
    if item.image_id not in _DATASET_CACHE.get(key, {}):
        adapter = get_registry().dataset_adapter(item.dataset)
        _DATASET_CACHE[key] = {r.image_id: r for r in adapter.index(Path(item.root)).records}
    return _DATASET_CACHE[key][item.image_id]


@dataclass
class ImageSource:
    """Records to process, and (for a dataset) how workers find them again."""

    records: list[ImageRecord]
    dataset: str | None = None
    root: str | None = None

    def items(self, executor: Executor) -> list[ImageRecord | DatasetRef]:
        if executor.ships_items and self.dataset is not None and self.root is not None:
            return [DatasetRef(self.dataset, self.root, r.image_id) for r in self.records]
        return list(self.records)

    def job_keys(self) -> list[str]:
        return [job_key(r.image_id) for r in self.records]

    def references(self) -> list[ImageRecord | DatasetRef]:
        """What a process of its own can read the images from: dataset references, else the records.

        The records of this process are remembered, so resolving a reference here reads no index again.
        """
        if self.dataset is None or self.root is None:
            return list(self.records)
        _DATASET_CACHE.setdefault((self.dataset, self.root), {}).update({r.image_id: r for r in self.records})
        return [DatasetRef(self.dataset, self.root, r.image_id) for r in self.records]


def dicom_records(paths: Sequence[Path]) -> list[ImageRecord]:
    """Records for DICOM files and folders given on the command line (image id = file stem; no annotation)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".dcm", ".dicom"))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInputError(f"input {path} does not exist")
    if not files:
        raise InvalidInputError(f"no DICOM files (*.dcm, *.dicom) found in {', '.join(map(str, paths))}")
    stems = Counter(p.stem for p in files)
    clash = [s for s, n in stems.items() if n > 1]
    if clash:
        raise InvalidInputError(f"several input files share the image id (file stem) {clash[0]!r}; "
                                "rename or pass them apart")
    return [ImageRecord(image_id=p.stem, patient_id=p.stem, path=p, annotation=Annotation(),
                        read=partial(read_dicom, p)) for p in files]


def load_working(record: ImageRecord, spec: PreprocessSpec) -> tuple[Mammogram, Annotation]:
    """The preprocessed image and its annotation, both on the working grid."""
    raw = record.read()
    if raw.laterality is None and record.laterality:
        raw = replace(raw, laterality=record.laterality)
    image = preprocess(raw, crop_breast=spec.crop_breast, flip_to_left=spec.flip_to_left,
                       working_spacing_mm=spec.working_spacing_mm)
    return image, record.annotation.transformed(image.transform.to_working, image.transform.size_scale)
