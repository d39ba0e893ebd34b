"""Every count and size a pipeline can set has a plausibility limit, so no YAML asks for terabytes or hangs.

The first test walks every installed component, as ``calcdet list-plugins`` lists them: a new numeric
setting without an upper bound fails here. The others run ``calcdet validate`` on values an audit
found accepted, and on pairs of settings that are plausible alone but multiply into memory.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.contracts.components import KINDS
from calcdet_core.plugins.registry import get_registry
from calcdet_core.run.pipeline import PipelineSpec

_UPPER = ("le", "lt")
_LOWER = ("ge", "gt")


def _constraints(metadata: Iterable[Any]) -> list[Any]:
    """Constraint objects (``Le(5)``, ...), a nested ``Field(...)`` opened up."""
    return [n for m in metadata for n in (m.metadata if isinstance(m, FieldInfo) else [m])]


def _has(constraints: list[Any], names: tuple[str, ...]) -> bool:
    return any(getattr(c, name, None) is not None for c in constraints for name in names)


def _missing_bounds(annotation: Any, constraints: list[Any], path: str) -> Iterator[str]:
    """``path (no upper bound)`` for each number in ``annotation`` that ``constraints`` and its own leave open.

    A field's constraints reach the numbers of a union (``int | None``), not a container's items
    (``tuple[float, ...]``), which need their own (``tuple[Annotated[float, Field(le=...)], ...]``).
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        yield from _missing_bounds(args[0], constraints + _constraints(args[1:]), path)
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _missing_bounds(arg, constraints, path)
    elif annotation in (int, float):
        yield from (f"{path} (no {side} bound)" for side, names in (("upper", _UPPER), ("lower", _LOWER))
                    if not _has(constraints, names))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from unbounded_settings(annotation, f"{path}.")
    elif origin is not Literal:
        for arg in args:
            if arg is not Ellipsis:
                yield from _missing_bounds(arg, [], f"{path}[]")


def unbounded_settings(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every int/float setting of ``model``, nested models and container items included, that lacks a bound."""
    return [missing for name, info in model.model_fields.items()
            for missing in _missing_bounds(info.annotation, _constraints(info.metadata), prefix + name)]


REGISTRY = get_registry()
CONFIGS = {f"{e.kind}:{e.name}": e.component.Config for e in REGISTRY.entries
           if e.component is not None and isinstance(getattr(e.component, "Config", None), type)}


def test_every_kind_of_component_is_installed_and_loads():
    assert not REGISTRY.errors(), "a plugin that fails to load would escape the bounds check"
    assert {key.split(":")[0] for key in CONFIGS} >= set(KINDS)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_every_numeric_setting_of_a_component_has_an_upper_bound(config):
    assert unbounded_settings(config) == [], "give each Field(...) a plausibility limit (le=/lt=) and ge=/gt="


def test_every_numeric_key_of_the_pipeline_document_has_an_upper_bound():
    assert unbounded_settings(PipelineSpec) == []


class _Inner(BaseModel):
    depth: int = Field(1, ge=1)
    share: float = Field(0.5, ge=0, le=1)


class _Open(BaseModel):
    count: int | None = Field(None, ge=1)
    size: Annotated[int, Field(ge=1, le=9)] = 3
    gamma: Annotated[float, Field(gt=0, le=9)] | Literal["scale"] = "scale"
    rates: tuple[float, ...] = Field((1.0,), min_length=1)
    widths: tuple[Annotated[int, Field(ge=1, le=9)], ...] = (1,)
    offset: float = Field(0.0, le=1)
    inner: _Inner | None = None
    name: str = "x"
    flag: bool = True


def test_the_walk_finds_open_settings_in_unions_containers_and_nested_models():
    assert unbounded_settings(_Open) == ["count (no upper bound)", "rates[] (no upper bound)",
                                         "rates[] (no lower bound)", "offset (no lower bound)",
                                         "inner.depth (no upper bound)"]


BASE = """\
name: bounds
proposer: {plugin: hdog}
features: [{plugin: fos}]
classifier: {plugin: random-forest}
evaluators: [{plugin: froc}]
"""


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    result = CliRunner().invoke(create_app(), ["validate", str(path)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(("change", "line"), [
    ("evaluators: [{plugin: froc, params: {bootstrap_resamples: 1000000000000}}]",
     "evaluators[0].params.bootstrap_resamples: Input should be less than or equal to 100000"),
    ("classifier: {plugin: random-forest, params: {n_estimators: 1.0e+30}}",
     "classifier.params.n_estimators: Unable to parse input string as an integer, exceeded maximum size"),
    ("classifier: {plugin: random-forest, params: {n_estimators: 1000000}}",
     "classifier.params.n_estimators: Input should be less than or equal to 10000"),
    ("features: [{plugin: fos, params: {patch_size: 1000000000}}]",
     "features[0].params.patch_size: Input should be less than or equal to 256"),
    ("training: {negatives_per_image: 1.0e+9}",
     "training.negatives_per_image: Input should be less than or equal to 1000000"),
    ("evaluators: [{plugin: cluster-froc, params: {pixel_spacing_mm: [0.07, 70]}}]",
     "evaluators[0].params.pixel_spacing_mm[1]: Input should be less than or equal to 1"),
], ids=["froc-resamples", "forest-1e30", "forest-trees", "fos-patch", "negatives-per-image", "cluster-spacing"])
def test_an_implausible_setting_is_refused_by_validate_at_its_yaml_path(tmp_path, change, line):
    key = change.split(":")[0]
    text = "".join(row for row in BASE.splitlines(keepends=True) if not row.startswith(f"{key}:")) + change + "\n"
    code, stderr = validate(tmp_path, text)
    assert code == 1 and "Traceback" not in stderr
    assert f"  {line}\n" in stderr


@pytest.mark.parametrize(("change", "where", "keys"), [
    ("features: [{plugin: haar, params: {patch_size: 24, max_training_samples: 1000000}}]",
     "features[0].params", ("max_training_samples=1000000", "patch_size=24")),
    ("classifier: {plugin: random-forest, params: {n_estimators: 10000, max_train_samples: 1000000}}",
     "classifier.params", ("n_estimators=10000", "max_train_samples=1000000")),
    ("classifier: {plugin: svm-cascade, params: {stage2: extra-trees, stage2_negatives: all, stage2_trees: 10000, "
     "stage2_max_rows: 5000000}}", "classifier.params", ("stage2_trees=10000", "stage2_max_rows=5000000")),
], ids=["haar-selection", "forest", "cascade-stage2"])
def test_settings_that_multiply_into_memory_are_refused_naming_both(tmp_path, change, where, keys):
    key = change.split(":")[0]
    text = "".join(row for row in BASE.splitlines(keepends=True) if not row.startswith(f"{key}:")) + change + "\n"
    code, stderr = validate(tmp_path, text)
    assert code == 1
    line = next(row for row in stderr.splitlines() if row.startswith(f"  {where}: "))
    assert all(k in line for k in keys) and "GiB" in line


def test_the_same_settings_within_memory_validate(tmp_path):
    text = BASE.replace("{plugin: fos}", "{plugin: haar, params: {patch_size: 24, max_training_samples: 10000}}")
    text = text.replace("{plugin: random-forest}", "{plugin: random-forest, params: {n_estimators: 10000}}")
    code, stderr = validate(tmp_path, text)
    assert code == 0, stderr


@pytest.mark.parametrize(("params", "where", "keys"), [
    ("{plugin: point-heatmap, params: {window: 4096, window_batch: 4096}}", "detector.params.window_batch",
     ("window_batch=4096", "window=4096")),
    ("{plugin: resnet-saliency, params: {patch_size: 64, patch_batch: 65536, width: 256}}", "detector.params",
     ("patch_batch=65536", "patch_size=64")),
    ("{plugin: example-fcn, params: {patch_size: 1024, crops_per_step: 4096}}", "detector.params",
     ("crops_per_step=4096", "patch_size=1024")),
], ids=["point-heatmap", "resnet-saliency", "example-fcn"])
def test_a_training_batch_that_cannot_fit_in_memory_is_refused_naming_both(tmp_path, params, where, keys):
    code, stderr = validate(tmp_path, f"name: big\ndetector: {params}\n")
    assert code == 1
    line = next(row for row in " ".join(stderr.split("\n    ")).splitlines() if row.startswith(f"  {where}: "))
    assert all(k in line for k in keys) and "GiB" in line
