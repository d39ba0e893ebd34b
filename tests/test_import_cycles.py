"""No import cycles among calcdet_core modules: the folders are layers, and layers import one way.

The graph is read from the source (AST), not by importing: an edge is a module-level
``import``/``from ... import`` (also inside a module-level ``if``/``try``), not one inside a
function (a lazy import runs when called, after every module is loaded) nor under
``if TYPE_CHECKING:`` (never run). ``from package import name`` is an edge to the submodule
when ``name`` is one, else to the package's ``__init__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "calcdet_core"


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``package_dir`` (packages by their ``__init__``)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from _module_level_imports(block)


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level."""
    files = module_files(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in files}
                continue
            if node.level:  # relative: from . import x, from ..y import z
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in files:
                    edges.add(f"{source}.{alias.name}")
                elif source in files:
                    edges.add(source)
        graph[name] = edges - {name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while (member := stack.pop()) != node:
                group.add(member)
            if group:
                groups.append(group | {node})

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(min(group), group, graph) for group in groups]


def _cycle_through(start: str, group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest import path from ``start`` back to itself inside ``group``."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a group of mutually importing modules but on no cycle")


def test_calcdet_core_has_no_import_cycle():
    graph = import_graph(CORE)
    assert "calcdet_core.contracts.data" in graph and len(graph) > 40
    cycles = [" -> ".join(cycle) for cycle in find_cycles(graph)]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_data_imports_splits_and_not_the_other_way():
    graph = import_graph(CORE)
    assert "calcdet_core.contracts.splits" in graph["calcdet_core.contracts.data"]
    assert graph["calcdet_core.contracts.splits"] == set()


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_check_names_a_cycle_and_ignores_lazy_and_type_only_imports(tmp_path):
    package = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.sub import b\n",
        "sub/__init__.py": "",
        "sub/b.py": "try:\n    from ..c import thing\nexcept ImportError:\n    thing = None\n",
        "c.py": "import pkg.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n",
        "e.py": "from . import d\n\ndef later():\n    from pkg import e\n",
    })
    graph = import_graph(package)
    assert graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.e"] == {"pkg.d"} and graph["pkg.d"] == set()
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


def test_importing_the_package_loads_no_library_and_old_names_still_resolve():
    import subprocess
    import sys

    code = (
        "import sys, calcdet_core\n"
        "print(sorted(m for m in sys.modules if m.startswith('calcdet_core.') or m.split('.')[0] in\n"
        "      {'numpy', 'pydantic', 'pluggy', 'pydicom', 'PIL', 'matplotlib', 'scipy', 'typer', 'rich', 'yaml'}))\n"
        "from calcdet_core import Candidates, hookimpl\n"
        "import calcdet_core.api as api\n"
        "print(Candidates is api.Candidates and hookimpl is api.hookimpl, calcdet_core.__version__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1].startswith("True ")


def test_the_plugin_authors_module_loads_the_engine_helpers_on_first_use():
    import subprocess
    import sys

    code = ("import sys, calcdet_core.api as api\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pydicom', 'yaml', 'rich', 'matplotlib'}\n"
            "      or m in {'calcdet_core.run.pipeline', 'calcdet_core.io.dicom', 'calcdet_core.evaluation.report'}))\n"
            "from calcdet_core.api import read_dicom, Pipeline\n"
            "print(read_dicom.__module__, Pipeline.__module__, 'pydicom' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", "contracts only: no DICOM, YAML, rich or report modules"
    assert out[1] == "calcdet_core.io.dicom calcdet_core.run.pipeline True"
