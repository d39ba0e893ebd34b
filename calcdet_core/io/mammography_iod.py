"""The attributes the Digital Mammography X-Ray Image IOD (PS3.3 A.26) requires, for images calcdet writes.

A phantom release is read by PACS and viewers as well as by calcdet, so its images carry every
mandatory attribute: type 1 with the value that describes them (a for-presentation image, log
pixel intensity, the breast as anatomic region, the view as a code), type 2 present and empty where
a synthetic image has no value (patient name, birth date, referring physician, accession number).
``dciodvfy`` (dicom3tools) finds no error in them (tested where it is installed).
"""

from __future__ import annotations

from pydicom.dataset import Dataset

VIEWS = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique"),
         "ML": ("399260004", "medial-lateral"), "LM": ("399352003", "lateral-medial")}
"""ViewPosition -> SNOMED CT code of the view (CID 4014)."""
ORIENTATION = {("L", "CC"): ("A", "R"), ("R", "CC"): ("P", "L"), ("L", "MLO"): ("A", "FR"),
               ("R", "MLO"): ("P", "FL"), ("L", "ML"): ("A", "FR"), ("R", "ML"): ("P", "FL"),
               ("L", "LM"): ("A", "FR"), ("R", "LM"): ("P", "FL")}
"""(laterality, view) -> Patient Orientation of an image stored with the chest wall on the left for a left breast
and mirrored for a right one (how calcdet writes and INbreast stores them)."""


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def add_mammography_attributes(ds: Dataset, laterality: str | None, view: str | None, bits_stored: int) -> None:
    """Fill ``ds`` (pixel data set, UIDs given) with the rest of the IOD's mandatory attributes."""
    for keyword in ("PatientName", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
                    "ReferringPhysicianName", "AccessionNumber", "Manufacturer", "SeriesNumber", "InstanceNumber",
                    "ContentDate", "ContentTime", "AcquisitionDeviceProcessingDescription", "DetectorType"):
        if keyword not in ds:
            setattr(ds, keyword, "")
    ds.Manufacturer = ds.Manufacturer or "calcdet"
    ds.SeriesNumber, ds.InstanceNumber = ds.SeriesNumber or 1, ds.InstanceNumber or 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "LOG", 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 1 << (bits_stored - 1), 1 << bits_stored
    ds.PresentationLUTShape = "INVERSE" if ds.PhotometricInterpretation == "MONOCHROME1" else "IDENTITY"
    ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
    ds.BodyPartExamined, ds.OrganExposed, ds.PositionerType = "BREAST", "BREAST", "MAMMOGRAPHIC"
    ds.AnatomicRegionSequence = [_code("76752008", "Breast")]
    ds.AcquisitionContextSequence = []
    view_code = VIEWS.get(str(view or "").upper())
    if view_code is not None:
        item = _code(*view_code)
        item.ViewModifierCodeSequence = []
        ds.ViewCodeSequence = [item]
    else:
        ds.ViewCodeSequence = []
    orientation = ORIENTATION.get((str(laterality or "").upper(), str(view or "").upper()))
    ds.PatientOrientation = list(orientation) if orientation else ""
    if "ImagerPixelSpacing" not in ds and "PixelSpacing" in ds:
        ds.ImagerPixelSpacing = ds.PixelSpacing
