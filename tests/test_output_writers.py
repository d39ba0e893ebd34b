"""Output writers chosen on the command line: an outside writer, its options, its failures, shared names."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from calcdet_core.api import write_dicom
from calcdet_core.run.shipped import pipeline_path
from tests.fake_dists import write_dist

GM = pipeline_path("gm")

WRITER = """
    calcdet_contract = 2
    import json
    from functools import partial

    from calcdet_core.api import hookimpl

    def write_counts(images, out_dir, *, label, fail):
        if fail:
            raise OSError("the archive is offline")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "counts.json"
        path.write_text(json.dumps({image.image_id: len(image.detections) for image in images} | {"label": label}))
        return [path]

    def counts(run, label="LABEL", fail=False):
        if not isinstance(label, str):
            raise ValueError(f"label: text, got {label!r}")
        return partial(write_counts, label=label, fail=fail)

    @hookimpl
    def calcdet_output_writers():
        return {"counts": counts}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    write_dist(root, "aaa-counts", "aaa_counts_mod", WRITER.replace("LABEL", "aaa"))
    write_dist(root, "zzz-counts", "zzz_counts_mod", WRITER.replace("LABEL", "zzz"))
    write_dist(root, "solo-counts", "solo_counts_mod", WRITER.replace("LABEL", "solo").replace('"counts"', '"solo"'))
    return root


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scans")
    rng = np.random.default_rng(0)
    for i in range(2):
        image = rng.normal(1200, 40, (96, 80)).astype(np.uint16)
        image[40:44, 30:34] = 3600
        write_dicom(folder / f"scan{i}.dcm", image)
    return folder


def calcdet(site, *args) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=os.pathsep.join(filter(None, [str(site),
                                                                                   os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "calcdet_core", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_an_outside_writer_runs_by_its_name_with_its_options(site, scans, tmp_path):
    run = calcdet(site, "detect", GM, scans, "--out", tmp_path / "d.csv", "--min-score", "all",
                  "--write", f"solo={tmp_path / 'solo'}", "--write-option", "solo.label=mine")
    assert run.returncode == 0, run.stderr
    written = (tmp_path / "solo" / "counts.json").read_text()
    with (tmp_path / "d.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert '"label": "mine"' in written and f'"scan0": {sum(r["image_id"] == "scan0" for r in rows)}' in written


def test_two_writers_sharing_a_name_are_each_reached_by_the_qualified_name(site, scans, tmp_path):
    bare = calcdet(site, "detect", GM, scans, "--out", tmp_path / "a.csv", "--write", f"counts={tmp_path / 'c'}")
    assert bare.returncode == 1 and "'aaa-counts:counts' or 'zzz-counts:counts'" in bare.stderr
    assert not (tmp_path / "a.csv").exists(), "refused before any detection"
    run = calcdet(site, "detect", GM, scans, "--out", tmp_path / "b.csv", "--min-score", "all",
                  "--write", f"zzz-counts:counts={tmp_path / 'z'}")
    assert run.returncode == 0, run.stderr
    assert '"label": "zzz"' in (tmp_path / "z" / "counts.json").read_text()


def test_a_refused_option_stops_the_run_before_any_detection(site, scans, tmp_path):
    for option, message in (("solo.label=[1, 2]", "label: text"), ("solo.colour=red", "colour"),
                            ("other.label=x", "no --write other=DIR")):
        run = calcdet(site, "detect", GM, scans, "--out", tmp_path / "d.csv", "--write",
                      f"solo={tmp_path / 's'}", "--write-option", option)
        assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert not (tmp_path / "d.csv").exists()


def test_a_failing_writer_is_one_line_naming_it_and_its_plugin(site, scans, tmp_path):
    run = calcdet(site, "detect", GM, scans, "--out", tmp_path / "d.csv", "--min-score", "all",
                  "--write", f"solo={tmp_path / 's'}", "--write-option", "solo.fail=true")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "output writer 'solo' (solo-counts) failed writing into" in run.stderr
    assert "OSError: the archive is offline" in run.stderr
    assert (tmp_path / "d.csv").exists(), "the detections CSV written before the writers is kept"


def test_writers_are_listed(site):
    run = calcdet(site, "list-plugins", "--kind", "writers", "--json")
    assert run.returncode == 0, run.stderr
    rows = {r["qualified"]: r for r in json.loads(run.stdout)}
    assert {"aaa-counts:counts", "zzz-counts:counts", "solo-counts:solo", "calcdet-clusters:dicom-sr"} <= set(rows)
    assert rows["solo-counts:solo"]["note"] is None and rows["aaa-counts:counts"]["note"]
