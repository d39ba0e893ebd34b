"""Write phantoms as an INbreast release, laid out exactly as the real one is distributed.

    AllDICOMs/<FileName>_<PatientHash>_MG_<L|R>_<CC|MLO>_ANON.dcm
    AllXML/<FileName>.xml          Apple plist, Images[0].ROIs (only for annotated images)
    INbreast.csv                   semicolon-separated, anonymised columns say "removed"
    phantom_truth.json             the exact truth (not part of a real release); for a family other than
                                   ``default`` also ``family`` and, per image, ``distractors``
"""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from calcdet_core.api import Annotation, write_dicom
from calcdet_phantom.families import DEFAULT, get_family
from calcdet_phantom.synth import PIXEL_MM, Roi, synthesize
from calcdet_phantom.truth import TRUTH_FILE, annotation_to_json, distractors_to_json

CSV_HEADER = "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads"
POSITIVE_PATIENTS = 0.85
"""Share of patients with MCs, in one breast (both its views); about 40 % of images end up normal."""
INBREAST_SIZES = ((4084, 3328), (3328, 2560))
"""INbreast's two image sizes (rows x columns, 70 um): the 24x30 cm and the 18x24 cm detector."""
VIEW_SETS = {2: [("L", "CC"), ("L", "MLO")], 3: [("R", "CC"), ("R", "MLO"), ("L", "CC")],
             4: [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]}


def _roi_plist(index: int, roi: Roi, pixel_mm: float) -> dict:
    points = roi.points
    cx, cy = points.mean(axis=0)
    return {
        "Area": 0.0, "Center": f"({cx:.6f}, {cy:.6f}, 0.000000)", "Dev": 0.0, "IndexInImage": index,
        "Max": 0.0, "Mean": 0.0, "Min": 0.0, "Name": roi.name, "NumberOfPoints": len(points),
        "Point_mm": [f"({x * pixel_mm:.6f}, {y * pixel_mm:.6f}, 0.000000)" for x, y in points],
        "Point_px": [f"({x:.3f}, {y:.3f})" for x, y in points],
        "Total": 0.0, "Type": 19 if len(points) == 1 else 15,
    }


def write_xml(path: Path, rois: Sequence[Roi], height: int, width: int, pixel_mm: float = PIXEL_MM) -> None:
    """The image's ROIs as INbreast's Apple plist (``Point_px`` in the stored grid, ``Point_mm`` at ``pixel_mm``)."""
    h, w = height, width
    rois = [_roi_plist(i, roi, pixel_mm) for i, roi in enumerate(rois)]
    doc = {"Images": [{"ImageHeight": h, "ImageIndex": 0, "ImageWidth": w, "NumberOfROIs": len(rois),
                       "ROIs": rois}]}
    path.write_bytes(plistlib.dumps(doc, fmt=plistlib.FMT_XML))


def birads(annotation: Annotation, rng: np.random.Generator) -> str:
    """A BI-RADS category plausible for an image with (2-5) or without (1-2) MCs."""
    if annotation.targets:
        return str(rng.choice(["2", "3", "4a", "4b", "4c", "5"]))
    return str(rng.choice(["1", "2"]))


def generate_release(out_dir: str | Path, n_images: int, seed: int = 0, height: int | None = None,
                     width: int | None = None, transfer_syntax: str = "explicit",
                     progress: Callable[[int, int], None] | None = None, family: str = DEFAULT,
                     sizes: Sequence[tuple[int, int]] | None = None) -> Path:
    """Write ``n_images`` phantoms of 2-4 images per patient as an INbreast release; return ``out_dir``.

    A patient is MC-positive or negative as a whole (MCs in one breast), so a patient-level split
    stratified by MC status means something, as on INbreast. ``family`` names the generator's
    settings; the ``default`` family writes exactly what the generator always wrote. ``sizes``
    (rows, columns) pairs put each patient on one of them at random (all views of a patient share
    a detector, as on INbreast); without it every image is ``height`` x ``width``.
    """
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    acr = get_family(family).texture.acr_probabilities
    out = Path(out_dir)
    (out / "AllDICOMs").mkdir(parents=True, exist_ok=True)
    (out / "AllXML").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    names = 20586000 + np.sort(rng.choice(900_000, size=n_images, replace=False)) * 10 + rng.integers(0, 10)
    rows, truth = [CSV_HEADER], {}
    done = 0
    while done < n_images:
        per_patient = min(int(rng.integers(2, 5)), n_images - done)
        patient = rng.bytes(8).hex()
        density = int(rng.choice([1, 2, 3, 4], p=acr))
        date = f"20{rng.integers(8, 11):02d}{rng.integers(1, 13):02d}"
        views = VIEW_SETS.get(per_patient, [("R", "CC")])
        affected = str(rng.choice([lat for lat, _ in views])) if rng.random() < POSITIVE_PATIENTS else None
        rows_px, cols_px = sizes[int(rng.integers(len(sizes)))] if sizes else (height or 1664, width or 1280)
        for laterality, view in views:
            file_name = str(names[done])
            phantom = synthesize(rows_px, cols_px, int(rng.integers(2**31)), laterality=laterality,
                                 view=view, density=density, normal=laterality != affected, family=family)
            dicom = f"AllDICOMs/{file_name}_{patient}_MG_{laterality}_{view}_ANON.dcm"
            write_dicom(out / dicom, phantom.image, bits_stored=14, spacing_mm=phantom.spacing_mm,
                        laterality=laterality, view=view, patient_id=patient, transfer_syntax=transfer_syntax,
                        uid_entropy=f"calcdet-phantom/{seed}/{file_name}")
            if phantom.rois:
                write_xml(out / "AllXML" / f"{file_name}.xml", phantom.rois, *phantom.image.shape)
            category = birads(phantom.annotation, rng)
            rows.append(f"removed;removed;{laterality};{view};{date};{file_name};{density};{category}")
            truth[file_name] = {"patient": patient, "laterality": laterality, "view": view, "acr": density,
                                "dicom": dicom, "annotation": annotation_to_json(phantom.annotation)}
            if family != DEFAULT:
                truth[file_name]["distractors"] = distractors_to_json(phantom.distractors)
            done += 1
            if progress is not None:
                progress(done, n_images)
    (out / "INbreast.csv").write_text("\n".join(rows) + "\n")
    head = {"seed": seed, "pixel_spacing_mm": PIXEL_MM} | ({} if family == DEFAULT else {"family": family})
    (out / TRUTH_FILE).write_text(json.dumps({**head, "images": truth}))
    return out
