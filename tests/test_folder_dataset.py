"""The folder adapter: DICOM/PNG/TIFF images plus a CSV of MCs, bad rows reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.io.dicom import write_dicom
from calcdet_core.io.folder import FolderDataset
from calcdet_core.io.images import name_tokens, read_image
from calcdet_core.testing import check_dataset_adapter, parametrize_with_checks


def _pixels(seed: int, shape: tuple[int, int] = (50, 40)) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 16000, shape).astype(np.uint16)


def _folder(root: Path) -> Path:
    (root / "case01").mkdir(parents=True)
    (root / "case02").mkdir()
    Image.fromarray(_pixels(1)).save(root / "case01" / "img_L_CC.png")
    Image.fromarray(_pixels(2)).save(root / "case01" / "img_L_MLO.tif")
    write_dicom(root / "case02" / "scan_R_CC.dcm", _pixels(3), spacing_mm=(0.05, 0.05))
    Image.fromarray((_pixels(4) // 64).astype(np.uint8)).save(root / "case02" / "other.png")
    Image.fromarray(_pixels(5)).save(root / "top.png")
    (root / "notes.txt").write_text("not an image")
    (root / "annotations.csv").write_text(
        "image,x,y,diameter,patient\n"
        "case01/img_L_CC,10,12,5,\n"  # by id
        "case01/img_L_MLO.tif,20.5,30.25,4,\n"  # by path with suffix
        "case01/img_L_MLO.tif,15,15,20,\n"  # 20 px = 1.4 mm: ignore region
        "scan_R_CC.dcm,5,6,18,P-77\n"  # by unique file name; 18 px at 0.05 mm = 0.9 mm: a target
        "missing.png,1,1,3,\n"  # not in the folder
        "case02/other,abc,1,3,\n"  # not a number
        "top,40,10,3,\n"  # x = 40 is outside the 40 px wide image
    )
    return root


def test_reads_images_and_annotations(tmp_path):
    dataset = FolderDataset().index(_folder(tmp_path))
    records = {r.image_id: r for r in dataset.records}
    assert sorted(records) == ["case01/img_L_CC", "case01/img_L_MLO", "case02/other", "case02/scan_R_CC"]
    cc = records["case01/img_L_CC"]
    assert [(t.x, t.y, t.diameter) for t in cc.annotation.targets] == [(10.0, 12.0, 5.0)]
    assert (cc.patient_id, cc.laterality, cc.view) == ("case01", "L", "CC")
    mlo = records["case01/img_L_MLO"].annotation
    assert [(t.x, t.y) for t in mlo.targets] == [(20.5, 30.25)] and len(mlo.ignore) == 1
    np.testing.assert_allclose(mlo.ignore[0].contour.mean(axis=0), [15, 15], atol=1e-9)
    dcm = records["case02/scan_R_CC"]
    assert dcm.patient_id == "P-77" and len(dcm.annotation.targets) == 1
    assert records["case02/other"].is_normal and records["case02/other"].patient_id == "case02"
    reasons = {s.path: s.reason for s in dataset.skipped}
    assert set(reasons) == {"annotations.csv:6", "annotations.csv:7", "top.png"}
    assert "not in the folder" in reasons["annotations.csv:6"]
    assert "must be numbers" in reasons["annotations.csv:7"]
    assert "annotations.csv:8" in reasons["top.png"] and "outside the 40x50 image" in reasons["top.png"]


def test_loads_keep_stored_values(tmp_path):
    root = _folder(tmp_path)
    records = {r.image_id: r for r in FolderDataset().index(root).records}
    for image_id, seed in (("case01/img_L_CC", 1), ("case01/img_L_MLO", 2), ("case02/scan_R_CC", 3)):
        image = records[image_id].read()
        assert image.pixels.dtype == np.uint16 and image.image_id == image_id
        np.testing.assert_array_equal(image.pixels, _pixels(seed))
    other = records["case02/other"].read()
    assert other.pixels.dtype == np.uint8
    work = preprocess(records["case01/img_L_CC"].read())
    assert work.pixels.dtype == np.float32 and not work.transform.flipped


def test_no_csv_means_all_normal(tmp_path):
    root = _folder(tmp_path)
    (root / "annotations.csv").unlink()
    dataset = FolderDataset().index(root)
    assert len(dataset.records) == 5 and all(r.is_normal for r in dataset.records) and not dataset.skipped


def test_bad_csv_header_names_the_file(tmp_path):
    root = _folder(tmp_path)
    (root / "annotations.csv").write_text("file,x,y\ncase02/other,1,1\n")
    with pytest.raises(ValueError, match=r"annotations\.csv: missing column\(s\) image, diameter"):
        FolderDataset().index(root)


def test_colour_png_refused_grey_rgb_accepted(tmp_path):
    grey = np.repeat((_pixels(6) // 64).astype(np.uint8)[..., None], 3, axis=2)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(read_image(tmp_path / "grey.png").pixels, grey[..., 0])
    colour = grey.copy()
    colour[0, 0] = (1, 2, 3)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.raises(ValueError, match=r"colour\.png: expected a grayscale image"):
        read_image(tmp_path / "colour.png")
    with pytest.raises(ValueError, match="unsupported image type"):
        read_image(tmp_path / "x.jpg")


def test_name_tokens():
    assert name_tokens(Path("a/p7_RIGHT-mlo.png")) == ("R", "MLO")
    assert name_tokens(Path("scan001.png")) == (None, None)


@parametrize_with_checks([FolderDataset()])
def test_conformance(component, check):
    check(component)


def test_conformance_on_a_folder(tmp_path):
    check_dataset_adapter(FolderDataset(), _folder(tmp_path))
