"""Pipelines in YAML: schema, complete validation with YAML paths, and instantiation.

Validation finishes before any work starts and reports every problem at once, each
at its YAML path (``features[1].params.n_selected: Input should be greater than 0``).
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calcdet_core.contracts.components import (
    Classifier,
    Component,
    Detector,
    Evaluator,
    FeatureExtractor,
    Proposer,
)
from calcdet_core.contracts.training import TrainingTransform
from calcdet_core.errors import CalcdetUserError
from calcdet_core.io.text import read_text_file
from calcdet_core.plugins.registry import Registry, UnknownPluginError, get_registry


class PreprocessSpec(BaseModel):
    """Image preparation before any component sees the pixels."""

    model_config = ConfigDict(extra="forbid")
    crop_breast: bool = Field(True, description="Crop to the largest non-zero component (the breast).")
    flip_to_left: bool = Field(True, description="Mirror right breasts so the chest wall is on the left.")
    working_spacing_mm: float | None = Field(
        0.07, ge=0.01, le=1.0,
        description="Pixel spacing (mm) components work at, 0.01-1 mm: images stating another spacing are resampled "
                    "to it, detections map back to the stored grid; null keeps every image at its stored spacing.")


class ComponentSpec(BaseModel):
    """One slot of a pipeline: which plugin, with which parameters."""

    model_config = ConfigDict(extra="forbid")
    plugin: str = Field(description="Registered name of the component (see `calcdet list-plugins`).")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of the plugin's Config.")


class TrainingSpec(BaseModel):
    """What the learning components learn from: which candidates (classifier), which images as drawn (detector)."""

    model_config = ConfigDict(extra="forbid")
    negatives_per_image: int | None = Field(
        None, ge=1, le=1_000_000,
        description="False-positive candidates kept per train or validation image, drawn at random with the run's "
                    "seed; every true positive stays. Bounds the feature matrices (full-size mammograms propose "
                    "10,000+ candidates each); null keeps every one.")
    transform: ComponentSpec | None = Field(
        None, description="A training transform a plugin registers (`mc-insertion`: simulated MCs inserted "
                          "afresh every epoch) that a detector's training images pass through each time they are "
                          "drawn; validation images pass through it once, the same every epoch. Detectors only.")


class OperatingPointSpec(BaseModel):
    """Where a trained model reports its findings: chosen on the validation split after training."""

    model_config = ConfigDict(extra="forbid")
    fppi: float = Field(1.0, ge=0, le=50, description="False positives per normal image (the study's FROC protocol) "
                                                     "the operating point may cost on the validation split; the "
                                                     "lowest score threshold within it is kept in the model.")


class PipelineSpec(BaseModel):
    """The YAML document: a proposer (+ features + classifier), or a detector."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    operating_point: OperatingPointSpec | None = Field(default_factory=OperatingPointSpec)
    proposer: ComponentSpec | None = None
    features: list[ComponentSpec] = Field(default_factory=list)
    classifier: ComponentSpec | None = None
    detector: ComponentSpec | None = None
    evaluators: list[ComponentSpec] = Field(default_factory=list)


SLOTS: dict[str, tuple[str, bool]] = {
    # YAML key -> (component kind, is a list)
    "proposer": ("proposers", False),
    "features": ("features", True),
    "classifier": ("classifiers", False),
    "detector": ("detectors", False),
    "evaluators": ("evaluators", True),
}


@dataclass(frozen=True)
class ValidationIssue:
    """One problem, at its YAML path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PipelineValidationError(CalcdetUserError, ValueError):
    """Every problem found in a pipeline document."""

    def __init__(self, source: str, issues: list[ValidationIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"{source}: {len(issues)} error(s) in pipeline\n{lines}")


def format_loc(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """``('features', 1, 'params', 'n')`` -> ``features[1].params.n``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's type (``PreprocessSpec``, ``ComponentSpec | None``, ``list[...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_submodel, get_args(annotation)) if m is not None), None)


def _model_at(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (list indices skipped), if any."""
    for part in loc:
        if model is not None and isinstance(part, str):
            field = model.model_fields.get(part)
            model = _submodel(field.annotation) if field is not None else None
    return model


def _unknown_key(key: object, model: type[BaseModel], owner: str) -> str:
    """An unknown key's message, with the nearest accepted names (as for an unknown plugin)."""
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6)
    if close:
        return f"unknown {owner} {key!r}; did you mean {', '.join(repr(c) for c in close)}?"
    return f"unknown {owner} {key!r}; " + (f"expected one of {', '.join(known)}" if known else "it takes none")


def pydantic_issues(error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None,
                    owner: str = "key") -> list[ValidationIssue]:
    """Every error at its YAML path; with ``model``, a misspelled key gets the names it may have meant."""
    issues = []
    for e in error.errors():
        loc = tuple(e["loc"])
        message = e["msg"]
        parent = _model_at(model, loc[:-1]) if model is not None and e["type"] == "extra_forbidden" else None
        if parent is not None:
            message = _unknown_key(loc[-1], parent, owner if parent is model else "key")
        issues.append(ValidationIssue(format_loc(loc, prefix), message))
    return issues


@dataclass
class Pipeline:
    """A validated pipeline with its components built (untrained)."""

    spec: PipelineSpec
    proposer: Proposer | None = None
    features: list[FeatureExtractor] = field(default_factory=list)
    classifier: Classifier | None = None
    detector: Detector | None = None
    evaluators: list[Evaluator] = field(default_factory=list)
    transform: TrainingTransform | None = None

    def components(self) -> Iterator[tuple[str, Component]]:
        """(YAML path, component) for every component, in pipeline order."""
        for key, (_, is_list) in SLOTS.items():
            value = getattr(self, key)
            if is_list:
                for i, component in enumerate(value):
                    yield f"{key}[{i}]", component
            elif value is not None:
                yield key, value

    def resolved(self) -> dict[str, Any]:
        """The pipeline with every parameter made explicit (defaults included)."""
        doc: dict[str, Any] = {"name": self.spec.name, "description": self.spec.description,
                               "preprocess": self.spec.preprocess.model_dump(),
                               "training": self.spec.training.model_dump(),
                               "operating_point": None if self.spec.operating_point is None
                               else self.spec.operating_point.model_dump()}
        for key, (_, is_list) in SLOTS.items():
            value = getattr(self, key)
            entries = [{"plugin": _plugin_name(c), "params": c.config.model_dump(mode="json")}
                       for c in (value if is_list else [value] if value is not None else [])]
            if entries:
                doc[key] = entries if is_list else entries[0]
        return doc


def _plugin_name(component: Component) -> str:
    """What the resolved pipeline names ``component`` by: a name that resolves to its very class (its qualified
    name when an outside component shares a bare name calcdet's own holds); its bare name when unregistered."""
    try:
        return get_registry().entry_of(type(component)).usable_name
    except UnknownPluginError:
        return component.name


def _structure_issues(raw: dict[str, Any]) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    has = {key: raw.get(key) not in (None, []) for key in SLOTS}
    if has["detector"]:
        issues += [ValidationIssue(key, "cannot be combined with 'detector'; a detector replaces "
                                        "proposer, features and classifier")
                   for key in ("proposer", "features", "classifier") if has[key]]
    elif not has["proposer"]:
        issues.append(ValidationIssue("", "a pipeline needs a 'proposer' (optionally with 'features' and "
                                          "'classifier') or a 'detector'"))
    training = raw.get("training")
    if isinstance(training, dict) and training.get("transform") is not None and not has["detector"]:
        issues.append(ValidationIssue("training.transform", "only a detector draws its training images as it "
                                                            "learns; a proposer pipeline cannot use a transform"))
    if has["classifier"] and not has["features"]:
        issues.append(ValidationIssue("classifier", "a classifier needs 'features' to score"))
    if has["features"] and not has["classifier"]:
        issues.append(ValidationIssue("features", "features are only used by a 'classifier'; add one"))
    return issues


def _slot_entries(raw: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for key, (kind, is_list) in SLOTS.items():
        value = raw.get(key)
        if value is None:
            continue
        if is_list:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    yield f"{key}[{i}]", kind, item
        else:
            yield key, kind, value


def build_pipeline(raw: Any, source: str = "<pipeline>", registry: Registry | None = None) -> Pipeline:
    """Validate a parsed YAML document completely, then build its components."""
    registry = registry or get_registry()
    if not isinstance(raw, dict):
        raise PipelineValidationError(source, [ValidationIssue("", "the document must be a mapping of keys")])
    issues: list[ValidationIssue] = []
    spec: PipelineSpec | None = None
    try:
        spec = PipelineSpec.model_validate(raw)
    except ValidationError as exc:
        issues += pydantic_issues(exc, model=PipelineSpec)
    issues += _structure_issues(raw)

    built: dict[str, Component] = {}
    for path, kind, item in _slot_entries(raw):
        if not isinstance(item, dict) or not isinstance(item.get("plugin"), str):
            continue  # already reported by the schema
        name = item["plugin"]
        try:
            cls = registry.get(kind, name)
        except UnknownPluginError as exc:
            issues.append(ValidationIssue(f"{path}.plugin", str(exc)))
            continue
        params = item.get("params") or {}
        if not isinstance(params, dict):
            continue
        try:
            built[path] = cls(cls.Config.model_validate(params))
        except ValidationError as exc:
            issues += pydantic_issues(exc, prefix=f"{path}.params", model=cls.Config, owner=f"{name} parameter")
        except Exception as exc:  # a constructor that rejects a valid config
            issues.append(ValidationIssue(f"{path}.params", f"{name}: {type(exc).__name__}: {exc}"))
    transform = None
    if spec is not None and spec.training.transform is not None:
        transform = _build_transform(spec.training.transform, registry, issues)
    if issues or spec is None:
        raise PipelineValidationError(source, issues)

    pipeline = Pipeline(spec=spec, transform=transform)
    for path, component in built.items():
        key = path.split("[")[0]
        if SLOTS[key][1]:
            getattr(pipeline, key).append(component)
        else:
            setattr(pipeline, key, component)
    return pipeline


def _build_transform(spec: ComponentSpec, registry: Registry, issues: list[ValidationIssue]
                     ) -> TrainingTransform | None:
    """``training.transform`` built by its plugin's factory; a refusal is an issue at its YAML path."""
    try:
        factory = registry.get("transforms", spec.plugin)
    except UnknownPluginError as exc:
        issues.append(ValidationIssue("training.transform.plugin", str(exc)))
        return None
    try:
        return factory(**spec.params)
    except (ValueError, TypeError, CalcdetUserError) as exc:
        issues.append(ValidationIssue("training.transform.params", f"{spec.plugin}: {exc}"))
        return None


MAX_PIPELINE_BYTES = 1 << 20
"""A pipeline file is a page of settings; anything larger is refused before it is parsed."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (PyYAML lets the last one win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: the safe loader reports it below
                continue
            if first != line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} on line {line} (first given on line {first})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """Parse a pipeline YAML file with the safe loader.

    Syntax errors and duplicate keys name the file and line; a file over
    :data:`MAX_PIPELINE_BYTES` or not in UTF-8 is refused with a one-line error.
    """
    stream = io.StringIO(read_text_file(Path(path), "pipeline file", MAX_PIPELINE_BYTES))
    stream.name = str(path)  # PyYAML's marks name the file
    try:
        return yaml.load(stream, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no Python tags
    except yaml.YAMLError as exc:
        raise PipelineValidationError(str(path), [ValidationIssue("", f"invalid YAML: {exc}")]) from exc
    except RecursionError:
        raise PipelineValidationError(str(path), [ValidationIssue("", "nested too deeply to be a pipeline")]) from None


@dataclass(frozen=True)
class PipelineDocument:
    """A pipeline document that has passed validation, and where it came from.

    What a run starts from: :meth:`build` makes fresh, untrained components every time, so one
    document can be trained twice without the second run seeing the first one's state.
    """

    document: dict[str, Any]
    source: str
    path: Path | None = None
    _unused: list[Pipeline] = field(default_factory=list, repr=False, compare=False)
    """The pipeline validation built, handed out by the first :meth:`build` (components can be costly)."""

    def build(self, registry: Registry | None = None) -> Pipeline:
        if self._unused and registry is None:
            return self._unused.pop()
        return build_pipeline(self.document, source=self.source, registry=registry)

    def with_settings(self, settings: Sequence[tuple[str, Any]], label: str, flag: str = "--set",
                      registry: Registry | None = None) -> PipelineDocument:
        """The resolved document (every default filled in) with ``(PATH, value)`` settings applied and
        validated; ``label`` says how they were given in the new document's source, ``flag`` in messages."""
        from calcdet_core.run.overrides import apply_settings

        changed = apply_settings(self.build(registry).resolved(), settings, flag)
        return checked_document(changed, f"{self.source} (with {label})", self.path, registry)


def checked_document(document: Any, source: str, path: Path | None = None,
                     registry: Registry | None = None) -> PipelineDocument:
    """``document`` validated completely (every problem at its YAML path), as a :class:`PipelineDocument`."""
    built = build_pipeline(document, source=source, registry=registry)
    return PipelineDocument(document, source, path, [built] if registry is None else [])


def read_pipeline(path: Path, registry: Registry | None = None, overrides: Sequence[str] = ()) -> PipelineDocument:
    """Read and validate the pipeline in a YAML file, with ``--set PATH=VALUE`` ``overrides`` applied."""
    from calcdet_core.run.overrides import parse_override

    read = checked_document(load_yaml(path), str(path), Path(path), registry)
    if not overrides:
        return read
    return read.with_settings([parse_override(s) for s in overrides], f"--set {', '.join(overrides)}",
                              registry=registry)


def load_pipeline(path: Path, registry: Registry | None = None, overrides: Sequence[str] = ()) -> Pipeline:
    """Read, validate and build the pipeline in a YAML file, with ``--set PATH=VALUE`` ``overrides`` applied."""
    return read_pipeline(path, registry, overrides).build(registry)
