"""Every hook is documented in docs/plugin_hooks.md, and every documented example runs.

Like datasette's own checks: a hook without a documentation heading or without a
``test_hook_<name>`` test here fails the suite.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from calcdet_core.api import TrainingContext
from calcdet_core.cli.app import create_app
from calcdet_core.contracts import hookspecs
from calcdet_core.contracts.components import KINDS
from calcdet_core.io.arrays import load_arrays
from calcdet_core.io.model_dir import load_model
from calcdet_core.plugins.registry import build_registry
from calcdet_core.testing import add_disks, check_component, detector_streams, detector_test_image, textured_background

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugin_hooks.md"
HOOK_NAMES = sorted(n for n in dir(hookspecs) if n.startswith("calcdet_"))


def doc_sections() -> dict[str, str]:
    """Hook name -> its section text, from the literal-signature headings."""
    text = DOCS.read_text()
    parts = re.split(r"^## `(calcdet_\w+)\(.*\).*`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def python_blocks(hook: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc_sections()[hook], flags=re.S)


def example_module(hook: str) -> types.ModuleType:
    """Execute the section's (first) Python example as a real module."""
    code = python_blocks(hook)[0]
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
    train, validation = detector_streams()
    context = TrainingContext.temporary(seed=0)
    fitted = cls(epochs=2).fit(train, validation, context)
    assert [sorted(row) for row in context.reporter.history] == [["epoch", "level", "val_sensitivity"]] * 2
    assert context.reporter.facts["level"] == fitted.level_ > 0
    image = detector_test_image(seed=50)
    found = fitted.detect(image.pixels, image.mask)
    for t in image.annotation.targets:
        assert np.hypot(found.x - t.x, found.y - t.y).min() <= 2


# --------------------------------------------------------------------------- the detector example from the CLI


def write_npy_dataset(root: Path, images: int = 12, size: int = 96) -> dict[str, list[tuple[float, float]]]:
    """``images`` files for the documented npy-folder adapter: breast left or right of a black strip, 3 MCs each."""
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(images):
        rng = np.random.default_rng(i)
        right = i % 2 == 1  # half the breasts need the flip to the left
        lo, hi = (24, size - 8) if right else (8, size - 24)
        xy = [(float(rng.integers(lo, hi)), float(rng.integers(8 + 28 * k, 28 + 28 * k))) for k in range(3)]
        pixels = add_disks(textured_background((size, size), seed=i), [(x, y, 2.5, 0.3) for x, y in xy])
        pixels[:, slice(0, 16) if right else slice(size - 16, size)] = 0  # the background beside the breast
        image_id = f"p{i:02d}_cc"
        np.save(root / f"{image_id}.npy", pixels)
        (root / f"{image_id}.txt").write_text("".join(f"{x} {y} 5\n" for x, y in xy))
        truth[image_id] = xy
    return truth


def test_documented_detector_trains_saves_loads_and_detects_from_the_cli(tmp_path):
    truth = write_npy_dataset(tmp_path / "data")
    (tmp_path / "peak.yaml").write_text("name: peak\ndetector: {plugin: peak-detector, params: {epochs: 2}}\n")
    registry = build_registry(extra_plugins=[("docs-datasets", example_module("calcdet_register_datasets")),
                                             ("docs-detectors", example_module("calcdet_register_detectors"))],
                              autoload=False)
    app, model = create_app(registry), tmp_path / "model"
    data = ["--dataset", "npy-folder", "--root", str(tmp_path / "data"), "--device", "cpu"]
    result = CliRunner().invoke(app, ["train", str(tmp_path / "peak.yaml"), *data, "--out", str(model)])
    assert result.exit_code == 0, result.output

    (state,) = model.glob("components/*/peak.safetensors")
    level = float(load_arrays(state)["level"][0])
    assert [row["epoch"] for row in json.loads((model / "history.json").read_text())] == [1, 2]
    assert json.loads((model / "training_metrics.json").read_text())["detector"]["level"] == level > 0
    assert load_model(model, registry).detector.level_ == level

    out = tmp_path / "found.csv"
    result = CliRunner().invoke(app, ["detect", str(model), *data, "--split", "test", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    images = {r["image_id"] for r in rows}
    assert len(images) >= 4
    for image_id in images:  # every MC of every test image found, in the stored grid
        found = np.array([(float(r["x"]), float(r["y"])) for r in rows if r["image_id"] == image_id])
        for x, y in truth[image_id]:
            assert np.hypot(*(found - (x, y)).T).min() <= 2


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


def test_hook_calcdet_output_writers(tmp_path):
    from calcdet_core.api import DetectedOutput, Detections, InvalidInputError, RunIdentity
    from calcdet_core.io.output_writers import prepare_writer
    from calcdet_core.plugins.registry import UnknownPluginError, use_registry

    module = example_module("calcdet_output_writers")
    found = Detections.from_columns([1.5, 7.0], [2.0, 3.25], [3.0, 3.0], [0.9, 0.1], "img")
    run = RunIdentity("a", "1", "sha256:0")
    with use_registry(build_registry(extra_plugins=[("docs-writers", module)], autoload=False)):
        (path,) = prepare_writer("points-csv", tmp_path, run, {"decimals": 0})([DetectedOutput("img", None, found)])
        with pytest.raises(InvalidInputError, match="decimals: a whole number"):
            prepare_writer("points-csv", tmp_path, run, {"decimals": 9})
        with pytest.raises(UnknownPluginError, match="install calcdet-clusters"):
            prepare_writer("dicom-sr", tmp_path, run)
    with path.open() as f:
        assert [r["x"] for r in csv.DictReader(f)] == ["2.0", "7.0"]


def test_hook_calcdet_training_transforms():
    from calcdet_core.api import ImageStream
    from calcdet_core.run.pipeline import PipelineValidationError, build_pipeline

    registry = build_registry(extra_plugins=[("docs-transforms", example_module("calcdet_training_transforms")),
                                             ("docs-detectors", example_module("calcdet_register_detectors"))],
                              autoload=False)
    (detector,) = [e.name for e in registry.entries if e.kind == "detectors"]
    doc = {"name": "t", "detector": {"plugin": detector},
           "training": {"transform": {"plugin": "gamma-jitter", "params": {"spread": 0.5}}}}
    transform = build_pipeline(doc, registry=registry).transform
    stream = ImageStream.from_images([detector_test_image(0, image_id="a"), detector_test_image(1, image_id="b")])
    drawn = stream.with_transform(transform, seed=3)
    assert np.array_equal(drawn[0].pixels, drawn[0].pixels)  # the fixed draw
    assert not np.array_equal(drawn[0].pixels, stream[0].pixels)
    fresh = [drawn.draw(0, np.random.default_rng(s)).pixels for s in (1, 2)]
    assert not np.array_equal(*fresh)

    doc["training"]["transform"]["params"] = {"spread": 2}
    with pytest.raises(PipelineValidationError, match=r"training.transform.params: gamma-jitter: spread"):
        build_pipeline(doc, registry=registry)
    doc["training"]["transform"] = {"plugin": "gama-jitter"}
    with pytest.raises(PipelineValidationError, match=r"training.transform.plugin: .*did you mean 'gamma-jitter'"):
        build_pipeline(doc, registry=registry)


class Overexposing:
    """A transform whose output leaves the working grid's [0, 1]."""

    def keeps(self, entry) -> bool:
        return True

    def __call__(self, image, rng):
        return dataclasses.replace(image, pixels=image.pixels + 0.5)


def test_a_transform_whose_pixels_leave_zero_to_one_is_refused_naming_it_and_the_image():
    from calcdet_core.api import ImageStream

    drawn = ImageStream.from_images([detector_test_image(0, image_id="a")]).with_transform(Overexposing(), seed=0)
    for read in (lambda: drawn[0], lambda: drawn.draw(0, np.random.default_rng(0))):
        with pytest.raises(ValueError, match=r"training.transform Overexposing \(image a\) needs pixel values in"):
            read()


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_docs_examples_import_only_the_public_api_and_never_pickle(hook):
    for code in python_blocks(hook):
        assert "pickle" not in code and "torch.save" not in code
        modules = re.findall(r"^\s*(?:from|import) (calcdet_core[\w.]*)", code, flags=re.M)
        assert set(modules) <= {"calcdet_core.api", "calcdet_core.testing"}, modules
