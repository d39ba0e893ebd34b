"""``calcdet insert``: MCs into any dataset's images, in their own intensity scale, as a release pipelines read."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from calcdet_phantom import generate_release, synthesize
from calcdet_phantom.insert_release import insert_release
from calcdet_phantom.insertion import InsertSettings, insert_mcs

from calcdet_core.api import Annotation, Target, breast_mask, build_component, read_dicom, write_dicom

MAX_14 = (1 << 14) - 1


def insert_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", "insert", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return generate_release(tmp_path_factory.mktemp("src") / "release", n_images=10, seed=4, height=480, width=384)


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_normals_only_uses_no_annotated_image_and_the_adapter_reads_the_truth(source, tmp_path):
    done = insert_command(str(source), str(tmp_path / "out"), "--normals-only", "--seed", "1")
    assert done.returncode == 0, done.stderr
    src = build_component("datasets", "inbreast").index(source)
    out = build_component("datasets", "inbreast").index(tmp_path / "out")
    normals = [r for r in src.records if r.is_normal]
    assert len(out.records) == len(normals) and not out.skipped
    assert f"left out {len(src.records) - len(normals)} images with MC findings" in done.stdout
    with_mcs = [r for r in out.records if not r.is_normal]
    assert with_mcs and len(with_mcs) < len(out.records), "some images receive MCs, the others stay normal"
    for record in with_mcs:
        image = record.read()
        mask = breast_mask(image.pixels)
        for t in record.annotation.targets:
            assert mask[int(t.y), int(t.x)], f"{record.image_id}: MC at ({t.x}, {t.y}) outside the breast"
            if t.contour is not None:  # (point annotations read as 1 px, as INbreast's)
                assert 0.1 / 0.07 - 0.5 <= t.diameter <= 1.0 / 0.07, "MC sizes are physical: 0.1-1 mm at 70 µm"
            y, x = round(t.y), round(t.x)
            local = image.pixels[max(y - 12, 0): y + 13, max(x - 12, 0): x + 13].astype(float)
            assert image.pixels[y - 1: y + 2, x - 1: x + 2].max() > np.median(local), "an MC is brighter than around"


def test_the_same_seed_writes_the_same_release(source, tmp_path):
    a = insert_release(source, tmp_path / "a", seed=7, normals_only=True)
    insert_release(source, tmp_path / "b", seed=7, normals_only=True)
    insert_release(source, tmp_path / "c", seed=8, normals_only=True)
    assert a.inserted_mcs > 0
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_without_normals_only_the_existing_truth_is_kept_and_insertions_keep_clear_of_it(source, tmp_path):
    settings = InsertSettings(abnormal_share=1.0)
    insert_release(source, tmp_path / "out", seed=2, settings=settings)
    src = {r.path.name.split("_")[0]: r for r in build_component("datasets", "inbreast").index(source).records}
    out = build_component("datasets", "inbreast").index(tmp_path / "out").records
    assert len(out) == len(src)
    truth = json.loads((tmp_path / "out" / "phantom_truth.json").read_text())["images"]
    given = 0
    for record in out:
        written = truth[record.path.name.split("_")[0]]
        original = src[written["source"]]
        old = [(t.x, t.y) for t in original.annotation.targets]
        new = [t for t in record.annotation.targets if (t.x, t.y) not in old]
        assert len(record.annotation.targets) == len(old) + len(new) and len(new) == written["inserted"]
        assert new or written["unplaced"], "an image drawn as abnormal either gets MCs or says why not"
        given += bool(new)
        for t in new:
            gaps = [np.hypot(t.x - x, t.y - y) for x, y in old]
            assert not gaps or min(gaps) > 5.0 / 0.07, "inserted MCs keep 5 mm from every existing finding"
    assert given >= len(out) // 2


def _monochrome1_folder(root: Path) -> Path:
    """A folder dataset of one MONOCHROME1, 12-bit DICOM with 100 µm pixels (another scanner)."""
    phantom = synthesize(320, 256, seed=21, normal=True, laterality="L", view="CC")
    twelve_bit = (phantom.image >> 2).astype(np.uint16)
    root.mkdir()
    write_dicom(root / "case1" / "img.dcm", twelve_bit, bits_stored=12, spacing_mm=(0.1, 0.1),
                photometric="MONOCHROME1", laterality="L", view="CC", patient_id="p1")
    return root


def test_monochrome1_and_another_bit_depth_and_spacing_are_kept(tmp_path):
    root = _monochrome1_folder(tmp_path / "folder")
    original = read_dicom(root / "case1" / "img.dcm").pixels
    settings = InsertSettings(abnormal_share=1.0)
    report = insert_release(root, tmp_path / "out", dataset="folder", seed=0, settings=settings)
    assert report.written == 1 and report.inserted_mcs > 0, report
    (path,) = (tmp_path / "out" / "AllDICOMs").glob("*.dcm")
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert header.PhotometricInterpretation == "MONOCHROME1" and header.BitsStored == 12
    assert [float(v) for v in header.ImagerPixelSpacing] == [0.1, 0.1]
    (record,) = build_component("datasets", "inbreast").index(tmp_path / "out").records
    inserted = record.read().pixels.astype(int)
    changed = inserted != original
    assert changed.any() and inserted.max() <= (1 << 12) - 1
    for t in record.annotation.targets:  # displayed: brighter where an MC went, as calcium shows
        y, x = round(t.y), round(t.x)
        assert inserted[y, x] - original[y, x] > 0
    near = np.zeros_like(changed)
    for t in record.annotation.targets:
        near[max(round(t.y) - 12, 0): round(t.y) + 13, max(round(t.x) - 12, 0): round(t.x) + 13] = True
    assert not (changed & ~near).any(), "pixels away from the inserted MCs are left exactly as they were"


def test_the_adapter_states_the_spacing_of_images_that_state_none(tmp_path):
    from PIL import Image

    root = tmp_path / "pngs"
    root.mkdir()
    Image.fromarray(synthesize(256, 200, seed=2, normal=True).image).save(root / "a_L_CC.png")
    done = insert_command(str(root), str(tmp_path / "out"), "--dataset", "folder", "--dataset-option",
                          "spacing_mm=0.1")
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "out" / "AllDICOMs").glob("*.dcm")
    assert [float(v) for v in pydicom.dcmread(path, stop_before_pixels=True).ImagerPixelSpacing] == [0.1, 0.1]
    assert json.loads((tmp_path / "out" / "phantom_truth.json").read_text())["dataset_settings"] == {"spacing_mm": 0.1}
    done = insert_command(str(root), str(tmp_path / "bad"), "--dataset", "folder", "--dataset-option", "spacing=0.1")
    assert done.returncode == 1 and "unknown folder setting 'spacing'" in done.stderr and "Traceback" not in done.stderr


def test_contrast_is_relative_to_the_image_s_own_signal():
    phantom = synthesize(640, 512, seed=5, normal=True, laterality="L", view="CC")
    low = (phantom.image >> 2).astype(np.uint16)  # the same breast, a quarter of the signal
    none = Annotation()
    full = insert_mcs(phantom.image, 0.07, none, InsertSettings(), np.random.default_rng(3), abnormal=True,
                      max_value=MAX_14)
    quarter = insert_mcs(low, 0.07, none, InsertSettings(), np.random.default_rng(3), abnormal=True,
                         max_value=(1 << 12) - 1)
    assert full.n_inserted == quarter.n_inserted > 0
    ratio = np.array(full.peaks) / np.array(quarter.peaks)
    np.testing.assert_allclose(ratio, 4.0, rtol=0.02)


def test_an_image_without_a_breast_is_skipped_with_its_reason(tmp_path):
    root = tmp_path / "folder"
    write_dicom(root / "blank.dcm", np.full((128, 128), 7, np.uint16), bits_stored=12, spacing_mm=(0.07, 0.07))
    write_dicom(root / "breast.dcm", synthesize(256, 200, seed=2, normal=True).image, bits_stored=14,
                spacing_mm=(0.07, 0.07))
    report = insert_release(root, tmp_path / "out", dataset="folder", settings=InsertSettings(abnormal_share=1.0))
    assert report.written == 1
    (skip,) = [s for s in report.skipped if "blank" in s.path]
    assert "no breast region" in skip.reason


def test_out_inside_the_source_is_refused_before_anything_is_written(source):
    done = insert_command(str(source), str(source / "inserted"), "--normals-only")
    assert done.returncode != 0 and "inside SRC" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (source / "inserted").exists()


@pytest.mark.parametrize(("yaml_text", "key"), [
    ("mcs: {high_mm: 3.0}", "mcs.high_mm"),
    ("clusters: {members: [4, 400]}", "clusters.members"),
    ("mcs: {medain_mm: 0.2}", "mcs.medain_mm"),
    ("imprint: {mtf_sigma_mm: fast}", "imprint.mtf_sigma_mm"),
    ("skin_clearance_mm: {center: 3}", "skin_clearance_mm.center"),
])
def test_settings_that_cannot_be_met_are_refused_naming_the_key(source, tmp_path, yaml_text, key):
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml_text)
    done = insert_command(str(source), str(tmp_path / "out"), "--settings", str(settings))
    assert done.returncode != 0 and key in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_settings_change_the_model(source, tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text("mcs: {median_mm: 0.6, low_mm: 0.5, high_mm: 0.8, isolated_mm: [0.5, 0.8]}\n"
                        "abnormal_share: 1.0\n")
    done = insert_command(str(source), str(tmp_path / "out"), "--normals-only", "--settings", str(settings))
    assert done.returncode == 0, done.stderr
    targets = [t for r in build_component("datasets", "inbreast").index(tmp_path / "out").records
               for t in r.annotation.targets if t.contour is not None]
    assert targets and min(t.diameter for t in targets) >= 0.5 / 0.07 - 0.5


def test_an_existing_target_is_kept_first_and_unchanged():
    settings = InsertSettings()
    p = synthesize(320, 256, seed=9, normal=True, laterality="L", view="CC")
    out = insert_mcs(p.image, 0.07, Annotation((Target(10.0, 10.0),)), settings, np.random.default_rng(0),
                     abnormal=True, max_value=MAX_14)
    assert out.annotation.targets[0] == Target(10.0, 10.0) and out.n_inserted == len(out.annotation.targets) - 1
