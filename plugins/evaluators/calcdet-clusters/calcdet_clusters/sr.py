"""``calcdet detect --dicom-sr DIR``: one DICOM Structured Report (TID 1500 measurement report) per input DICOM.

**Which detections.** Only those scoring at least a cutoff are written and clustered: a pipeline that
scores every candidate (AIA-ML) would otherwise fill the SR with thousands of points and link them
into one cluster per breast. The cutoff is ``--dicom-sr-min-score`` when given, else the pipeline's
cluster-froc ``min_score``; with neither the writer refuses (the model directory records no
operating point to fall back on, and a silent default would be a guess).

Each SR references its source image by Study, Series and SOP Instance UID and holds an image-level
group with the number of detections and clusters (an image with none still gets an SR saying so),
one planar ROI group per detection (a POINT, finding "Individual Calcification", with its score and radius) and
one per cluster (a closed POLYLINE around the hull, finding "Calcification Cluster", with its score
and member count). Every measurement carries the algorithm identification: calcdet and the
pipeline's name, calcdet's version, and as parameters the model checksum, the pixel spacing used
for clustering (and whether it was assumed) and the cluster settings.

**Coordinates.** SR image coordinates put (0, 0) at the top-left *corner* of the top-left pixel, so
a detection at pixel centre (x, y) of the stored image (the CSV's numbers) is drawn at
(x + 0.5, y + 0.5). Graphic data are 32-bit floats, which cannot hold every sub-pixel coordinate a
detector gives (the CSV writes float64 with ``repr``), so each detection also carries its x and y as
measurements (NUM items, whose FloatingPointValue is a float64): :func:`read_detections` returns
those, exactly the CSV's numbers, and the point a viewer draws is within float32 rounding of them.
Scores and radii are float64 measurements too.

Patient and study attributes (PatientID, PatientName, StudyDate, ...) are copied from the image;
those it lacks are left empty in the SR (they are type 2: present, may be empty).

**Bad input.** Every input is checked before any SR is written: an input that is not a DICOM file,
or that lacks a StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID or SOPClassUID, is refused with
an error naming the file and the missing attributes. We do not generate UIDs: an SR whose reference
points at a UID the image does not carry would be a broken link in a PACS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from calcdet_clusters.grouping import DEFAULT_SPACING_MM, Cluster, find_clusters
from calcdet_core.api import DetectedOutput, Detections, InvalidInputError, OutputWriter, RunIdentity

REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
EMPTY_ALLOWED = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
                 "StudyDate", "StudyTime")
"""Patient and study attributes an SR copies from its image: type 2 (present, may be empty), so an image
without them gets them empty in the SR, never invented values."""
SCHEME = "99CALCDET"
"""Local coding scheme (a designator starting 99 is private by the standard) for calcdet's own measurements,
declared in each SR's Coding Scheme Identification Sequence."""


def derived_uid(*parts: object) -> str:
    """A UID that is a function of ``parts``: the same image, model and settings give the same SR, so an SR written
    or sent again (``calcdet serve`` after a crash) is the same instance in a PACS, not a second one."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[str(p) for p in parts]))


def coding_scheme_identification():  # type: ignore[no-untyped-def]
    """The Coding Scheme Identification Sequence item declaring :data:`SCHEME`."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "calcdet measurements"
    item.CodingSchemeResponsibleOrganization = "calcdet"
    return item


def _codes():  # type: ignore[no-untyped-def]
    from pydicom.sr.coding import Code

    return {
        "score": Code("score", SCHEME, "Detection score"),
        "radius": Code("radius", SCHEME, "Detection radius"),
        "x": Code("x", SCHEME, "Detection centre column (pixel centre, stored image)"),
        "y": Code("y", SCHEME, "Detection centre row (pixel centre, stored image)"),
        "cluster_score": Code("cluster-score", SCHEME, "Cluster score"),
        "count": Code("count", SCHEME, "Calcifications in cluster"),
        "written": Code("detections", SCHEME, "Detections at or above the score cutoff"),
        "clusters": Code("clusters", SCHEME, "Calcification clusters"),
        "pixels": Code("{pixels}", "UCUM", "pixels"),
    }


def read_sources(images: Sequence[DetectedOutput]) -> list:  # type: ignore[type-arg]
    """Each input's DICOM header; refuses a non-DICOM input or missing UIDs before anything is written."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    headers = []
    for image in images:
        if image.source is None:
            raise InvalidInputError(f"{image.image_id}: --dicom-sr needs DICOM inputs; this image has no source file")
        try:
            ds = pydicom.dcmread(image.source, stop_before_pixels=True)
        except (InvalidDicomError, OSError) as exc:
            raise InvalidInputError(f"{image.source}: --dicom-sr needs DICOM inputs; this file is not one "
                                    f"({exc})") from None
        missing = [k for k in REQUIRED_UIDS if not str(ds.get(k, "") or "").strip()]
        if missing:
            raise InvalidInputError(f"{image.source}: no {', '.join(missing)}; an SR must reference its image by "
                                    "these UIDs, so none is written (calcdet does not invent UIDs for an image)")
        for keyword in EMPTY_ALLOWED:
            if keyword not in ds:
                setattr(ds, keyword, "")
        headers.append(ds)
    return headers


def spacing_of(ds) -> tuple[tuple[float, float] | None, str]:  # type: ignore[no-untyped-def]
    """(row, column) spacing in mm from PixelSpacing or ImagerPixelSpacing, and where it came from."""
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(tag)
        if value is not None and len(value) == 2 and all(float(v) > 0 for v in value):
            return (float(value[0]), float(value[1])), tag
    return None, f"unknown: {DEFAULT_SPACING_MM * 1000:g} um assumed"


def cluster_settings_of(run: RunIdentity, settings: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    """The cluster settings an SR uses, and where they came from: ``settings`` when given, else those of the
    pipeline's ``cluster-froc`` evaluator (``run.evaluators``), else the defaults."""
    from calcdet_clusters.evaluator import ClusterFrocEvaluator, ClusterSettings

    if settings is not None:
        return ClusterSettings(**settings), "given"
    pipeline = run.evaluators.get(ClusterFrocEvaluator.name)
    if pipeline is None:
        return ClusterSettings(), "defaults (the pipeline has no cluster-froc evaluator)"
    return ClusterSettings(**{k: v for k, v in pipeline.items() if k in ClusterSettings.model_fields}), \
        "the pipeline's cluster-froc evaluator"


MISSING_CUTOFF = ("--dicom-sr needs a score cutoff: only detections scoring at least it are written and clustered "
                  "(a pipeline that scores every candidate would otherwise make one cluster per breast), and this "
                  "model has no operating point (`calcdet model show` says why). Give --min-score SCORE (or all), "
                  "--dicom-sr-min-score SCORE, or min_score in the pipeline's cluster-froc evaluator")


def score_cutoff(cluster_settings, settings_source: str,  # type: ignore[no-untyped-def]
                 min_score: float | None, run_min_score: float | None = None) -> tuple[float, str]:
    """The score detections must reach to be written and clustered, and where it came from: ``min_score``
    (``--dicom-sr-min-score``) when given, else the cluster settings' ``min_score``, else the run's
    (``--min-score``: the model's operating point by default), else a refusal."""
    if min_score is not None:
        if math.isnan(min_score):
            raise InvalidInputError("--dicom-sr-min-score: not a number (nan); give a score, or -inf for every one")
        return float(min_score), "--dicom-sr-min-score"
    if cluster_settings.min_score is not None:
        return float(cluster_settings.min_score), f"min_score of {settings_source}"
    if run_min_score is not None:
        return float(run_min_score), "the run's --min-score (default: the model's operating point)"
    raise InvalidInputError(MISSING_CUTOFF)


def dicom_sr_writer(run: RunIdentity, *, min_score: float | None = None, gsps: bool = False,
                    settings: dict | None = None) -> OutputWriter:  # type: ignore[type-arg]
    """The ``dicom-sr`` output writer for ``run`` (``calcdet detect --write dicom-sr=DIR``): its options are
    checked here, before any detection, and the writer it returns is :func:`write_dicom_sr` with them."""
    cluster_settings_of(run, settings)  # refuses settings a cluster cannot take
    score_cutoff(*cluster_settings_of(run, settings), min_score, run.min_score)  # refuses a run with no cutoff
    return partial(write_dicom_sr, run=run, settings=settings, min_score=min_score, gsps=bool(gsps))


def write_dicom_sr(images: Sequence[DetectedOutput], out_dir: Path, *, run: RunIdentity,
                   settings: dict | None = None, min_score: float | None = None,  # type: ignore[type-arg]
                   gsps: bool = False) -> list[Path]:
    """One SR per image into ``out_dir`` (``<image_id>.sr.dcm``), with ``gsps`` also a Grayscale Softcopy
    Presentation State (``<image_id>.pr.dcm``); returns the files.

    Only detections scoring at least the cutoff (:func:`score_cutoff`) are written and clustered. Clusters are
    formed with ``settings`` when given, else as the pipeline's cluster-froc evaluator forms them
    (:func:`cluster_settings_of`); the SR's ``cluster_settings`` parameter says which. Every input is checked
    before any file is written.
    """
    from calcdet_clusters.presentation import presentation_state

    cluster_settings, settings_source = cluster_settings_of(run, settings)
    cutoff, cutoff_source = score_cutoff(cluster_settings, settings_source, min_score, run.min_score)
    headers = read_sources(images)
    if not images:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for image, ds in zip(images, headers, strict=True):
        spacing, spacing_source = spacing_of(ds)
        d = image.detections.subset(image.detections.score >= cutoff)
        clusters = find_clusters(d.xyr[:, :2], d.score, spacing, cluster_settings.distance_mm,
                                 cluster_settings.min_count, cluster_settings.score, cluster_settings.top_k)
        parameters = {"model_checksum": run.model_checksum, "pixel_spacing_mm": spacing_source if spacing is None
                      else f"{spacing[0]:g}\\{spacing[1]:g} ({spacing_source})",
                      "min_score": f"{cutoff!r} ({cutoff_source})",
                      "detections_written": f"{len(d)} of {len(image.detections)}",
                      **{f"cluster_{k}": str(v) for k, v in cluster_settings.model_dump().items()},
                      "cluster_settings": settings_source}
        stem = _safe(image.image_id)
        files.append(_save(_report(ds, d, clusters, run, parameters), out / f"{stem}.sr.dcm"))
        if gsps:
            files.append(_save(presentation_state(ds, d, clusters, run, sorted(parameters.items())),
                               out / f"{stem}.pr.dcm"))
    return files


def _save(dataset, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Write ``dataset`` to ``path`` through a staged file, so no half-written DICOM is ever left there."""
    staged = path.with_name(f".{path.name}.partial")
    dataset.save_as(staged, enforce_file_format=True)
    staged.replace(path)
    return path


def _safe(image_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in image_id) or "image"


def _report(ds, detections: Detections, clusters: list[Cluster], run: RunIdentity,  # type: ignore[no-untyped-def]
            parameters: dict[str, str]):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    c = _codes()
    sop_uid = derived_uid(ds.SOPInstanceUID, sorted(parameters.items()), "sr")
    algorithm = hd.sr.AlgorithmIdentification(name=run.algorithm, version=run.version,
                                              parameters=[f"{k}={v}" for k, v in parameters.items()])
    source = hd.sr.SourceImageForRegion.from_source_image(ds)
    xy = detections.xyr[:, :2]
    # one image-level group first: it says how many were found (none is a finding too; TID 1500 needs a group)
    groups = [hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=derived_uid(sop_uid, "detections"),
                                                     identifier="detections"),
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(ds)], algorithm_id=algorithm,
        measurements=[hd.sr.Measurement(name=c["written"], value=float(len(detections)), unit=codes.UCUM.NoUnits,
                                        algorithm_id=algorithm),
                      hd.sr.Measurement(name=c["clusters"], value=float(len(clusters)), unit=codes.UCUM.NoUnits,
                                        algorithm_id=algorithm)])]
    for i, ((x, y), r, s) in enumerate(zip(xy, detections.radius, detections.score, strict=True)):
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=derived_uid(sop_uid, "detection", i),
                                                         identifier=f"detection {i}"),
            referenced_region=hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POINT,
                                                graphic_data=np.array([[x + 0.5, y + 0.5]]), source_image=source),
            finding_type=codes.DCM.IndividualCalcification,
            measurements=[hd.sr.Measurement(name=c["score"], value=float(s), unit=codes.UCUM.NoUnits,
                                            algorithm_id=algorithm),
                          hd.sr.Measurement(name=c["radius"], value=float(r), unit=c["pixels"],
                                            algorithm_id=algorithm),
                          hd.sr.Measurement(name=c["x"], value=float(x), unit=c["pixels"], algorithm_id=algorithm),
                          hd.sr.Measurement(name=c["y"], value=float(y), unit=c["pixels"], algorithm_id=algorithm)]))
    for k, cluster in enumerate(clusters):
        hull = cluster.hull + 0.5
        kind = hd.sr.GraphicTypeValues.POINT if len(hull) == 1 else hd.sr.GraphicTypeValues.POLYLINE
        outline = hull if len(hull) == 1 else np.vstack([hull, hull[:1]])  # closed: the first vertex again
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=derived_uid(sop_uid, "cluster", k),
                                                         identifier=f"cluster {k}"),
            referenced_region=hd.sr.ImageRegion(graphic_type=kind, graphic_data=outline, source_image=source),
            finding_type=codes.SCT.CalcificationCluster,
            measurements=[hd.sr.Measurement(name=c["cluster_score"], value=cluster.score, unit=codes.UCUM.NoUnits,
                                            algorithm_id=algorithm),
                          hd.sr.Measurement(name=c["count"], value=float(cluster.count), unit=codes.UCUM.NoUnits,
                                            algorithm_id=algorithm)]))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=derived_uid(run.model_checksum, "device"), name=run.algorithm, manufacturer_name="calcdet",
            model_name=run.algorithm, serial_number=run.model_checksum[:64]))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.BreastFfdMammogram, imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[ds], content=report, series_instance_uid=derived_uid(ds.StudyInstanceUID, run.model_checksum, "sr"),
        series_number=9001, sop_instance_uid=sop_uid, instance_number=1, manufacturer="calcdet",
        series_description=f"{run.algorithm} {run.version} microcalcifications", is_complete=True)
    sr.SoftwareVersions = run.version
    sr.CodingSchemeIdentificationSequence = [coding_scheme_identification()]
    return sr


def read_detections(path: Path) -> dict[str, np.ndarray]:
    """Read an SR written here back: ``xy`` (N, 2) pixel centres (exact), ``drawn_xy`` (the points' graphic data,
    float32, minus 0.5), ``score``, ``radius`` and the cluster outlines (graphic data minus 0.5).

    Also the referenced image's SOP Instance UID, the algorithm parameters (model checksum, spacing, cutoff) and
    ``counts``: (detections, clusters) as the SR's image-level group states them.
    """
    import highdicom as hd

    sr = hd.sr.srread(path)
    groups = sr.content.get_planar_roi_measurement_groups()
    c = _codes()
    xy, drawn, score, radius, outlines, cluster_scores = [], [], [], [], [], []
    (summary,) = sr.content.get_image_measurement_groups()
    referenced = {image.referenced_sop_instance_uid for image in summary.source_images}
    parameters = _parameters(summary.get_measurements()[0])
    counts = {m.name.value: int(m.value) for m in summary.get_measurements()}
    for g in groups:
        region = g.roi
        referenced.add(region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        values = {m.name.value: m.value for m in g.get_measurements()}
        points = np.asarray(region.value, dtype=np.float64) - 0.5
        if g.finding_type == codes_dcm_individual():
            xy.append([values[c["x"].value], values[c["y"].value]])
            drawn.append(points[0])
            score.append(values[c["score"].value])
            radius.append(values[c["radius"].value])
        else:
            outlines.append(points)
            cluster_scores.append(values[c["cluster_score"].value])
    return {"xy": np.array(xy, np.float64).reshape(-1, 2), "drawn_xy": np.array(drawn, np.float64).reshape(-1, 2),
            "score": np.array(score), "radius": np.array(radius),
            "clusters": outlines, "cluster_score": np.array(cluster_scores), "referenced": sorted(referenced),
            "parameters": parameters, "counts": (counts[c["written"].value], counts[c["clusters"].value])}


def codes_dcm_individual():  # type: ignore[no-untyped-def]
    from pydicom.sr.codedict import codes

    return codes.DCM.IndividualCalcification


def _parameters(measurement) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The algorithm identification of a measurement: name, version and parameters (DCM 111001-111003)."""
    names = {"111001": "algorithm", "111003": "version"}
    out = {}
    for item in measurement[0].get("ContentSequence", []):
        code = item.ConceptNameCodeSequence[0].CodeValue
        if code in names:
            out[names[code]] = str(item.TextValue)
        elif code == "111002":
            key, _, value = str(item.TextValue).partition("=")
            out[key] = value
    return out
