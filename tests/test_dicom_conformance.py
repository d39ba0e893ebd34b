"""The DICOM calcdet writes passes dicom3tools' validator: mammograms of every transfer syntax and photometric."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from calcdet_core.io.dicom import TRANSFER_SYNTAXES, read_dicom, write_dicom

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools' dciodvfy is not installed "
                                "(Debian package dicom3tools; `make test` installs it where it can)")


def errors(path) -> list[str]:
    report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.parametrize("syntax", sorted(TRANSFER_SYNTAXES))
@pytest.mark.parametrize(("photometric", "laterality", "view"), [("MONOCHROME2", "L", "CC"),
                                                                  ("MONOCHROME1", "R", "MLO")])
def test_a_written_mammogram_has_every_mandatory_attribute(tmp_path, syntax, photometric, laterality, view):
    pixels = (np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * 3) % 16384
    path = write_dicom(tmp_path / "mg.dcm", pixels, laterality=laterality, view=view, patient_id="p1",
                       photometric=photometric, transfer_syntax=syntax)
    assert errors(path) == []
    image = read_dicom(path)
    assert np.array_equal(image.pixels, pixels) and image.laterality == laterality and image.view == view
