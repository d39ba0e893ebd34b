"""DICOM SR output: round trip through highdicom, `calcdet detect --dicom-sr`, and refused inputs."""

import csv
import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from calcdet_clusters.grouping import find_clusters
from calcdet_clusters.sr import read_detections, write_dicom_sr

from calcdet_core.api import DetectedOutput, Detections, InvalidInputError, RunIdentity, write_dicom
from calcdet_core.testing import add_disks, textured_background

RUN = RunIdentity("calcdet test", "0.1.0", "sha256:" + "ab" * 32)
DISKS = [(150.0, 40.0), (156.0, 46.0), (146.0, 50.0), (120.0, 100.0)]
"""Stored-grid centres (x, y) of bright disks: a cluster of three and one alone, all in the breast."""


def right_breast(path: Path, **kwargs) -> Path:
    """A 128 x 192 MONOCHROME1 image with the breast on the right (flipped by preprocessing) and air around it
    (cropped), bright disks at :data:`DISKS`."""
    h, w = 128, 192
    yy, xx = np.mgrid[:h, :w]
    breast = ((xx - w) / 110.0) ** 2 + ((yy - h / 2) / 70.0) ** 2 <= 1
    image = np.where(breast, textured_background((h, w), seed=3), 0.0)
    image = add_disks(image, [(x, y, 2.5, 0.5) for x, y in DISKS]) * breast
    return write_dicom(path, np.round(image * 16383).astype(np.uint16), photometric="MONOCHROME1",
                       laterality="R", spacing_mm=(0.1, 0.1), **kwargs)


def detections(xy, scores, image_id="img"):
    xy = np.asarray(xy, float)
    return Detections.from_columns(xy[:, 0], xy[:, 1], np.full(len(xy), 2.5), np.asarray(scores, float), image_id)


def test_round_trip_gives_the_detections_clusters_and_references(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    xy = [[150.0, 40.0], [156.25, 46.5], [146.75, 50.0], [120.0, 100.0], [3.5, 127.0]]
    found = detections(xy, [0.9, 0.5, 0.25, 0.125, 0.0625])
    (path,) = write_dicom_sr([DetectedOutput("img", dcm, found)], tmp_path / "sr", run=RUN, min_score=0.0)
    back = read_detections(path)
    assert np.array_equal(back["xy"], found.xyr[:, :2]), "exactly the detections' coordinates"
    assert np.array_equal(back["drawn_xy"], found.xyr[:, :2]), "these all fit a float32"
    assert back["score"].tolist() == found.score.tolist() and back["radius"].tolist() == [2.5] * 5
    (hull,) = back["clusters"]  # 0.1 mm spacing from the DICOM: the first three within 5 mm ... and the fourth
    expected = find_clusters(found.xyr[:, :2], found.score, (0.1, 0.1))
    assert np.array_equal(hull[:-1], expected[0].hull) and np.array_equal(hull[0], hull[-1])
    source = pydicom.dcmread(dcm)
    assert back["referenced"] == [source.SOPInstanceUID]
    assert back["parameters"]["algorithm"] == "calcdet test" and back["parameters"]["version"] == "0.1.0"
    assert back["parameters"]["model_checksum"] == RUN.model_checksum
    assert back["parameters"]["pixel_spacing_mm"] == "0.1\\0.1 (ImagerPixelSpacing)"
    sr = pydicom.dcmread(path)
    assert sr.Modality == "SR" and sr.StudyInstanceUID == source.StudyInstanceUID
    assert sr.SeriesInstanceUID != source.SeriesInstanceUID


def test_clusters_follow_the_pipelines_cluster_froc_settings_else_the_defaults(tmp_path):
    from dataclasses import replace

    from calcdet_clusters.evaluator import ClusterFrocEvaluator

    dcm = right_breast(tmp_path / "img.dcm")
    xy = np.array([[150.0, 40.0], [156.0, 46.0], [146.0, 50.0], [120.0, 100.0]])
    found = [DetectedOutput("img", dcm, detections(xy, [0.9, 0.5, 0.25, 0.125]))]
    # 0.9 mm at 0.1 mm: only the first two (8.5 px apart) link, and two make a cluster
    pipeline = ClusterFrocEvaluator(distance_mm=0.9, min_count=2, bootstrap_resamples=0)
    run = replace(RUN, evaluators={"cluster-froc": pipeline.config.model_dump(mode="json")})
    assert run.evaluators["cluster-froc"]["distance_mm"] == 0.9
    (path,) = write_dicom_sr(found, tmp_path / "sr", run=run, min_score=0.0)
    back = read_detections(path)
    (hull,) = back["clusters"]
    assert np.array_equal(hull[:-1], find_clusters(xy, None, (0.1, 0.1), 0.9, 2)[0].hull) and len(hull) == 3
    assert back["parameters"]["cluster_settings"] == "the pipeline's cluster-froc evaluator"
    assert (back["parameters"]["cluster_distance_mm"], back["parameters"]["cluster_min_count"]) == ("0.9", "2")
    (path,) = write_dicom_sr(found, tmp_path / "sr", run=replace(run, evaluators={}), min_score=0.0)
    back = read_detections(path)
    assert len(back["clusters"]) == 1 and len(back["clusters"][0]) == 4  # 5 mm, 3 MCs: the triangle
    assert back["parameters"]["cluster_settings"] == "defaults (the pipeline has no cluster-froc evaluator)"
    assert back["parameters"]["cluster_distance_mm"] == "5.0"
    # the pipeline's min_score is the cutoff when none is given: only 0.9 and 0.5 are written and clustered
    (path,) = write_dicom_sr(found, tmp_path / "sr", run=replace(run, evaluators={"cluster-froc": {"min_score": 0.3}}))
    back = read_detections(path)
    assert back["clusters"] == [] and back["score"].tolist() == [0.9, 0.5]
    assert back["parameters"]["min_score"] == "0.3 (min_score of the pipeline's cluster-froc evaluator)"


def test_only_detections_above_the_cutoff_are_written_and_clustered(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    rng = np.random.default_rng(0)  # 300 low-scoring candidates all over the breast, as AIA-ML outputs them
    low = np.column_stack([rng.uniform(100, 190, 300), rng.uniform(20, 108, 300)])
    xy = np.vstack([DISKS, low])
    scores = np.concatenate([[0.9, 0.8, 0.7, 0.6], rng.uniform(0.0, 0.4, 300)])
    found = [DetectedOutput("img", dcm, detections(xy, scores))]
    (path,) = write_dicom_sr(found, tmp_path / "all", run=RUN, min_score=float("-inf"))
    everything = read_detections(path)
    assert len(everything["xy"]) == 304 and len(everything["clusters"]) == 1 and len(everything["clusters"][0]) > 4
    (path,) = write_dicom_sr(found, tmp_path / "sr", run=RUN, min_score=0.5)
    back = read_detections(path)
    assert np.array_equal(back["xy"], np.array(DISKS)) and back["score"].tolist() == [0.9, 0.8, 0.7, 0.6]
    (hull,) = back["clusters"]  # the three disks within 5 mm; the fourth 6 mm away
    assert np.array_equal(hull[:-1], find_clusters(np.array(DISKS[:3]), None, (0.1, 0.1))[0].hull)
    assert back["parameters"]["min_score"] == "0.5 (--dicom-sr-min-score)"
    assert back["parameters"]["detections_written"] == "4 of 304" and back["counts"] == (4, 1)
    # a cutoff given overrides the pipeline's; none at all is refused before any file is written
    from dataclasses import replace

    run = replace(RUN, evaluators={"cluster-froc": {"min_score": 0.0}})
    (path,) = write_dicom_sr(found, tmp_path / "sr", run=run, min_score=0.75)
    assert read_detections(path)["score"].tolist() == [0.9, 0.8]
    with pytest.raises(InvalidInputError, match=r"--dicom-sr needs a score cutoff.*--dicom-sr-min-score SCORE"):
        write_dicom_sr(found, tmp_path / "none", run=RUN)
    assert not (tmp_path / "none").exists()


def gsps_objects(pr, layer: str) -> tuple[list[str], list[np.ndarray], list[str]]:
    """Graphic types, graphic data (N, 2) and text of one layer of a presentation state read with pydicom."""
    kinds, data, text = [], [], []
    for annotation in pr.get("GraphicAnnotationSequence", []):
        if annotation.GraphicLayer == layer:
            for g in annotation.GraphicObjectSequence:
                kinds.append(g.GraphicType)
                data.append(np.array(g.GraphicData, np.float64).reshape(-1, 2))
            text += [t.UnformattedTextValue for t in annotation.TextObjectSequence]
    return kinds, data, text


def test_presentation_state_references_the_image_and_draws_detections_and_clusters(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    # float32-exact coordinates; the last at the right edge: its circle's rim point goes to the left
    xy = np.array([[150.0, 40.0], [156.25, 46.5], [146.75, 50.0], [120.0, 100.0], [190.5, 64.0], [100.0, 20.0]])
    found = detections(xy, [0.9, 0.8, 0.7, 0.6, 0.55, 0.1])
    sr_path, pr_path = write_dicom_sr([DetectedOutput("img", dcm, found)], tmp_path / "sr", run=RUN, min_score=0.5,
                                      gsps=True)
    assert (sr_path.name, pr_path.name) == ("img.sr.dcm", "img.pr.dcm")
    source, pr = pydicom.dcmread(dcm), pydicom.dcmread(pr_path)
    assert pr.Modality == "PR" and pr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"  # Grayscale Softcopy PS
    assert pr.StudyInstanceUID == source.StudyInstanceUID and pr.SeriesInstanceUID != source.SeriesInstanceUID
    (series,) = pr.ReferencedSeriesSequence
    (image,) = series.ReferencedImageSequence
    assert series.SeriesInstanceUID == source.SeriesInstanceUID
    assert (image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID) == (source.SOPClassUID,
                                                                             source.SOPInstanceUID)
    assert pr.PresentationLUTShape == "INVERSE", "a MONOCHROME1 mammogram shown as its header says, not inverted"
    assert pr.Laterality == source.ImageLaterality == "R"
    kinds, data, text = gsps_objects(pr, "DETECTIONS")
    assert kinds == ["CIRCLE"] * 5 and text == ["0.9", "0.8", "0.7", "0.6", "0.55"]  # 0.1 is under the cutoff
    centres = np.array([d[0] for d in data]) - 0.5  # PIXEL units: (0, 0) is the top-left pixel's corner
    assert np.array_equal(centres, xy[:5]), "exactly the detections' stored-grid centres"
    rims = np.array([d[1] for d in data]) - 0.5
    assert np.array_equal(rims - centres, [[2.5, 0]] * 4 + [[-2.5, 0]])
    kinds, data, text = gsps_objects(pr, "CLUSTERS")
    (expected,) = find_clusters(xy[:5], None, (0.1, 0.1))  # 5 mm at 0.1 mm: the edge one joins the first three
    assert kinds == ["POLYLINE"] and text == ["cluster 0: 4 MCs, score 0.9"] and expected.count == 4
    assert np.array_equal(data[0][:-1] - 0.5, expected.hull) and np.array_equal(data[0][0], data[0][-1])


def test_presentation_state_of_a_monochrome2_image_without_detections(tmp_path):
    dcm = write_dicom(tmp_path / "flat.dcm", np.zeros((32, 48), np.uint16), photometric="MONOCHROME2")
    found = [DetectedOutput("flat", dcm, detections([[10.0, 10.0]], [0.25], "flat"))]
    _, pr_path = write_dicom_sr(found, tmp_path / "sr", run=RUN, min_score=0.5, gsps=True)
    pr = pydicom.dcmread(pr_path)
    assert pr.PresentationLUTShape == "IDENTITY" and "GraphicAnnotationSequence" not in pr
    back = read_detections(tmp_path / "sr" / "flat.sr.dcm")  # an SR saying that nothing reached the cutoff
    assert back["counts"] == (0, 0) and len(back["xy"]) == 0
    assert back["referenced"] == [pydicom.dcmread(dcm).SOPInstanceUID]
    assert pr.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == \
        pydicom.dcmread(dcm).SOPInstanceUID


def test_unknown_spacing_is_said_in_the_sr(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    ds = pydicom.dcmread(dcm)
    del ds.ImagerPixelSpacing
    ds.save_as(dcm)
    (path,) = write_dicom_sr([DetectedOutput("img", dcm, detections([[1.0, 1.0]], [1.0]))], tmp_path / "sr", run=RUN,
                             min_score=0.0)
    assert read_detections(path)["parameters"]["pixel_spacing_mm"] == "unknown: 70 um assumed"


@pytest.mark.parametrize("missing", ["SOPInstanceUID", "StudyInstanceUID"])
def test_an_input_without_the_uids_is_refused_before_any_sr_is_written(tmp_path, missing):
    good = right_breast(tmp_path / "good.dcm")
    bad = right_breast(tmp_path / "bad.dcm")
    ds = pydicom.dcmread(bad)
    delattr(ds, missing)
    ds.save_as(bad)
    images = [DetectedOutput(p.stem, p, detections([[1.0, 1.0]], [1.0], p.stem)) for p in (good, bad)]
    with pytest.raises(InvalidInputError, match=f"bad.dcm: no {missing}; an SR must reference"):
        write_dicom_sr(images, tmp_path / "sr", run=RUN, min_score=0.0)
    assert not (tmp_path / "sr").exists()
    text = tmp_path / "not.dcm"
    text.write_text("image_id,x,y\n")
    with pytest.raises(InvalidInputError, match=r"not\.dcm: --dicom-sr needs DICOM inputs"):
        write_dicom_sr([DetectedOutput("t", text, detections([[1.0, 1.0]], [1.0]))], tmp_path / "sr", run=RUN,
                       min_score=0.0)


def calcdet(*args) -> subprocess.CompletedProcess:
    return subprocess.run([Path(sys.executable).parent / "calcdet", *map(str, args)], capture_output=True, text=True)


@pytest.mark.skipif(importlib.util.find_spec("calcdet_gm") is None, reason="needs the gm proposer installed")
def test_detect_writes_an_sr_per_dicom_with_the_csv_coordinates(tmp_path):
    dcm = right_breast(tmp_path / "in" / "img.dcm", patient_id="P1")
    yaml = tmp_path / "gm.yaml"
    yaml.write_text("name: gm\nproposer: {plugin: gm}\n")
    done = calcdet("detect", yaml, dcm, "--out", tmp_path / "d.csv", "--dicom-sr", tmp_path / "sr")
    assert done.returncode == 1 and "--dicom-sr needs a score cutoff" in done.stderr, done.stderr
    assert not (tmp_path / "d.csv").exists(), "refused before detecting"
    done = calcdet("detect", yaml, dcm, "--out", tmp_path / "d.csv", "--dicom-sr", tmp_path / "sr",
                   "--dicom-sr-min-score", "-inf", "--dicom-gsps")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "d.csv").open() as f:
        rows = list(csv.DictReader(f))
    back = read_detections(tmp_path / "sr" / "img.sr.dcm")
    assert rows and back["xy"].tolist() == [[float(r["x"]), float(r["y"])] for r in rows], "exactly the CSV's"
    assert back["score"].tolist() == [float(r["score"]) for r in rows]
    assert np.abs(back["drawn_xy"] - back["xy"]).max() < 1e-3  # what a viewer draws: float32 graphic data
    # the stored grid of a MONOCHROME1, flipped, cropped image: the cluster's disks are found where they are stored
    for x, y in DISKS[:3]:
        assert np.min(np.hypot(back["xy"][:, 0] - x, back["xy"][:, 1] - y)) <= 1.0
    assert len(back["clusters"]) == 1 and np.all(np.abs(back["clusters"][0] - [150, 45]) < 10)
    # the presentation state draws the same points on the stored image: the CSV's centres as float32 graphic data
    kinds, data, text = gsps_objects(pydicom.dcmread(tmp_path / "sr" / "img.pr.dcm"), "DETECTIONS")
    assert kinds == ["CIRCLE"] * len(rows) and len(text) == len(rows)
    assert np.array_equal([d[0] for d in data], (back["xy"] + 0.5).astype(np.float32))
    _, (outline,), _ = gsps_objects(pydicom.dcmread(tmp_path / "sr" / "img.pr.dcm"), "CLUSTERS")
    assert np.allclose(outline - 0.5, back["clusters"][0], atol=1e-4)
    assert back["parameters"]["model_checksum"] == "sha256:" + hashlib.sha256(yaml.read_bytes()).hexdigest()
    assert back["parameters"]["algorithm"] == "calcdet gm"
    assert back["parameters"]["cluster_settings"].startswith("defaults")
    # a cluster-froc evaluator in the pipeline: its settings make the SR's clusters, its min_score the cutoff
    cutoff = float(np.median([float(r["score"]) for r in rows]))
    params = f"{{distance_mm: 0.2, min_count: 2, min_score: {cutoff!r}}}"
    evaluator = f"{{plugin: cluster-froc, params: {params}}}"
    yaml.write_text(f"name: gm\nproposer: {{plugin: gm}}\nevaluators:\n  - {evaluator}\n")
    done = calcdet("detect", yaml, dcm, "--out", tmp_path / "e.csv", "--dicom-sr", tmp_path / "sr2")
    assert done.returncode == 0, done.stderr
    back = read_detections(tmp_path / "sr2" / "img.sr.dcm")
    above = [r for r in rows if float(r["score"]) >= cutoff]
    assert 0 < len(above) < len(rows), "the cutoff leaves some detections out"
    assert back["xy"].tolist() == [[float(r["x"]), float(r["y"])] for r in above], "exactly the CSV's rows above it"
    assert back["score"].tolist() == [float(r["score"]) for r in above]
    assert back["parameters"]["min_score"].endswith("(min_score of the pipeline's cluster-froc evaluator)")
    assert back["parameters"]["cluster_settings"] == "the pipeline's cluster-froc evaluator"
    assert (back["parameters"]["cluster_distance_mm"], back["parameters"]["cluster_min_count"]) == ("0.2", "2")
    assert back["clusters"] == [], "no two detections within 2 px"


def test_detect_refuses_an_input_without_uids_with_a_message(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    ds = pydicom.dcmread(dcm)
    del ds.SeriesInstanceUID
    ds.save_as(dcm)
    yaml = tmp_path / "none.yaml"
    yaml.write_text("name: gm\nproposer: {plugin: gm}\n")
    if importlib.util.find_spec("calcdet_gm") is None:
        pytest.skip("needs the gm proposer installed")
    done = calcdet("detect", yaml, dcm, "--out", tmp_path / "d.csv", "--dicom-sr", tmp_path / "sr",
                   "--dicom-sr-min-score", "0")
    assert done.returncode == 1 and "img.dcm: no SeriesInstanceUID" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "sr").glob("*.dcm"))


def test_uids_derive_from_the_image_model_and_settings_and_the_private_scheme_is_declared(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    found = detections([[150.0, 40.0], [120.0, 100.0]], [0.9, 0.5])

    def written(folder: str, run: RunIdentity = RUN, cutoff: float = 0.0) -> list[pydicom.Dataset]:
        files = write_dicom_sr([DetectedOutput("img", dcm, found)], tmp_path / folder, run=run, min_score=cutoff,
                               gsps=True)
        return [pydicom.dcmread(f) for f in files]

    first, again = written("a"), written("b")
    assert [d.SOPInstanceUID for d in first] == [d.SOPInstanceUID for d in again]  # written again: the same SR
    assert [d.SeriesInstanceUID for d in first] == [d.SeriesInstanceUID for d in again]
    other_model = written("c", RunIdentity("calcdet test", "0.1.0", "sha256:" + "cd" * 32))
    other_cutoff = written("d", cutoff=0.6)
    for changed in (other_model, other_cutoff):
        assert {d.SOPInstanceUID for d in changed}.isdisjoint(d.SOPInstanceUID for d in first)
    (scheme,) = first[0].CodingSchemeIdentificationSequence
    assert scheme.CodingSchemeDesignator == "99CALCDET" and scheme.CodingSchemeName


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools' dciodvfy is not installed "
                    "(Debian package dicom3tools; `make test` installs it where it can)")
def test_sr_and_presentation_state_pass_dciodvfy_without_errors(tmp_path):
    dcm = right_breast(tmp_path / "img.dcm")
    found = detections([[150.0, 40.0], [156.0, 46.0], [146.0, 50.0]], [0.9, 0.5, 0.4])
    for path in write_dicom_sr([DetectedOutput("img", dcm, found)], tmp_path / "sr", run=RUN, min_score=0.0, gsps=True):
        report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
        errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], (path.name, errors)
