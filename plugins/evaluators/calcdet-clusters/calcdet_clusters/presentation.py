"""``calcdet detect --dicom-sr DIR --dicom-gsps``: a Grayscale Softcopy Presentation State per input DICOM.

An SR's planar ROIs are drawn only by viewers that read TID 1500; a presentation state is the
older, wider-read way to lay graphics over an image. Each one references its source image (Study,
Series, SOP Instance UID) and holds two graphic layers:

- ``DETECTIONS``: per detection a CIRCLE of the detection's radius around its centre, and its score
  as text anchored at the centre;
- ``CLUSTERS``: per cluster a closed POLYLINE around the hull (a POINT for a hull of one point), and
  ``cluster k: n MCs, score s`` anchored at the hull's vertex mean.

Coordinates are PIXEL units, (0, 0) at the top-left corner of the top-left pixel, as in the SR: the
centre of a detection at pixel centre (x, y) of the stored image is (x + 0.5, y + 0.5), stored as a
float32 (GraphicData is FL). A circle's second point (on its rim) is put to the right of the centre,
or to the left where the right one would leave the image; the standard allows no point outside it,
so a rim point is clipped to the image where neither fits.

The image's grey levels are shown as its own header says: the Modality and VOI LUTs are copied from
the image (highdicom does), and the Presentation LUT Shape is INVERSE for a MONOCHROME1 image (a
presentation state's output is MONOCHROME2-like, so IDENTITY would show such a mammogram inverted).
"""

from __future__ import annotations

import numpy as np

from calcdet_clusters.grouping import Cluster
from calcdet_core.api import Detections, RunIdentity


def presentation_state(ds, detections: Detections, clusters: list[Cluster],  # type: ignore[no-untyped-def]
                       run: RunIdentity, settings: object = ()):
    """The GSPS of one image (header ``ds``) showing ``detections`` and ``clusters`` (stored grid); its UIDs derive
    from the image's, the model's and the ``settings`` that chose what it shows."""
    import highdicom as hd
    from highdicom.enum import PresentationLUTShapeValues

    from calcdet_clusters.sr import derived_uid

    layers = [hd.pr.GraphicLayer("DETECTIONS", 1, "calcdet detections: circle of the radius, score"),
              hd.pr.GraphicLayer("CLUSTERS", 2, "calcdet clusters: convex hull, member count, score")]
    size = (float(ds.Columns), float(ds.Rows))
    circles, scores = [], []
    for (x, y), r, s in zip(detections.xyr[:, :2], detections.radius, detections.score, strict=True):
        centre = np.array([x + 0.5, y + 0.5])
        circles.append(hd.pr.GraphicObject(hd.pr.GraphicTypeValues.CIRCLE, np.vstack([centre, _rim(centre, r, size)]),
                                           hd.pr.AnnotationUnitsValues.PIXEL))
        scores.append(hd.pr.TextObject(f"{s:.4g}", hd.pr.AnnotationUnitsValues.PIXEL,
                                       anchor_point=(float(centre[0]), float(centre[1]))))
    outlines, labels = [], []
    for k, cluster in enumerate(clusters):
        hull = cluster.hull + 0.5
        kind = hd.pr.GraphicTypeValues.POINT if len(hull) == 1 else hd.pr.GraphicTypeValues.POLYLINE
        outline = hull if len(hull) == 1 else np.vstack([hull, hull[:1]])  # closed: the first vertex again
        outlines.append(hd.pr.GraphicObject(kind, outline, hd.pr.AnnotationUnitsValues.PIXEL))
        anchor = hull.mean(axis=0)
        labels.append(hd.pr.TextObject(f"cluster {k}: {cluster.count} MCs, score {cluster.score:.4g}",
                                       hd.pr.AnnotationUnitsValues.PIXEL,
                                       anchor_point=(float(anchor[0]), float(anchor[1]))))
    annotations = [hd.pr.GraphicAnnotation([ds], layer, graphic_objects=objects, text_objects=text)
                   for layer, objects, text in ((layers[0], circles, scores), (layers[1], outlines, labels)) if objects]
    shape = PresentationLUTShapeValues.INVERSE if ds.PhotometricInterpretation == "MONOCHROME1" \
        else PresentationLUTShapeValues.IDENTITY
    pr = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[ds], series_instance_uid=derived_uid(ds.StudyInstanceUID, run.model_checksum, "pr"),
        series_number=9002, sop_instance_uid=derived_uid(ds.SOPInstanceUID, settings, "pr"), instance_number=1,
        manufacturer="calcdet",
        manufacturer_model_name=run.algorithm, software_versions=run.version,
        device_serial_number=run.model_checksum[:64], content_label="CALCDET",
        content_description=f"{run.algorithm} {run.version}: {len(detections)} detections, {len(clusters)} clusters",
        graphic_annotations=annotations or None, graphic_layers=layers if annotations else None,
        presentation_lut_transformation=hd.PresentationLUTTransformation(presentation_lut_shape=shape))
    # the series' Laterality is required (type 2C) for a paired organ: the breast the image shows
    laterality = ds.get("Laterality") or ds.get("ImageLaterality")
    if laterality in ("L", "R"):
        pr.Laterality = laterality
    return pr


def _rim(centre: np.ndarray, radius: float, size: tuple[float, float]) -> np.ndarray:
    """A point on the circle's rim inside the image (right of the centre, else left, else clipped to it)."""
    step = np.array([radius, 0.0])
    rim = centre + step if centre[0] + radius <= size[0] else centre - step
    return np.clip(rim, 0.0, size)
