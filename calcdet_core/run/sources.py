"""Where a run's images come from: dataset records (found again by reference in worker processes) or DICOM files,
and the step every component's input starts with, the working grid."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from calcdet_core.contracts.components import DatasetAdapter
from calcdet_core.contracts.data import Annotation, ImageRecord, Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.io.dicom import read_dicom
from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.executor import Executor, job_key
from calcdet_core.run.pipeline import PreprocessSpec, pydantic_issues

DATASET_OPTION = "--dataset-option"
"""How a dataset adapter's settings are given on the command line (``KEY=VALUE``, VALUE read as YAML)."""


@dataclass(frozen=True)
class DatasetChoice:
    """A dataset adapter and the settings it reads with: one value that pickles to worker processes, so every
    process indexes the dataset alike, and enters the stamps of what was computed from it.

    Only settings that differ from the adapter's defaults are kept, so a choice of the defaults equals the
    plain name (and work saved before settings could be given is still reused).
    """

    name: str
    settings_json: str = "{}"

    @classmethod
    def of(cls, name: str | DatasetChoice, settings: Mapping[str, Any] | None = None,
           flag: str = DATASET_OPTION) -> DatasetChoice:
        """``name`` with ``settings`` validated against its adapter's Config; a wrong setting is refused naming
        ``flag`` (how it was given) and the key, with the names it may have meant."""
        if isinstance(name, DatasetChoice):
            return name if not settings else cls.of(name.name, {**name.settings, **settings}, flag)
        if not settings:
            return cls(name)
        config = get_registry().get("datasets", name).Config
        try:
            chosen = config.model_validate(dict(settings))
        except ValidationError as exc:
            issues = pydantic_issues(exc, model=config, owner=f"{name} setting")
            raise InvalidInputError("; ".join(f"{flag} {i.path}: {i.message}" for i in issues)) from None
        kept = chosen.model_dump(mode="json", exclude_defaults=True)
        return cls(name, json.dumps(kept, sort_keys=True))

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that differ from the adapter's defaults."""
        return dict(json.loads(self.settings_json))

    @property
    def identity(self) -> str:
        """The name, followed by the settings when there are any (what work folders and stamps tell apart)."""
        return self.name if self.settings_json == "{}" else f"{self.name} {self.settings_json}"

    def adapter(self) -> DatasetAdapter:
        """A new adapter with these settings."""
        return get_registry().dataset_adapter(self.name, self.settings)

    def __str__(self) -> str:
        return self.name


def parse_dataset_options(options: Sequence[str]) -> dict[str, Any]:
    """``--dataset-option KEY=VALUE`` (repeatable, VALUE read as YAML) as ``{key: value}``; a key given twice is
    refused (the second would silently win)."""
    from calcdet_core.run.overrides import parse_override

    settings: dict[str, Any] = {}
    for option in options:
        if "=" not in option:
            raise InvalidInputError(f"{DATASET_OPTION} expects KEY=VALUE (e.g. spacing_mm=0.1), got {option!r}")
        key, value = parse_override(option, flag=DATASET_OPTION)
        if key in settings:
            raise InvalidInputError(f"{DATASET_OPTION} {key} is given twice")
        settings[key] = value
    return settings


@dataclass(frozen=True)
class DatasetRef:
    """How a worker process finds a dataset record again (records hold loaders that may not pickle)."""

    dataset: DatasetChoice
    root: str
    image_id: str


_DATASET_CACHE: dict[tuple[DatasetChoice, str], dict[str, ImageRecord]] = {}


def resolve_record(item: ImageRecord | DatasetRef) -> ImageRecord:
    """The record itself, or the one a :class:`DatasetRef` names (datasets indexed once per process)."""
    if isinstance(item, ImageRecord):
        return item
    key = (item.dataset, item.root)
    if item.image_id not in _DATASET_CACHE.get(key, {}):
        _DATASET_CACHE[key] = {r.image_id: r for r in item.dataset.adapter().index(Path(item.root)).records}
    return _DATASET_CACHE[key][item.image_id]


@dataclass
class ImageSource:
    """Records to process, and (for a dataset) how workers find them again."""

    records: list[ImageRecord]
    dataset: DatasetChoice | None = None
    root: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.dataset, str):  # a plain adapter name: its default settings
            self.dataset = DatasetChoice(self.dataset)

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
