"""Plugins stand on the public API alone, and registering them costs no heavy import.

Every plugin under ``plugins/`` and ``examples/``, and every shared library under ``libraries/``,
imports only ``calcdet_core.api`` (and, in its tests, ``calcdet_core.testing``): never another
calcdet_core module, whose layout may change, and never another plugin's package. Plugins may
import a shared library (code several plugins need, such as the detectors' torch parts).
Importing a plugin's entry-point module, building its components with default parameters and
letting it add its commands (what every ``calcdet`` command does at start-up) imports none of
the heavy libraries; they load when a component runs.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = "calcdet_core.api"
TEST_KIT = "calcdet_core.testing"
HEAVY = ("sklearn", "cv2", "numba", "torch", "pywt", "skops", "scipy")
"""Libraries that take from a tenth of a second (SciPy's submodules) to seconds (scikit-learn, skops, torch)."""


@dataclass(frozen=True)
class Distribution:
    folder: Path
    packages: frozenset[str]

    @property
    def is_library(self) -> bool:
        """A shared library distribution (``libraries/``): plugins may import it; it imports the public API only."""
        return self.folder.parent == ROOT / "libraries"

    def sources(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*.py")
                      if not any(part.endswith(".egg-info") or part in ("build", ".venv") for part in p.parts))


def distributions() -> list[Distribution]:
    found = []
    projects = [*ROOT.glob("libraries/*/pyproject.toml"), *ROOT.glob("plugins/*/*/pyproject.toml"),
                *ROOT.glob("examples/*/pyproject.toml")]
    for project in sorted(projects):
        folder = project.parent
        packages = frozenset(p.parent.name for p in folder.glob("*/__init__.py") if p.parent.name != "tests")
        found.append(Distribution(folder, packages))
    return found


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) for every absolute import, ``from a import b`` counted as ``a.b`` (b may be a module)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations(source: str, own: frozenset[str], others: frozenset[str], in_tests: bool) -> list[str]:
    """What a plugin file imports that it must not: calcdet internals, or another plugin's package."""
    allowed = (PUBLIC, TEST_KIT) if in_tests else (PUBLIC,)
    problems = []
    for line, module in imported_modules(ast.parse(source)):
        top = module.split(".")[0]
        if top == "calcdet_core" and not any(module == a or module.startswith(a + ".") for a in allowed):
            problems.append(f"line {line}: {module} (use {' or '.join(allowed)})")
        elif top in others - own:
            problems.append(f"line {line}: {module} belongs to another plugin")
    return problems


def test_the_checker_catches_internals_and_other_plugins():
    own, others = frozenset({"calcdet_gabor"}), frozenset({"calcdet_gabor", "calcdet_fos"})
    ok = "from calcdet_core.api import Candidates\nfrom calcdet_gabor.kernels import gabor_bank\nimport numpy\n"
    assert violations(ok, own, others, in_tests=False) == []
    bad = ("from calcdet_core import Candidates\nfrom calcdet_core.imaging import stats\n"
           "def f():\n    import calcdet_fos.extractor\n")
    found = violations(bad, own, others, in_tests=False)
    assert [p.split(":")[0] for p in found] == ["line 1", "line 2", "line 4"], found
    kit = "from calcdet_core.testing import parametrize_with_checks\n"
    assert violations(kit, own, others, in_tests=True) == []
    assert violations(kit, own, others, in_tests=False), "plugin code may not import the test kit"


@pytest.mark.parametrize("dist", distributions(), ids=lambda d: d.folder.name)
def test_plugin_imports_only_the_public_api(dist: Distribution):
    assert dist.packages, f"{dist.folder} holds no package"
    others = frozenset().union(*(d.packages for d in distributions() if not d.is_library))
    problems = []
    for path in dist.sources():
        in_tests = "tests" in path.relative_to(dist.folder).parts
        problems += [f"{path.relative_to(ROOT)} {p}"
                     for p in violations(path.read_text(encoding="utf-8"), dist.packages, others, in_tests)]
    assert not problems, "\n".join(problems)


PROBE = """
import json, sys
from importlib.metadata import entry_points
import typer

HEAVY = {heavy!r}
report = {{}}
for ep in sorted(entry_points(group="calcdet"), key=lambda e: e.name):
    module = ep.load()
    for name in dir(module):
        if name.startswith("calcdet_register_") and name != "calcdet_register_commands":
            for component in getattr(module, name)():
                component()  # defaults, as `calcdet validate` and `describe` build them
    if hasattr(module, "calcdet_register_commands"):
        module.calcdet_register_commands(cli=typer.Typer())
    report[ep.value] = sorted({{m.split(".")[0] for m in sys.modules}} & set(HEAVY))
print(json.dumps(report))
"""


def test_registering_the_plugins_imports_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "calcdet_svm.plugin" in report and "calcdet_gm.plugin" in report, "the plugins should be installed"
    loaded = {module: heavy for module, heavy in report.items() if heavy}
    assert not loaded, f"imported when registering (the first plugin named is the culprit): {loaded}"
