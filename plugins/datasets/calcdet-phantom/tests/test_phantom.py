"""The phantom: stored like a scanner's image, deterministic, with MCs where the truth says."""

from __future__ import annotations

import plistlib
import re
import subprocess
import sys

import numpy as np
import pytest
from calcdet_phantom import generate_release, load_truth, synthesize
from calcdet_phantom.release import CSV_HEADER
from calcdet_phantom.synth import PIXEL_MM

from calcdet_core.api import MC_MAX_DIAMETER_MM, read_dicom


def test_deterministic_for_a_seed():
    a, b = synthesize(160, 128, seed=11), synthesize(160, 128, seed=11)
    np.testing.assert_array_equal(a.image, b.image)
    assert [(t.x, t.y) for t in a.annotation.targets] == [(t.x, t.y) for t in b.annotation.targets]
    assert not np.array_equal(a.image, synthesize(160, 128, seed=12).image)


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_stored_like_a_scanner(laterality):
    p = synthesize(256, 200, seed=3, laterality=laterality, view="CC")
    assert p.image.dtype == np.uint16 and p.image.max() < 2**14 and p.image.max() > 2**13
    breast = p.image > 0
    left, right = breast[:, :10].sum(), breast[:, -10:].sum()
    assert (left > right) if laterality == "L" else (right > left), "chest wall on the left for L, mirrored for R"
    assert p.image[0, -1 if laterality == "L" else 0] == 0, "background is zero"


def test_mcs_are_where_the_truth_says_and_contrast_grows_with_size():
    contrasts, sizes = [], []
    for seed in range(6):
        p = synthesize(384, 320, seed=seed, normal=False, density=2)
        img = p.image.astype(float)
        yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
        for t in p.annotation.targets:
            assert 0.1 / PIXEL_MM - 0.5 <= t.diameter <= MC_MAX_DIAMETER_MM / PIXEL_MM, "MCs are 0.1-1 mm"
            d = np.hypot(xx - t.x, yy - t.y)
            assert img[d < 1.5].min() > 0, "an MC lies inside the breast"
            ring = img[(d > t.diameter / 2 + 6) & (d < t.diameter / 2 + 10)]
            contrasts.append(img[d <= max(t.diameter / 4, 1.0)].mean() - np.median(ring))
            sizes.append(t.diameter)
    contrasts, sizes = np.array(contrasts), np.array(sizes)
    assert len(sizes) > 10
    visible = sizes >= 3  # the smallest (0.1-0.2 mm) are near the noise, as in real images
    assert (contrasts[visible] > 0).mean() > 0.8, "MCs are brighter than their surroundings"
    big, small = sizes > np.median(sizes), sizes <= np.median(sizes)
    assert contrasts[big].mean() > contrasts[small].mean(), "contrast grows with size"


def test_truth_has_clusters_and_large_calcifications_as_ignore_regions():
    labels = set()
    for seed in range(8):
        p = synthesize(256, 200, seed=seed, normal=False)
        labels |= {r.label for r in p.annotation.ignore}
        for r in p.annotation.ignore:
            assert r.contour.shape[1] == 2 and len(r.contour) >= 3
    assert {"Cluster", "Calcification"} <= labels


def test_about_forty_percent_normal():
    normal = [synthesize(96, 80, seed=s).annotation.is_normal for s in range(40)]
    assert 0.2 <= np.mean(normal) <= 0.6


def test_normal_flag_and_mlo_pectoral():
    p = synthesize(256, 200, seed=5, normal=True, laterality="L", view="MLO")
    assert p.annotation.is_normal
    breast = p.image[p.image > 0].astype(float)
    corner = p.image[5:20, 5:20].astype(float)
    assert corner.mean() > np.median(breast), "the pectoral muscle (top, chest wall side) is dense"


def test_bad_size_refused():
    with pytest.raises(ValueError, match="64x64"):
        synthesize(32, 200, seed=0)


def test_release_layout(tmp_path):
    root = generate_release(tmp_path / "rel", n_images=7, seed=2, height=128, width=104)
    dicoms = sorted((root / "AllDICOMs").iterdir())
    assert len(dicoms) == 7
    pattern = re.compile(r"^(\d{8})_([0-9a-f]{16})_MG_([LR])_(CC|MLO)_ANON\.dcm$")
    assert all(pattern.match(p.name) for p in dicoms)
    lines = (root / "INbreast.csv").read_text().splitlines()
    assert lines[0] == CSV_HEADER and len(lines) == 8
    truth = load_truth(root)
    per_patient: dict[str, int] = {}
    for p in dicoms:
        file_name, patient, lat, view = pattern.match(p.name).groups()
        per_patient[patient] = per_patient.get(patient, 0) + 1
        m = read_dicom(p)
        assert (m.laterality, m.view, m.spacing_mm) == (lat, view, (PIXEL_MM, PIXEL_MM))
        assert truth[file_name]["patient"] == patient
        xml = root / "AllXML" / f"{file_name}.xml"
        n_truth = len(truth[file_name]["annotation"].targets) + len(truth[file_name]["annotation"].ignore)
        if xml.exists():
            rois = plistlib.loads(xml.read_bytes())["Images"][0]["ROIs"]
            assert all(r["NumberOfPoints"] == len(r["Point_px"]) for r in rois)
            assert len(rois) >= n_truth
        else:
            assert n_truth == 0
    assert all(2 <= n <= 4 for n in list(per_patient.values())[:-1])


def test_release_is_reproducible(tmp_path):
    a = generate_release(tmp_path / "a", n_images=3, seed=5, height=96, width=80)
    b = generate_release(tmp_path / "b", n_images=3, seed=5, height=96, width=80)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs between two runs with one seed"


def phantom_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", "phantom", *args], capture_output=True, text=True,
                          check=False)


@pytest.mark.parametrize(("option", "value"), [("--images", "0"), ("--height", "32"), ("--transfer-syntax", "zip")])
def test_command_refuses_a_bad_option_before_writing(tmp_path, option, value):
    done = phantom_command(str(tmp_path / "out"), "--images", "1", "--width", "64", option, value)
    assert done.returncode == 2 and option in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_command_reports_an_unwritable_folder_without_a_traceback(tmp_path):
    (tmp_path / "file").write_text("")
    done = phantom_command(str(tmp_path / "file" / "out"), "--images", "1", "--height", "64", "--width", "64",
                           "--transfer-syntax", "rle")
    assert done.returncode == 1 and "error: phantom: cannot write the release to" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_sizes_put_each_patient_on_one_detector(tmp_path):
    sizes = ((128, 96), (96, 80))
    root = generate_release(tmp_path / "rel", n_images=12, seed=4, sizes=sizes)
    shapes: dict[str, set[tuple[int, int]]] = {}
    for file_name, facts in load_truth(root).items():
        image = read_dicom(root / facts["dicom"]).pixels
        shapes.setdefault(facts["patient"], set()).add(image.shape)
        if (root / "AllXML" / f"{file_name}.xml").exists():
            plist = plistlib.loads((root / "AllXML" / f"{file_name}.xml").read_bytes())["Images"][0]
            assert (plist["ImageHeight"], plist["ImageWidth"]) == image.shape
    assert all(len(s) == 1 for s in shapes.values()), shapes
    assert set().union(*shapes.values()) == set(sizes)
