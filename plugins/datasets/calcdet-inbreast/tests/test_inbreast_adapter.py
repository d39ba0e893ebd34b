"""The INbreast adapter on a phantom release and on a hand-written release with the real, messy vocabulary."""

from __future__ import annotations

import json
import plistlib
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from calcdet_inbreast import InbreastDataset, classify
from calcdet_inbreast.rois import RoiKind

from calcdet_core.api import CalcdetUserError, read_dicom, write_dicom
from calcdet_core.testing import check_dataset_adapter, parametrize_with_checks

HEADER = "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads"


def generate_release(out: Path, n_images: int, seed: int, height: int, width: int) -> Path:
    """A phantom INbreast release with exact truth, from calcdet-phantom's ``calcdet phantom`` command.

    Run as a user runs it, so this plugin's tests import no other plugin.
    """
    command = [sys.executable, "-m", "calcdet_core", "phantom", str(out), "--images", str(n_images),
               "--seed", str(seed), "--height", str(height), "--width", str(width)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"`calcdet phantom` failed (is calcdet-phantom installed?):\n{done.stderr}"
    return out


def load_truth(root: Path) -> dict[str, dict[str, Any]]:
    """The release's exact truth, per image (FileName): metadata and the annotation in the stored grid."""
    return json.loads((root / "phantom_truth.json").read_text())["images"]


@pytest.fixture(scope="module")
def phantom_root(tmp_path_factory) -> Path:
    return generate_release(tmp_path_factory.mktemp("phantom"), n_images=16, seed=4, height=160, width=128)


@parametrize_with_checks([InbreastDataset()])
def test_conformance(component, check):
    check(component)


def test_conformance_on_a_release(phantom_root):
    check_dataset_adapter(InbreastDataset(), phantom_root)


def test_phantom_release_reads_back_exactly(phantom_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean release raises no warning
        dataset = InbreastDataset().index(phantom_root)
    truth = load_truth(phantom_root)
    assert dataset.skipped == []
    assert sorted(r.image_id for r in dataset.records) == sorted(truth)
    assert sum(len(t["annotation"]["targets"]) for t in truth.values()) > 10, "the release should hold MCs"
    for record in dataset.records:
        expected = truth[record.image_id]
        assert record.patient_id == expected["patient"]
        assert (record.laterality, record.view, record.metadata["acr"]) == (
            expected["laterality"], expected["view"], expected["acr"])
        got, want = record.annotation, expected["annotation"]
        assert len(got.targets) == len(want["targets"]) and len(got.ignore) == len(want["ignore"])
        for g, w in zip(got.targets, want["targets"], strict=True):
            assert abs(g.x - w["x"]) < 1e-6 and abs(g.y - w["y"]) < 1e-6, f"{record.image_id}: {g} vs {w}"
            if w["contour"] is not None:
                assert abs(g.diameter - w["diameter"]) < 1e-6
        image = record.read()
        assert image.laterality == record.laterality and image.pixels.dtype == np.uint16


def test_splits_are_patient_disjoint_and_stratified(tmp_path):
    root = generate_release(tmp_path / "release", n_images=40, seed=12, height=96, width=80)
    dataset = InbreastDataset().index(root)
    splits = dataset.split(seed=1)
    patients = {k: {r.patient_id for r in v} for k, v in splits.items()}
    assert not (patients["train"] & patients["validation"] or patients["train"] & patients["test"]
                or patients["validation"] & patients["test"])
    assert sum(len(v) for v in splits.values()) == len(dataset.records)
    assert len(patients["test"]) > len(patients["train"]) > len(patients["validation"]) > 0
    positive = {r.patient_id for r in dataset.records if not r.is_normal}
    negative = {r.patient_id for r in dataset.records} - positive
    assert len(negative) >= 3 and len(positive) >= 6, "the release should hold both kinds of patient"
    for name in ("train", "test"):
        assert patients[name] & positive and patients[name] & negative, f"{name} holds both kinds of patient"
    again = InbreastDataset().index(root).split(seed=1)
    assert [r.image_id for r in again["test"]] == [r.image_id for r in splits["test"]]


# --------------------------------------------------------------------------- a hand-written miniature release

H, W = 60, 48


def _roi(name: str, points: list[tuple[float, float]], declared: int | None = None) -> dict:
    return {"Name": name, "NumberOfPoints": len(points) if declared is None else declared,
            "Point_px": [f"({x}, {y})" for x, y in points], "Type": 19}


def _square(cx: float, cy: float, half: float) -> list[tuple[float, float]]:
    return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]


def _write_xml(root: Path, file_name: str, rois: list[dict]) -> None:
    doc = {"Images": [{"ImageIndex": 0, "NumberOfROIs": len(rois), "ROIs": rois}]}
    (root / "AllXML" / f"{file_name}.xml").write_bytes(plistlib.dumps(doc))


def _mini_release(root: Path) -> Path:
    (root / "AllDICOMs").mkdir(parents=True)
    (root / "AllXML").mkdir()
    pixels = np.full((H, W), 900, np.uint16)
    images = {  # file name: (patient, laterality, view)
        "20586908": ("6c613a14b80a8591", "R", "CC"), "20586934": ("6c613a14b80a8591", "R", "MLO"),
        "22614236": ("8bd3f8d6d3f2bd36", "L", "CC"), "22614266": ("8bd3f8d6d3f2bd36", "L", "MLO"),
        "24055274": ("e4a4e6f3bb4b2b6f", "L", "CC"), "24055355": ("e4a4e6f3bb4b2b6f", "L", "MLO"),
    }
    for name, (patient, lat, view) in images.items():
        write_dicom(root / "AllDICOMs" / f"{name}_{patient}_MG_{lat}_{view}_ANON.dcm", pixels, laterality=lat,
                    view=view)
    (root / "AllDICOMs" / "notes.txt").write_text("scanner export log")
    _write_xml(root, "20586908", [
        _roi("Calcification", [(10, 12)]),  # a point: target
        _roi("Calcifications", _square(20.5, 30.5, 2)),  # contour 5.7 px = 0.4 mm: target
        _roi("Point 1", [(33, 40)]), _roi("Point 3", [(35, 44)]),
        _roi("Cluster", [(5, 5), (30, 5), (30, 50), (5, 50)]),  # ignore region
        _roi("Calcification", _square(30, 20, 6)),  # 17 px = 1.2 mm: ignore region
        _roi("Mass", _square(24, 30, 10)), _roi("Espiculated Region", _square(24, 30, 12)),
        _roi("Assymetry", _square(20, 20, 8)),
    ])
    _write_xml(root, "20586934", [_roi("Calcification", [(7, 8), (9, 8), (9, 10)], declared=4)])
    _write_xml(root, "22614236", [_roi("Mass", _square(20, 20, 5))])  # masses only: normal
    (root / "AllXML" / "22614266.xml").write_text("<plist><dict><key>Images</key>")  # truncated file
    _write_xml(root, "24055274", [_roi("Calcification", [(W + 5, 10)])])  # target outside the image
    _write_xml(root, "99999999", [_roi("Calcification", [(1, 1)])])  # XML without its image
    # 24055355 has no XML at all: normal
    rows = [HEADER,
            "removed;removed;R;CC;201001;20586908;4;5",
            "removed;removed;R;MLO;201001;20586934;4;5",
            "removed;removed;L;CC;201002;22614236;   ;2",  # blank ACR padded with spaces
            "removed;removed;L;MLO;201002;22614266;2;2;;",  # trailing separators
            "removed;removed;L;CC;200912;24055274;1;4c",
            "removed;removed;L;MLO;200912;24055355;1",  # Bi-Rads cell left out
            "removed;removed;L;MLO;200912;24055356;1;1;extra",  # one field too many
            "removed;removed;R;CC;200912;51049107;3;1",  # no DICOM for this row
            ""]
    (root / "INbreast.csv").write_text("\n".join(rows))
    return root


def test_vocabulary():
    assert classify("Calcification") is classify("calcifications ") is classify("Point 3") is RoiKind.CALCIFICATION
    assert classify("Cluster") is RoiKind.CLUSTER
    assert {classify(n) for n in ("Mass", "Espiculated Region", "Assymetry", "Distortion")} == {RoiKind.OTHER_LESION}
    assert classify("Unnamed") is classify("Calcificaton") is RoiKind.UNKNOWN
    assert classify(" calcificaton", {"Calcificaton": "calcification"}) is RoiKind.CALCIFICATION


def test_miniature_release_with_messy_vocabulary(tmp_path):
    root = _mini_release(tmp_path)
    with pytest.warns(UserWarning, match=r"AllXML/20586934\.xml: ROI 0 'Calcification': NumberOfPoints is 4"):
        dataset = InbreastDataset().index(root)
    records = {r.image_id: r for r in dataset.records}
    assert sorted(records) == ["20586908", "20586934", "22614236", "24055355"]

    first = records["20586908"].annotation
    assert [(t.x, t.y, t.label) for t in first.targets] == [
        (10.0, 12.0, "Calcification"), (20.5, 30.5, "Calcifications"), (33.0, 40.0, "Point 1"),
        (35.0, 44.0, "Point 3")]
    assert first.targets[0].diameter == 1.0 and first.targets[0].contour is None
    assert first.targets[1].diameter == pytest.approx(4 * np.sqrt(2))
    assert [r.label for r in first.ignore] == ["Cluster", "Calcification"]
    assert records["20586908"].metadata["other_findings"] == {"Mass": 1, "Espiculated Region": 1, "Assymetry": 1}
    assert records["20586908"].patient_id == "6c613a14b80a8591"
    assert records["20586908"].metadata["acr"] == 4 and records["20586908"].metadata["birads"] == "5"

    (t,) = records["20586934"].annotation.targets
    assert (round(t.x, 6), round(t.y, 6)) == (round(25 / 3, 6), round(26 / 3, 6))
    assert records["22614236"].is_normal and records["22614236"].metadata["acr"] is None
    assert records["24055355"].is_normal and records["24055355"].metadata["acr"] == 1
    assert records["24055355"].metadata["birads"] is None

    reasons = {(s.path, s.reason.split(";")[0]) for s in dataset.skipped}
    paths = {s.path for s in dataset.skipped}
    assert paths == {"AllDICOMs/notes.txt", "INbreast.csv:8", "INbreast.csv:9", "AllXML/99999999.xml",
                     "AllXML/22614266.xml", "AllXML/24055274.xml"}
    assert ("INbreast.csv:8", "row has 9 fields, the header 8") in reasons
    assert any(p == "INbreast.csv:9" and "51049107" in r for p, r in reasons)
    assert any(p == "AllXML/24055274.xml" and "ROI 0 'Calcification': point (53, 10) lies outside" in r
               for p, r in reasons)
    assert any(p == "AllXML/22614266.xml" and "not an INbreast ROI plist" in r for p, r in reasons)


def test_xls_table_is_preferred(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    root = _mini_release(tmp_path)
    book = xlwt.Workbook()
    sheet = book.add_sheet("INbreast")
    for c, name in enumerate(HEADER.split(";")):
        sheet.write(0, c, name)
    for r, (file_name, acr) in enumerate([(20586908, 3.0), (20586934, ""), (22614236, 1.0)], start=1):
        for c, value in enumerate(["removed", "removed", "R", "CC", 201001, float(file_name), acr, "4a"]):
            sheet.write(r, c, value)
    book.save(str(root / "INbreast.xls"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = InbreastDataset().index(root)
    records = {r.image_id: r for r in dataset.records}
    assert records["20586908"].metadata["acr"] == 3 and records["20586934"].metadata["acr"] is None
    assert records["20586908"].metadata["birads"] == "4a"
    assert not any(s.path.startswith("INbreast.csv") for s in dataset.skipped)


def test_not_a_release(tmp_path):
    with pytest.raises(CalcdetUserError, match="no AllDICOMs folder"):
        InbreastDataset().index(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(CalcdetUserError, match="is not a folder"):
        InbreastDataset().index(tmp_path / "file")


def calcdet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, check=False)


def test_cli_reports_a_folder_that_is_no_release_without_a_traceback(tmp_path):
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert f"{tmp_path} has no AllDICOMs folder" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_cli_reports_an_unreadable_table_without_a_traceback(tmp_path):
    root = _mini_release(tmp_path)
    (root / "INbreast.xls").write_bytes(b"not a workbook")
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(root))
    assert done.returncode == 1, done.stderr
    assert "INbreast.xls: not a readable .xls workbook" in done.stderr and "Traceback" not in done.stderr
    (root / "INbreast.xls").unlink()
    (root / "INbreast.csv").write_text("Patient ID;ACR\n")
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(root))
    assert done.returncode == 1 and "INbreast.csv: header lacks File Name" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_damaged_dicom_header_leaves_its_image_out(tmp_path):
    root = _mini_release(tmp_path)
    damaged = next((root / "AllDICOMs").glob("24055355_*.dcm"))
    damaged.write_bytes(damaged.read_bytes()[:200])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = InbreastDataset().index(root)
    assert "24055355" not in {r.image_id for r in dataset.records}
    (skip,) = [s for s in dataset.skipped if s.path == f"AllDICOMs/{damaged.name}"]
    assert skip.reason.startswith("image left out: unreadable DICOM header")


def test_a_dicom_declaring_a_huge_image_is_left_out_from_its_header(tmp_path):
    import pydicom

    root = _mini_release(tmp_path)
    path = next((root / "AllDICOMs").glob("24055355_*.dcm"))
    ds = pydicom.dcmread(path)
    ds.Rows = ds.Columns = 16000  # the pixel data stays small: only the header is read while indexing
    ds.save_as(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = InbreastDataset().index(root)
    (skip,) = [s for s in dataset.skipped if s.path == f"AllDICOMs/{path.name}"]
    assert skip.reason.startswith(f"image left out: {path}: Rows x Columns x SamplesPerPixel x NumberOfFrames = "
                                  "16000 x 16000")


def test_load_gives_the_stored_image(tmp_path):
    root = _mini_release(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = next(r for r in InbreastDataset().index(root).records if r.image_id == "24055355")
    image = record.read()
    np.testing.assert_array_equal(image.pixels, read_dicom(record.path).pixels)
    assert (image.image_id, image.patient_id, image.laterality, image.view) == (
        "24055355", "e4a4e6f3bb4b2b6f", "L", "MLO")


def _index_quietly(root: Path, **config: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = InbreastDataset(**config).index(root)
    return {"ids": {r.image_id for r in dataset.records}, "records": {r.image_id: r for r in dataset.records},
            "skipped": {s.path: s.reason for s in dataset.skipped}}


@pytest.mark.parametrize("doc, empty", [({"Images": []}, "the file holds no images"),
                                        ({"Images": [{"ImageIndex": 0}]}, "Images[0] holds no ROIs"),
                                        ({"Images": [{"ImageIndex": 0, "ROIs": []}]}, "Images[0] holds no ROIs")])
def test_an_empty_roi_file_of_an_image_with_findings_is_left_out(tmp_path, doc, empty):
    root = _mini_release(tmp_path)
    (root / "AllXML" / "20586908.xml").write_bytes(plistlib.dumps(doc))  # the table gives BI-RADS 5
    got = _index_quietly(root)
    assert "20586908" not in got["ids"], "an image with findings must not become a normal image"
    reason = got["skipped"]["AllXML/20586908.xml"]
    assert reason.startswith(f"{empty} but INbreast.csv:2 gives BI-RADS 5") and "left out" in reason


def test_an_empty_roi_file_is_normal_only_where_the_table_says_normal(tmp_path):
    root = _mini_release(tmp_path)
    rows = (root / "INbreast.csv").read_text().replace(";20586908;4;5", ";20586908;4;1")
    (root / "INbreast.csv").write_text(rows)
    (root / "AllXML" / "20586908.xml").write_bytes(plistlib.dumps({"Images": []}))
    (root / "AllXML" / "24055355.xml").write_bytes(plistlib.dumps({"Images": []}))  # its row has no Bi-Rads
    got = _index_quietly(root)
    assert got["records"]["20586908"].is_normal
    assert "24055355" not in got["ids"]
    assert "INbreast.csv:7 gives BI-RADS unknown" in got["skipped"]["AllXML/24055355.xml"]


def test_an_xls_finding_column_keeps_an_empty_roi_file_out(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    root = _mini_release(tmp_path)
    book = xlwt.Workbook()
    sheet = book.add_sheet("INbreast")
    for c, name in enumerate([*HEADER.split(";"), "Mass", "Micros"]):
        sheet.write(0, c, name)
    for c, value in enumerate(["removed", "removed", "R", "CC", 201001, 20586908.0, 2.0, "1", "", "X"]):
        sheet.write(1, c, value)
    book.save(str(root / "INbreast.xls"))
    (root / "AllXML" / "20586908.xml").write_bytes(plistlib.dumps({"Images": []}))
    got = _index_quietly(root)
    assert "20586908" not in got["ids"]
    assert "INbreast.xls:2 gives BI-RADS 1, Micros marked" in got["skipped"]["AllXML/20586908.xml"]


def test_a_misspelled_roi_name_leaves_its_image_out_unless_declared(tmp_path):
    root = _mini_release(tmp_path)
    rois = [_roi("Calcification", [(10, 12)]), _roi("Calcificaton", [(20, 22)]), _roi("Calcificaton", [(30, 32)])]
    _write_xml(root, "20586908", rois)
    got = _index_quietly(root)
    assert "20586908" not in got["ids"]
    assert got["skipped"]["AllXML/20586908.xml"].startswith(
        "ROI 1 'Calcificaton': name not in the ROI vocabulary; image 20586908 left out")
    declared = _index_quietly(root, roi_names={"Calcificaton": "calcification"})
    assert len(declared["records"]["20586908"].annotation.targets) == 3
    as_other = _index_quietly(root, roi_names={"calcificaton": "other"})
    assert as_other["records"]["20586908"].metadata["other_findings"] == {"Calcificaton": 2}


def test_roi_names_are_set_on_the_command_line(tmp_path):
    root = _mini_release(tmp_path)
    _write_xml(root, "20586908", [_roi("Calcification", [(10, 12)]), _roi("Calcificaton", [(20, 22)])])
    summary = ("dataset", "summary", "--dataset", "inbreast", "--root", str(root), "--json")
    done = calcdet(*summary)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["targets"] == 1, "image 20586908 left out: 'Calcificaton' is no known ROI name"
    done = calcdet(*summary, "--dataset-option", "roi_names={Calcificaton: calcification}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["targets"] == 3
    done = calcdet(*summary, "--dataset-option", "roi_names={Calcificaton: calcium}")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ("--dataset-option roi_names.Calcificaton: Input should be 'calcification', 'cluster' or 'other'"
            in done.stderr)


def test_a_dicom_stating_no_spacing_is_read_at_the_default_spacing(tmp_path):
    root = _mini_release(tmp_path)
    path = next((root / "AllDICOMs").glob("24055355_*.dcm"))
    write_dicom(path, np.full((H, W), 900, np.uint16), laterality="L", view="MLO", spacing_mm=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = next(r for r in InbreastDataset(default_spacing_mm=0.1).index(root).records
                      if r.image_id == "24055355")
    assert read_dicom(path).spacing_mm is None
    assert record.read().spacing_mm == (0.1, 0.1), "so the pipeline resamples it to its working spacing"


def test_summary_check_decodes_every_image_and_names_a_truncated_one(tmp_path):
    root = _mini_release(tmp_path)
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(root), "--check", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["unreadable"] == []
    truncated = next((root / "AllDICOMs").glob("22614236_*.dcm"))
    truncated.write_bytes(truncated.read_bytes()[:-1000])  # the header reads, the pixel data is cut short
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(root))
    assert done.returncode == 0, "without --check only headers are read"
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(root), "--check", "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (bad,) = json.loads(done.stdout)["unreadable"]
    assert bad["image_id"] == "22614236" and bad["path"] == str(truncated)
    assert "1 of 4 image(s) cannot be read" in done.stderr
    done = calcdet("dataset", "summary", "--dataset", "inbreast", "--root", str(root), "--check")
    assert done.returncode == 1 and f"unreadable {truncated}:" in done.stdout
