"""The ``inbreast`` dataset adapter: reads an INbreast release exactly as distributed.

    AllDICOMs/<FileName>_<PatientHash>_MG_<L|R>_<CC|MLO>_ANON.dcm
    AllXML/<FileName>.xml            ROIs of annotated images (Apple plist)
    INbreast.xls or INbreast.csv     ACR density, BI-RADS (anonymised columns say "removed")

The case (patient) is the hash in the DICOM file name. An image without XML, or whose
ROIs hold no MC target, is normal for the FROC. Whatever cannot be used is reported
in ``Dataset.skipped`` (naming the file, row or ROI); an image whose MC truth cannot be
read completely is left out rather than counted as normal: an unreadable XML, a ROI whose
name is not in the vocabulary (``Calcificaton``), or an XML without images or ROIs while
the table does not state the image normal (BI-RADS 1, no finding marked).
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from calcdet_core.api import (
    Annotation,
    ComponentConfig,
    Dataset,
    DatasetAdapter,
    IgnoreRegion,
    ImageRecord,
    InvalidInputError,
    Mammogram,
    SkippedItem,
    Target,
    feret_diameter,
    polygon_centroid,
    read_checked_header,
    read_dicom,
)
from calcdet_inbreast.rois import RawRoi, RoiFile, RoiKind, classify, read_rois
from calcdet_inbreast.table import TableRow, read_table

FILE_PATTERN = re.compile(r"^(?P<file>[^_]+)_(?P<patient>[^_]+)_MG_(?P<lat>[LR])_(?P<view>[A-Z]+)_ANON$",
                          re.IGNORECASE)


class IncompleteTruth(Exception):
    """An MC-relevant ROI cannot be used, so the image's truth is unknown."""


def load_mammogram(path: Path, image_id: str, patient_id: str, laterality: str, view: str,
                   spacing_mm: float | None = None) -> Mammogram:
    """Read one INbreast image; laterality, view and spacing come from the file name and the adapter's
    ``default_spacing_mm`` when the DICOM lacks them (so such an image is resampled like the others)."""
    image = read_dicom(path, image_id=image_id, patient_id=patient_id)
    return replace(image, patient_id=patient_id, laterality=image.laterality or laterality,
                   view=image.view or view,
                   spacing_mm=image.spacing_mm or (None if spacing_mm is None else (spacing_mm, spacing_mm)))


def _inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    return ((points[:, 0] >= -0.5) & (points[:, 0] <= width - 0.5)
            & (points[:, 1] >= -0.5) & (points[:, 1] <= height - 0.5))


class InbreastConfig(ComponentConfig):
    """How ROIs become targets or ignore regions, and the spacing of a DICOM that states none."""

    max_mc_diameter_mm: float = Field(
        1.0, gt=0, le=10, description="Calcifications wider than this (Feret diameter) become ignore regions.")
    point_diameter_px: float = Field(
        1.0, gt=0, le=100, description="Diameter of point-annotated MCs (the study treated them as one pixel).")
    default_spacing_mm: float = Field(
        0.07, ge=0.01, le=1.0, description="Pixel spacing used when a DICOM states none, 0.01-1 mm (INbreast: 70 µm).")
    roi_names: dict[str, Literal["calcification", "cluster", "other"]] = Field(
        default_factory=dict,
        description="Further ROI names and their kind, e.g. {'Calcificaton': 'calcification', 'Nodule': 'other'}; "
                    "an image with a ROI name neither built in nor listed here is left out.")


class InbreastDataset(DatasetAdapter):
    """Reads an INbreast release (DICOMs, ROI plists, table) into records with MC truth."""

    name = "inbreast"
    description = "INbreast as distributed: AllDICOMs, AllXML ROI plists and INbreast.xls/.csv."
    Config = InbreastConfig
    config: InbreastConfig

    def index(self, root: Path) -> Dataset:
        root = Path(root)
        if not root.is_dir():
            raise InvalidInputError(f"inbreast: dataset root {root} is not a folder")
        dicom_dir = root / "AllDICOMs"
        if not dicom_dir.is_dir():
            raise InvalidInputError(f"inbreast: {root} has no AllDICOMs folder; is this an INbreast release?")
        table, skipped, table_name = read_table(root)
        if table_name is None:
            warnings.warn(f"{root}: no INbreast.xls or INbreast.csv; ACR and BI-RADS are unknown", stacklevel=2)
        files: dict[str, tuple[Path, re.Match[str]]] = {}
        for path in sorted(p for p in dicom_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
            match = FILE_PATTERN.match(path.stem) if path.suffix.lower() == ".dcm" else None
            rel = str(path.relative_to(root))
            if match is None:
                skipped.append(SkippedItem(rel, "name is not <FileName>_<PatientHash>_MG_<L|R>_<View>_ANON.dcm"))
            elif match["file"] in files:
                skipped.append(SkippedItem(rel, f"File Name {match['file']} also names {files[match['file']][0].name}"))
            else:
                files[match["file"]] = (path, match)
        for name, row in table.items():
            if name not in files:
                skipped.append(SkippedItem(row.source, f"row for File Name {name} has no DICOM "
                                                       f"AllDICOMs/{name}_*_ANON.dcm"))
        xml_dir = root / "AllXML"
        xmls = {p.stem: p for p in sorted(xml_dir.glob("*.xml"))} if xml_dir.is_dir() else {}
        skipped += [SkippedItem(str(p.relative_to(root)), "ROI file without a DICOM image")
                    for stem, p in xmls.items() if stem not in files]
        records = []
        for name, (path, match) in files.items():
            try:
                records.append(self._record(root, name, path, match, table.get(name), xmls.get(name)))
            except IncompleteTruth as exc:
                skipped.append(SkippedItem(*exc.args))
            except InvalidInputError as exc:
                skipped.append(SkippedItem(str(path.relative_to(root)), f"image left out: {exc}"))
        return Dataset(self.name, root, records, skipped)

    def _record(self, root: Path, name: str, path: Path, match: re.Match[str], row: TableRow | None,
                xml: Path | None) -> ImageRecord:
        """The image's record; IncompleteTruth when its MC truth cannot be read completely."""
        try:  # the declared size is checked before anything is inflated or decoded, as read_dicom checks it
            header = read_checked_header(path)
            height, width = int(header.Rows), int(header.Columns)
            spacing = header.get("PixelSpacing") or header.get("ImagerPixelSpacing")
            spacing_mm = float(np.mean([float(s) for s in spacing])) if spacing else self.config.default_spacing_mm
        except InvalidInputError:  # too large, or no DICOM: the reason names the file
            raise
        except Exception as exc:  # pydicom raises many types for a damaged file; the image is left out
            raise InvalidInputError(f"unreadable DICOM header ({type(exc).__name__}: {exc})") from exc
        laterality, view = match["lat"].upper(), match["view"].upper()
        if row is None:
            warnings.warn(f"{path.name}: no row for File Name {name} in the table; ACR and BI-RADS unknown",
                          stacklevel=3)
        elif (row.laterality, row.view) != (laterality, view) and None not in (row.laterality, row.view):
            warnings.warn(f"{row.source}: laterality/view {row.laterality}/{row.view} disagree with "
                          f"{path.name}; the file name is used", stacklevel=3)
        annotation, other = Annotation(), Counter[str]()
        if xml is not None:
            rel = str(xml.relative_to(root))
            try:
                rois = read_rois(xml)
            except InvalidInputError as exc:
                raise IncompleteTruth(rel, f"{exc}; image {name} left out, its MC truth is unknown") from exc
            self._check_not_empty(rel, name, rois, row)
            annotation, other = self._annotation(rel, name, rois.rois, width, height, spacing_mm)
        return ImageRecord(
            image_id=name, patient_id=match["patient"], path=path, annotation=annotation,
            read=partial(load_mammogram, path, name, match["patient"], laterality, view, spacing_mm),
            laterality=laterality, view=view,
            metadata={"acr": row.acr if row else None, "birads": row.birads if row else None,
                      "spacing_mm": spacing_mm, "shape": (height, width), "other_findings": dict(other)},
        )

    @staticmethod
    def _check_not_empty(rel: str, name: str, rois: RoiFile, row: TableRow | None) -> None:
        """An annotation file without ROIs is normal only where the table says so."""
        if rois.empty is None or (row is not None and row.says_normal):
            return
        stated = row.stated() if row is not None else "the table has no row for it"
        raise IncompleteTruth(rel, f"{rois.empty} but {stated}; image {name} left out, its MC truth is unknown")

    def _annotation(self, rel: str, name: str, rois: list[RawRoi], width: int, height: int,
                    spacing_mm: float) -> tuple[Annotation, Counter[str]]:
        targets: list[Target] = []
        ignore: list[IgnoreRegion] = []
        other: Counter[str] = Counter()
        for roi in rois:
            kind = classify(roi.name, self.config.roi_names)
            if kind is RoiKind.OTHER_LESION:
                other[roi.name] += 1
                continue
            if kind is RoiKind.UNKNOWN:
                raise IncompleteTruth(rel, f"{roi.label}: name not in the ROI vocabulary; image {name} left out, "
                                           "its MC truth is unknown (declare the name in the roi_names setting)")
            is_target = kind is RoiKind.CALCIFICATION and (
                len(roi.points) == 1
                or feret_diameter(roi.points) * spacing_mm <= self.config.max_mc_diameter_mm)
            problem = roi.problem or self._geometry_problem(rel, roi, kind, is_target, width, height)
            if problem:
                raise IncompleteTruth(rel, f"{roi.label}: {problem}; image {name} left out, its MC truth is "
                                           "incomplete")
            if roi.declared_points is not None and roi.declared_points != len(roi.points):
                warnings.warn(f"{rel}: {roi.label}: NumberOfPoints is {roi.declared_points} but Point_px holds "
                              f"{len(roi.points)} points; those are used", stacklevel=4)
            if not is_target:
                ignore.append(IgnoreRegion(roi.points, roi.name))
            elif len(roi.points) == 1:
                (x, y), = roi.points
                targets.append(Target(float(x), float(y), self.config.point_diameter_px, None, roi.name))
            else:
                x, y = polygon_centroid(roi.points)
                targets.append(Target(x, y, feret_diameter(roi.points), roi.points, roi.name))
        return Annotation(tuple(targets), tuple(ignore)), other

    @staticmethod
    def _geometry_problem(rel: str, roi: RawRoi, kind: RoiKind, is_target: bool, width: int,
                          height: int) -> str | None:
        """Why the ROI's points cannot be used; an ignore region may reach past the border (with a warning)."""
        if kind is RoiKind.CLUSTER and len(roi.points) < 3:
            return f"a cluster outline needs at least 3 points, it has {len(roi.points)}"
        inside = _inside(roi.points, width, height)
        if inside.all():
            return None
        x, y = roi.points[np.argmin(inside)]
        where = f"point ({x:g}, {y:g}) lies outside the {width}x{height} image"
        if is_target or not inside.any():
            return where
        warnings.warn(f"{rel}: {roi.label}: {where}; the ignore region is kept as drawn", stacklevel=5)
        return None
