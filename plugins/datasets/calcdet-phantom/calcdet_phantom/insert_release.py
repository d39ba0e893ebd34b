"""``calcdet insert``'s work: any dataset in, an INbreast-layout release with inserted MCs out.

The release is written as ``calcdet phantom`` writes one (same DICOM, XML, table and
``phantom_truth.json`` conventions), so every pipeline trains and is scored on it unchanged. Each
source image keeps its pixels, intensity scale, bit depth, photometric interpretation (MONOCHROME1
stays MONOCHROME1) and pixel spacing; only inserted MCs change values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.api import ImageRecord, Mammogram, SkippedItem, breast_mask, build_component, write_dicom
from calcdet_phantom.insertion import InsertSettings, insert_mcs
from calcdet_phantom.release import CSV_HEADER, birads, write_xml
from calcdet_phantom.truth import TRUTH_FILE, annotation_to_json

UNKNOWN_VIEW = "UNK"
"""The view written for a source image that states none (INbreast's file names need one)."""


@dataclass
class InsertReport:
    """What an insertion run wrote and what it could not use, each with its reason."""

    written: int = 0
    with_mcs: int = 0
    inserted_mcs: int = 0
    left_out_with_findings: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)
    crowded: list[str] = field(default_factory=list)  # images given fewer MCs than drawn, and how many fewer


def check_paths(source: Path, out: Path) -> None:
    """Refuse an output that is, or lies inside, the source, and an output folder that already holds files."""
    src, dst = source.resolve(), out.resolve()
    if dst == src or src in dst.parents:
        raise ValueError(f"OUT {out} lies inside SRC {source}: the release would become part of its own source")
    if dst in src.parents:
        raise ValueError(f"SRC {source} lies inside OUT {out}: write the release to a folder of its own")
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise ValueError(f"OUT {out} already exists and is not an empty folder; choose a new one")


def _stored_format(record: ImageRecord, image: Mammogram) -> tuple[str, int]:
    """The source's photometric interpretation and bits stored (from its DICOM header when it is one)."""
    import pydicom

    bits = max(int(np.max(image.pixels)).bit_length(), 8)
    try:
        ds = pydicom.dcmread(record.path, stop_before_pixels=True)
    except Exception:  # not a DICOM (PNG, TIFF ... from the folder adapter): as displayed, in the bits it uses
        return "MONOCHROME2", bits
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    return photometric, max(int(ds.get("BitsStored", bits)), bits)


def _laterality(record: ImageRecord, image: Mammogram) -> str:
    """The record's laterality, else the side the breast lies on (a left breast's chest wall is on the left)."""
    known = record.laterality or image.laterality
    if known in ("L", "R"):
        return known
    mask = breast_mask(image.pixels)
    half = mask.shape[1] // 2
    return "R" if int(mask[:, -half:].sum()) > int(mask[:, :half].sum()) else "L"


def _by_patient(records: list[ImageRecord]) -> dict[str, list[ImageRecord]]:
    groups: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.patient_id, r.image_id)):
        groups[record.patient_id].append(record)
    return groups


def _read(record: ImageRecord, spacing_mm: float | None) -> tuple[Mammogram, float] | str:
    """The image and its pixel size in mm, or why it cannot be used."""
    try:
        image = record.read()
    except Exception as exc:  # one unreadable image is reported, not the end of the run
        return f"cannot be read: {exc}"
    if not np.issubdtype(image.pixels.dtype, np.unsignedinteger) or image.pixels.dtype.itemsize > 2:
        return f"pixels are {image.pixels.dtype}; only 8- and 16-bit unsigned images can be written back losslessly"
    spacing = float(np.mean(image.spacing_mm)) if image.spacing_mm else spacing_mm
    if spacing is None:
        return "states no pixel spacing (MC sizes are physical); give --spacing-mm"
    return image, spacing


def _insert_one(record: ImageRecord, out: Path, file_name: str, patient: str, abnormal: bool,
                settings: InsertSettings, spacing_mm: float | None, seed: int, rng: np.random.Generator
                ) -> tuple[str, dict] | SkippedItem:
    """Write one image of the release (DICOM, XML when it has ROIs); its table row and truth, or why it was skipped."""
    read = _read(record, spacing_mm)
    if isinstance(read, str):
        return SkippedItem(str(record.path), f"image {record.image_id} {read}")
    image, pixel_mm = read
    photometric, bits = _stored_format(record, image)
    inserted = insert_mcs(image.pixels, pixel_mm, record.annotation, settings, rng, abnormal=abnormal,
                          max_value=(1 << bits) - 1)
    if inserted is None:
        return SkippedItem(str(record.path), f"image {record.image_id} has no breast region")
    laterality, view = _laterality(record, image), record.view or image.view or UNKNOWN_VIEW
    dicom = f"AllDICOMs/{file_name}_{patient}_MG_{laterality}_{view}_ANON.dcm"
    write_dicom(out / dicom, inserted.pixels, bits_stored=bits, spacing_mm=(pixel_mm, pixel_mm),
                laterality=laterality, view=view, patient_id=patient, photometric=photometric,
                uid_entropy=f"calcdet-insert/{seed}/{file_name}")
    if inserted.rois:
        write_xml(out / "AllXML" / f"{file_name}.xml", inserted.rois, *inserted.pixels.shape, pixel_mm)
    acr = record.metadata.get("acr")
    category = birads(inserted.annotation, rng) if inserted.n_inserted else (
        record.metadata.get("birads") or birads(inserted.annotation, rng))
    row = f"removed;removed;{laterality};{view};removed;{file_name};{acr or ''};{category}"
    return row, {"patient": patient, "laterality": laterality, "view": view, "acr": acr, "dicom": dicom,
                 "source": record.image_id, "inserted": inserted.n_inserted, "unplaced": inserted.unplaced,
                 "annotation": annotation_to_json(inserted.annotation)}


def insert_release(source: str | Path, out: str | Path, *, dataset: str = "inbreast", seed: int = 0,
                   normals_only: bool = False, settings: InsertSettings | None = None,
                   spacing_mm: float | None = None, dataset_settings: Mapping[str, Any] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> InsertReport:
    """Insert MCs into the images of ``source`` (read by the ``dataset`` adapter with its ``dataset_settings``)
    and write a release to ``out``; ``spacing_mm`` is the pixel size of images neither they nor the adapter size.

    ``normals_only`` leaves out every image with an MC target, so no MC annotation is used at all;
    otherwise the source's truth is kept and insertions are added to it. Each breast (all its
    views) is given MCs with probability ``settings.abnormal_share``; the others stay as they were.
    Deterministic for ``seed``.
    """
    settings = settings or InsertSettings()
    source, out = Path(source), Path(out)
    check_paths(source, out)
    indexed = build_component("datasets", dataset, dict(dataset_settings or {})).index(source)
    report = InsertReport(skipped=list(indexed.skipped))
    records = indexed.records
    if normals_only:
        report.left_out_with_findings = sum(not r.is_normal for r in records)
        records = [r for r in records if r.is_normal]
    if not records:
        raise ValueError(f"{source}: the {dataset!r} adapter found no image to insert into"
                         + (" (--normals-only: no normal image)" if normals_only else ""))
    (out / "AllDICOMs").mkdir(parents=True, exist_ok=True)
    (out / "AllXML").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    names = 20586000 + np.sort(rng.choice(900_000, size=len(records), replace=False)) * 10 + rng.integers(0, 10)
    rows, truth, done = [CSV_HEADER], {}, 0
    for patient, group in _by_patient(records).items():
        hashed = hashlib.sha256(f"calcdet-insert/{seed}/{patient}".encode()).hexdigest()[:16]
        sides = sorted({r.laterality or "?" for r in group})
        abnormal = {side: bool(rng.random() < settings.abnormal_share) for side in sides}
        for record in group:
            image_rng = np.random.default_rng(rng.integers(2**63))
            file_name = str(names[done])
            done += 1
            written = _insert_one(record, out, file_name, hashed, abnormal[record.laterality or "?"],
                                  settings, spacing_mm, seed, image_rng)
            if isinstance(written, SkippedItem):
                report.skipped.append(written)
            else:
                row, truth[file_name] = written
                rows.append(row)
                report.written += 1
                report.with_mcs += bool(truth[file_name]["inserted"])
                report.inserted_mcs += truth[file_name]["inserted"]
                if truth[file_name]["unplaced"]:
                    report.crowded.append(f"{record.image_id}: {truth[file_name]['unplaced']} MC(s) or cluster(s) "
                                          "found no room clear of the skin line and existing findings")
            if progress is not None:
                progress(done, len(records))
    (out / "INbreast.csv").write_text("\n".join(rows) + "\n")
    head = {"seed": seed, "inserted_into": str(source.resolve()), "dataset": dataset,
            **({"dataset_settings": dict(dataset_settings)} if dataset_settings else {}), "normals_only": normals_only,
            "settings": dataclasses.asdict(settings)}
    (out / TRUTH_FILE).write_text(json.dumps({**head, "images": truth,
                                              "skipped": [dataclasses.asdict(s) for s in report.skipped]}))
    return report
