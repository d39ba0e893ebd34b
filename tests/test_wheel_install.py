"""The shipped pipelines travel inside the wheels: after a plain wheel install, away from the source tree,
`calcdet validate pipelines/aia-ml.yaml` and `calcdet reproduce` without --pipeline find them.

The wheels of the core and of every distribution the study's pipelines use are built from this tree
and installed without dependencies into a fresh virtual environment; third-party packages come from
this environment's site-packages, added by a ``.pth`` line (whose own ``.pth`` files, the source
tree's editable installs among them, are then not read).
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.pipeline import load_pipeline
from calcdet_core.run.reproduce import study_pipelines

ROOT = Path(__file__).resolve().parents[1]


def source_dirs() -> list[Path]:
    """The core's folder and the source folder of every local distribution the study's pipelines (and the inbreast
    adapter) come from, with the local distributions those require."""
    registry = get_registry()
    names = {registry.entry("datasets", "inbreast").distribution}
    for path in study_pipelines():
        names |= {registry.entry(c.kind, c.name).distribution for _, c in load_pipeline(path).components()}
    folders, todo = {ROOT}, sorted(names)
    while todo:
        dist = distribution(todo.pop())
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        if not url.startswith("file://"):
            continue  # the core itself (ROOT), or a built-in
        folders.add(Path(url.removeprefix("file://")))
        required = [Requirement(r) for r in dist.requires or []]
        todo += [r.name for r in required if r.name.startswith("calcdet-") and r.marker is None]
    return sorted(folders)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A virtual environment holding the built wheels and nothing of the source tree; its bin folder."""
    base = tmp_path_factory.mktemp("wheels")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(wheels), *map(str, source_dirs())], check=True, cwd=base)
    env = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz_third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", *map(str, sorted(wheels.glob("*.whl")))], check=True, cwd=base)
    return env / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "calcdet"), *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_the_core_comes_from_the_wheel_not_the_source_tree(fresh, tmp_path):
    shown = subprocess.run([str(fresh / "python"), "-c", "import calcdet_core; print(calcdet_core.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(ROOT) not in shown and str(fresh.parent) in shown


def test_validate_finds_a_shipped_pipeline_by_its_source_tree_path(fresh, tmp_path):
    result = run(fresh, "validate", "pipelines/aia-ml.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout and "aia-ml" in result.stdout


def test_reproduce_without_pipeline_validates_the_study_three_then_reads_the_dataset(fresh, tmp_path):
    empty = tmp_path / "no-images"
    empty.mkdir()
    result = run(fresh, "reproduce", "--root", str(empty), "--out", str(tmp_path / "study"), cwd=tmp_path)
    assert result.returncode == 1
    assert "aia-ml: train" in result.stderr, result.stderr  # the three were found and validated: training began
    assert "no AllDICOMs folder" in result.stderr.split("error:")[-1]  # and the empty dataset is what stops it
