"""Every hook is documented in docs/plugin_hooks.md, and every documented example runs.

Like datasette's own checks: a hook without a documentation heading or without a
``test_hook_<name>`` test here fails the suite.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from calcdet_core.contracts import hookspecs
from calcdet_core.contracts.components import KINDS
from calcdet_core.contracts.data import Annotation, Target
from calcdet_core.plugins.registry import build_registry
from calcdet_core.testing import check_component, disk_test_image

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugin_hooks.md"
HOOK_NAMES = sorted(n for n in dir(hookspecs) if n.startswith("calcdet_"))


def doc_sections() -> dict[str, str]:
    """Hook name -> its section text, from the literal-signature headings."""
    text = DOCS.read_text()
    parts = re.split(r"^## `(calcdet_\w+)\(.*\).*`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def example_module(hook: str) -> types.ModuleType:
    """Execute the section's Python example as a real module."""
    code = re.findall(r"```python\n(.*?)```", doc_sections()[hook], flags=re.S)[0]
    module = types.ModuleType(f"docs_example_{hook}")
    sys.modules[module.__name__] = module
    exec(compile(code, f"{DOCS}#{hook}", "exec"), module.__dict__)
    return module


def registered(hook: str):
    kind = hook.removeprefix("calcdet_register_")
    registry = build_registry(extra_plugins=[(f"docs-{kind}", example_module(hook))], autoload=False)
    assert not registry.errors(), [e.error for e in registry.errors()]
    (entry,) = [e for e in registry.entries if e.distribution == f"docs-{kind}"]
    assert entry.kind == kind
    return entry.component


def test_every_hook_is_documented_and_tested():
    assert sorted(doc_sections()) == HOOK_NAMES
    here = globals()
    assert [h for h in HOOK_NAMES if f"test_hook_{h}" not in here] == []
    assert {f"calcdet_register_{k}" for k in KINDS} <= set(HOOK_NAMES)


def test_hook_calcdet_register_datasets(tmp_path):
    cls = registered("calcdet_register_datasets")
    np.save(tmp_path / "p1_a.npy", np.zeros((20, 30), np.float32))
    (tmp_path / "p1_a.txt").write_text("4 5 3\n")
    np.save(tmp_path / "p2_b.npy", np.zeros((20, 30), np.float32))
    dataset = cls().index(tmp_path)
    assert [r.image_id for r in dataset.records] == ["p1_a"]
    assert dataset.records[0].patient_id == "p1"
    assert dataset.records[0].read().pixels.shape == (20, 30)
    assert [s.path for s in dataset.skipped] == [str(tmp_path / "p2_b.npy")]


def test_hook_calcdet_register_proposers():
    cls = registered("calcdet_register_proposers")
    check_component(cls())


def test_hook_calcdet_register_features():
    cls = registered("calcdet_register_features")
    check_component(cls())


def test_hook_calcdet_register_classifiers():
    cls = registered("calcdet_register_classifiers")
    check_component(cls())


def test_hook_calcdet_register_detectors():
    cls = registered("calcdet_register_detectors")
    check_component(cls())
    image, (cx, cy) = disk_test_image(size=96)
    fitted = cls().fit([(image, Annotation(targets=(Target(cx, cy, 8.0),)))])
    found = fitted.detect(image)
    assert np.hypot(found.x - cx, found.y - cy).min() <= 2


def test_hook_calcdet_register_evaluators():
    cls = registered("calcdet_register_evaluators")
    check_component(cls())


def test_hook_calcdet_register_commands():
    module = example_module("calcdet_register_commands")
    pm = build_registry(extra_plugins=[("docs-commands", module)], autoload=False).plugin_manager
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Root."""

    pm.hook.calcdet_register_commands(cli=app)
    result = CliRunner().invoke(app, ["hello", "--name", "calcdet"])
    assert result.exit_code == 0 and result.output == "hello calcdet\n"


@pytest.mark.parametrize("hook", [h for h in HOOK_NAMES if h.startswith("calcdet_register_")])
def test_docs_examples_do_not_use_pickle(hook):
    assert "pickle" not in doc_sections()[hook]
