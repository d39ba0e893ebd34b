"""Every distribution installs editable without setuptools warnings (`make install` / `make demo` stay quiet)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = sorted([ROOT / "pyproject.toml", *ROOT.glob("plugins/*/*/pyproject.toml"),
                     *ROOT.glob("examples/*/pyproject.toml")])


@pytest.mark.parametrize("pyproject", PYPROJECTS, ids=lambda p: p.parent.name)
def test_flat_layout_is_explicit(pyproject):
    # Without it setuptools installs an import-hook finder and warns about same-named folders on every install.
    assert tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-dir"] == {"": "."}


def test_editable_build_is_a_plain_pth_and_silent(tmp_path):
    source = ROOT / "plugins" / "proposers" / "calcdet-hough"
    project = shutil.copytree(source, tmp_path / source.name, ignore=shutil.ignore_patterns("*.egg-info", "tests"))
    build = ("import sys; from setuptools import build_meta; "
             "print('WHEEL', build_meta.build_editable(sys.argv[1]))")
    run = subprocess.run([sys.executable, "-W", "default", "-c", build, str(tmp_path / "dist")], cwd=project,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = (run.stdout + run.stderr).splitlines()
    assert [line for line in lines if "Warning:" in line or "InformationOnly:" in line] == []
    wheel = tmp_path / "dist" / run.stdout.split("WHEEL ")[-1].strip()
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.endswith(".pth")] and not [n for n in names if "finder" in n]
