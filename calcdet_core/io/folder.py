"""The ``folder`` dataset adapter: your own images in a folder plus one CSV of MC positions.

    root/
      annotations.csv          image,x,y,diameter[,patient]  (pixels of the stored image)
      case01/img_L_CC.dcm      DICOM, PNG or TIFF, at any depth
      case01/img_L_MLO.png
      ...

An image's id is its path under the root without the suffix (``case01/img_L_CC``); the
CSV's ``image`` column may give that id, the path with suffix, or a file name that is
unique. The patient is the ``patient`` column when given, else the image's top folder,
else the image itself. Images without a row are normal. Calcifications wider than 1 mm
become ignore regions, as in the study. Bad rows and files are reported in ``skipped``.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
from pydantic import Field

from calcdet_core.contracts.components import ComponentConfig, DatasetAdapter
from calcdet_core.contracts.data import (
    MC_MAX_DIAMETER_MM,
    Annotation,
    Dataset,
    IgnoreRegion,
    ImageRecord,
    SkippedItem,
    Target,
)
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.geometry import ellipse_polygon
from calcdet_core.io.images import IMAGE_SUFFIXES, image_header, name_tokens, read_image
from calcdet_core.io.text import read_text_file

REQUIRED_COLUMNS = ("image", "x", "y", "diameter")


def _index_images(root: Path) -> tuple[dict[str, Path], list[SkippedItem]]:
    images: dict[str, Path] = {}
    skipped = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        image_id = rel.with_suffix("").as_posix()
        if image_id in images:
            skipped.append(SkippedItem(rel.as_posix(), f"image id {image_id!r} is already {images[image_id].name}"))
        else:
            images[image_id] = path
    return images, skipped


def _resolver(root: Path, images: dict[str, Path]) -> dict[str, str]:
    """Every name the CSV may use for an image (id, path with suffix, unique file name or stem) -> id."""
    names: dict[str, str] = {}
    by_file: dict[str, list[str]] = defaultdict(list)
    for image_id, path in images.items():
        names[image_id] = names[path.relative_to(root).as_posix()] = image_id
        by_file[path.name].append(image_id)
        by_file[path.stem].append(image_id)
    for short, ids in by_file.items():
        if len(set(ids)) == 1:
            names.setdefault(short, ids[0])
    return names


class FolderDataset(DatasetAdapter):
    """DICOM/PNG/TIFF images in a folder, MC positions in a CSV (image, x, y, diameter)."""

    name = "folder"
    description = "Your own DICOM/PNG/TIFF images in a folder plus a CSV of MCs (image, x, y, diameter)."

    class Config(ComponentConfig):
        annotations: str = Field("annotations.csv", description="CSV of MCs under the root; absent = all normal.")
        spacing_mm: float = Field(0.07, ge=0.01, le=1.0,
                                  description="Pixel spacing (mm) of images that state none (PNG/TIFF), 0.01-1 mm.")
        max_mc_diameter_mm: float = Field(
            MC_MAX_DIAMETER_MM, gt=0, le=10, description="Wider calcifications become ignore regions, as in the study.")

    def index(self, root: Path) -> Dataset:
        root = Path(root)
        if not root.is_dir():
            raise InvalidInputError(f"{root}: not a folder")
        images, skipped = _index_images(root)
        rows, patients, row_skips = self._read_rows(root, images)
        skipped += row_skips
        records = []
        for image_id, path in images.items():
            try:
                records.append(self._record(root, image_id, path, rows.get(image_id, []), patients.get(image_id)))
            except ValueError as exc:
                skipped.append(SkippedItem(path.relative_to(root).as_posix(), f"image left out: {exc}"))
        return Dataset(self.name, root, records, skipped)

    def _read_rows(self, root: Path, images: dict[str, Path]
                   ) -> tuple[dict[str, list[tuple[str, float, float, float]]], dict[str, str], list[SkippedItem]]:
        path = root / self.config.annotations
        rows: dict[str, list[tuple[str, float, float, float]]] = defaultdict(list)
        patients: dict[str, str] = {}
        skipped: list[SkippedItem] = []
        if not path.is_file():
            return rows, patients, skipped
        names = _resolver(root, images)
        with io.StringIO(read_text_file(path, "annotations CSV"), newline="") as f:
            reader = csv.DictReader(f)
            columns = {c.strip().lower(): c for c in reader.fieldnames or []}
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise InvalidInputError(f"{path}: missing column(s) {', '.join(missing)}; "
                                        f"expected a header like {','.join(REQUIRED_COLUMNS)}[,patient]")
            for line, raw in enumerate(reader, start=2):
                where = f"{self.config.annotations}:{line}"
                cell = {k: (raw.get(c) or "").strip() for k, c in columns.items()}
                image_id = names.get(cell["image"])
                if image_id is None:
                    skipped.append(SkippedItem(where, f"image {cell['image']!r} is not in the folder"))
                    continue
                try:
                    x, y, diameter = (float(cell[k]) for k in ("x", "y", "diameter"))
                except ValueError:
                    skipped.append(SkippedItem(where, f"x, y, diameter must be numbers, got "
                                                      f"{cell['x']!r}, {cell['y']!r}, {cell['diameter']!r}"))
                    continue
                if not all(map(math.isfinite, (x, y, diameter))) or diameter <= 0:
                    skipped.append(SkippedItem(where, f"x, y must be finite, diameter > 0; got {x}, {y}, {diameter}"))
                    continue
                rows[image_id].append((where, x, y, diameter))
                if cell.get("patient"):
                    patients.setdefault(image_id, cell["patient"])
        return rows, patients, skipped

    def _record(self, root: Path, image_id: str, path: Path, rows: list[tuple[str, float, float, float]],
                patient: str | None) -> ImageRecord:
        rel = path.relative_to(root)
        patient = patient or (rel.parts[0] if len(rel.parts) > 1 else image_id)
        targets, ignore = [], []
        if rows:
            height, width, spacing = image_header(path)
            spacing_mm = float(np.mean(spacing)) if spacing else self.config.spacing_mm
            for where, x, y, diameter in rows:
                if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
                    raise InvalidInputError(f"{where}: ({x:g}, {y:g}) lies outside the {width}x{height} image")
                if diameter * spacing_mm > self.config.max_mc_diameter_mm:
                    ignore.append(IgnoreRegion(ellipse_polygon(x, y, diameter / 2, diameter / 2, 0.0, 24),
                                               "calcification > 1 mm"))
                else:
                    targets.append(Target(x, y, diameter, None, "MC"))
        laterality, view = name_tokens(path)
        return ImageRecord(image_id=image_id, patient_id=patient, path=path,
                           annotation=Annotation(tuple(targets), tuple(ignore)),
                           read=partial(read_image, path, image_id, patient, self.config.spacing_mm),
                           laterality=laterality, view=view)
