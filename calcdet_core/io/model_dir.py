"""The model directory: what training leaves behind, and the checks before anything is loaded from it.

Layout::

    MODEL_DIR/
      pipeline.yaml            the resolved pipeline (every parameter explicit)
      components/<slot>/...    each component's save_state() files (skops, safetensors, JSON; never pickle)
      plugins.json             kind, name, distribution and version of every component used
      training_metrics.json    what training saw and measured
      history.json             per-epoch figures (loss, validation metrics), when training logged epochs
      history.png              those figures as curves, one panel each
      checksums.json           SHA-256 of every file above (written last: its presence marks completion)

Saving refuses a trainable component whose ``save_state`` writes nothing, before any file of
the model is written.

Loading refuses a directory whose files do not match their checksums (or that holds files
no checksum covers), that holds a symbolic link or a checksum entry outside itself, whose
``checksums.json``, ``plugins.json`` or ``pipeline.yaml`` is malformed, or whose plugins are
missing or installed at another distribution or version, and names the problems. Checksums
catch accidents, not tampering: :func:`model_digest` gives one digest a site can pin.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from calcdet_core.errors import CalcdetUserError, InvalidInputError
from calcdet_core.plugins.registry import Registry, UnknownPluginError, get_registry
from calcdet_core.run.pipeline import Pipeline, build_pipeline, load_yaml

PIPELINE_FILE = "pipeline.yaml"
PLUGINS_FILE = "plugins.json"
METRICS_FILE = "training_metrics.json"
CHECKSUMS_FILE = "checksums.json"
COMPONENTS_DIR = "components"
HISTORY_FILE = "history.json"
HISTORY_PLOT = "history.png"
_STAGING_DIR = ".components-staging"


class ModelDirError(CalcdetUserError, ValueError):
    """A model directory that cannot be trusted or used; the message lists every reason."""

    def __init__(self, directory: Path, problems: list[str]) -> None:
        self.directory = directory
        self.problems = problems
        super().__init__(f"refusing model directory {directory}:\n" + "\n".join(f"  - {p}" for p in problems))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def slot_folder(slot: str, name: str) -> str:
    """``features[2]`` + ``haar`` -> ``features-2-haar``: one folder per component."""
    return f"{slot.replace('[', '-').rstrip(']')}-{name}"


def is_model_dir(path: Path) -> bool:
    return (Path(path) / CHECKSUMS_FILE).is_file()


WORK_DIR = "work"
"""Where ``calcdet train`` keeps an unfinished run's checkpoints; never part of a model."""


def model_files(directory: Path) -> list[Path]:
    """Every file of a finished model directory: its content and the checksums that cover it."""
    return [*_model_files(directory), Path(directory) / CHECKSUMS_FILE]


def _model_files(directory: Path) -> list[Path]:
    top = [directory / name for name in (PIPELINE_FILE, PLUGINS_FILE, METRICS_FILE)]
    top += [directory / name for name in (HISTORY_FILE, HISTORY_PLOT) if (directory / name).is_file()]
    components = directory / COMPONENTS_DIR
    return top + (sorted(p for p in components.rglob("*") if p.is_file()) if components.is_dir() else [])


def save_model(directory: Path, pipeline: Pipeline, metrics: dict[str, Any], registry: Registry | None = None,
               history: Sequence[dict[str, float]] = ()) -> Path:
    """Write a trained pipeline into ``directory`` (created; must not already hold a model).

    ``history`` (one row of figures per epoch) becomes ``history.json`` and its curves ``history.png``.
    """
    registry = registry or get_registry()
    directory = Path(directory)
    if is_model_dir(directory):
        raise InvalidInputError(f"{directory} already holds a trained model; choose another --out or remove it")
    directory.mkdir(parents=True, exist_ok=True)
    plugins = []
    for slot, component in pipeline.components():
        entry = registry.entry_of(type(component))
        plugins.append({"slot": slot, "kind": entry.kind, "name": entry.name,
                        "distribution": entry.distribution, "version": entry.version})
    _stage_components(directory, pipeline)
    (directory / PIPELINE_FILE).write_text(yaml.safe_dump(pipeline.resolved(), sort_keys=False))
    (directory / PLUGINS_FILE).write_text(json.dumps(plugins, indent=2))
    (directory / METRICS_FILE).write_text(_to_json(metrics))
    if history:
        from calcdet_core.run.reporting import plot_history

        (directory / HISTORY_FILE).write_text(_to_json(list(history)))
        plot_history(history, directory / HISTORY_PLOT)
    checksums = {p.relative_to(directory).as_posix(): sha256(p) for p in _model_files(directory)}
    (directory / CHECKSUMS_FILE).write_text(json.dumps({"algorithm": "sha256", "files": checksums}, indent=2))
    return directory


def _stage_components(directory: Path, pipeline: Pipeline) -> None:
    """Every component's learned state into ``components/``, checked first in a staging folder.

    A trainable component that writes nothing would make a model directory that cannot be
    loaded: that is refused here, naming the slot, before any file of the model exists.
    """
    staging = directory / _STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for slot, component in pipeline.components():
            folder = staging / slot_folder(slot, component.name)
            folder.mkdir(parents=True)
            component.save_state(folder)
            if not any(p.is_file() for p in folder.rglob("*")):
                if component.trainable:
                    raise ValueError(f"{slot}: trainable {component.kind[:-1]} {component.name!r} "
                                     f"({type(component).__qualname__}) wrote no file in save_state, so the "
                                     "model could never be loaded; save its learned state there")
                shutil.rmtree(folder)
        shutil.rmtree(directory / COMPONENTS_DIR, ignore_errors=True)  # left by an earlier, interrupted save
        if any(staging.iterdir()):
            staging.rename(directory / COMPONENTS_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return _finite_or_none(value.tolist())
    raise TypeError(f"training metrics hold a {type(value).__name__}, which is not JSON")


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged loss is written as null rather than losing the trained model."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def _to_json(doc: Any) -> str:
    return json.dumps(_finite_or_none(doc), indent=2, allow_nan=False, default=_json_default)


def _symlinks(directory: Path) -> list[str]:
    """Every symbolic link inside ``directory`` (files and folders): a model reads nothing from outside itself."""
    found = []
    for folder, dirs, files in os.walk(directory, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                found.append(path.relative_to(directory).as_posix())
    return sorted(found)


def _outside(directory: Path, name: str) -> bool:
    """Whether a ``checksums.json`` entry names anything but a plain relative path that stays inside ``directory``."""
    relative = Path(name)
    if not name or relative.is_absolute() or ".." in relative.parts or "\\" in name or ":" in relative.parts[0]:
        return True
    base = directory.resolve()
    return not (base / relative).resolve().is_relative_to(base)


def _recorded_checksums(directory: Path) -> dict[str, str]:
    """``checksums.json``'s ``files`` (relative path -> SHA-256 hex), its structure checked."""
    path = directory / CHECKSUMS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelDirError(directory, [f"{CHECKSUMS_FILE} is unreadable ({exc})"]) from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or doc.get("algorithm", "sha256") != "sha256":
        raise ModelDirError(directory, [f"{CHECKSUMS_FILE}: expected {{\"algorithm\": \"sha256\", \"files\": "
                                        "{path: digest}}"])
    bad = [repr(k) for k, v in files.items()
           if not isinstance(v, str) or len(v) != 64 or any(c not in "0123456789abcdef" for c in v)]
    if bad:
        raise ModelDirError(directory, [f"{CHECKSUMS_FILE}: {', '.join(bad[:5])}: not a SHA-256 hex digest"])
    return files


def _check_files(directory: Path) -> list[str]:
    links = _symlinks(directory)
    if links:
        return [f"{name}: a symbolic link (a model directory holds its own files only)" for name in links]
    recorded = _recorded_checksums(directory)
    outside = sorted(name for name in recorded if _outside(directory, name))
    if outside:
        return [f"{CHECKSUMS_FILE} names {name!r}, outside the model directory" for name in outside]
    problems = []
    for name, expected in sorted(recorded.items()):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: listed in {CHECKSUMS_FILE} but missing")
        elif sha256(path) != expected:
            problems.append(f"{name}: SHA-256 does not match {CHECKSUMS_FILE} (the file changed after training)")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*")
               if p.is_file() and p.name != CHECKSUMS_FILE and p.relative_to(directory).parts[0] != WORK_DIR}
    problems += [f"{name}: not covered by {CHECKSUMS_FILE} (added after training)"
                 for name in sorted(present - set(recorded))]
    return problems


_PLUGIN_FIELDS = ("slot", "kind", "name", "distribution", "version")


def _check_plugins(directory: Path, registry: Registry) -> list[str]:
    try:
        plugins = json.loads((directory / PLUGINS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [f"{PLUGINS_FILE} is unreadable ({exc})"]
    if not isinstance(plugins, list) or not all(
            isinstance(p, dict) and all(isinstance(p.get(k), str) for k in _PLUGIN_FIELDS) for p in plugins):
        return [f"{PLUGINS_FILE}: expected a list of {{{', '.join(_PLUGIN_FIELDS)}}} records of text"]
    problems = []
    for p in plugins:
        trained = f"{p['distribution']} {p['version']}"
        try:  # the distribution it was trained with, else whatever the name now resolves to (to say so)
            entry = registry.entry(p["kind"], f"{p['distribution']}:{p['name']}")
        except UnknownPluginError:
            entry = None
        try:
            entry = entry or registry.entry(p["kind"], p["name"])
        except UnknownPluginError:
            problems.append(f"{p['slot']}: {p['kind'][:-1]} plugin {p['name']!r} ({trained}) is not installed; "
                            f"install {p['distribution']}=={p['version']}")
            continue
        if (entry.distribution, entry.version) != (p["distribution"], p["version"]):
            problems.append(f"{p['slot']}: {p['kind'][:-1]} plugin {p['name']!r} was trained with {trained}, "
                            f"but {entry.distribution} {entry.version} is installed")
    return problems


def _read_pipeline(directory: Path) -> dict[str, Any]:
    try:  # the pipeline file's own checks: size, UTF-8, safe loader, no duplicate keys
        doc = load_yaml(directory / PIPELINE_FILE)
    except CalcdetUserError as exc:
        raise ModelDirError(directory, [f"{PIPELINE_FILE} is unreadable ({' '.join(str(exc).split())})"]) from None
    if not isinstance(doc, dict):
        raise ModelDirError(directory, [f"{PIPELINE_FILE}: expected a mapping of pipeline settings, "
                                        f"found {type(doc).__name__}"])
    return doc


def model_digest(path: Path) -> str:
    """One SHA-256 over a whole model directory (every file's relative path and content), or over one file.

    Any change of any file, an added or a removed file changes it; a symbolic link is refused.
    """
    path = Path(path)
    if path.is_file():
        return sha256(path)
    if not path.is_dir():
        raise InvalidInputError(f"{path}: no such model directory or file")
    links = _symlinks(path)
    if links:
        raise ModelDirError(path, [f"{name}: a symbolic link (a model directory holds its own files only)"
                                   for name in links])
    digest = hashlib.sha256()
    for file in sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file}\0{sha256(path / file)}\n".encode())
    return digest.hexdigest()


def check_digest(path: Path, expected: str) -> None:
    """Refuse ``path`` unless its :func:`model_digest` is ``expected`` (``--expect-digest``; ``sha256:`` optional)."""
    wanted = expected.strip().lower().removeprefix("sha256:")
    actual = model_digest(path)
    if actual != wanted:
        raise ModelDirError(Path(path), [f"its digest is {actual}, not the expected {wanted} "
                                         "(--expect-digest): another or a changed model"])


def load_model(directory: Path, registry: Registry | None = None) -> Pipeline:
    """Verify and load a trained pipeline; :class:`ModelDirError` lists everything wrong."""
    registry = registry or get_registry()
    directory = Path(directory)
    if not is_model_dir(directory):
        raise ModelDirError(directory, [f"no {CHECKSUMS_FILE}: not a (completely written) calcdet model directory"])
    problems = _check_files(directory) + _check_plugins(directory, registry)
    if problems:
        raise ModelDirError(directory, problems)
    doc = _read_pipeline(directory)
    try:
        pipeline = build_pipeline(doc, source=str(directory / PIPELINE_FILE), registry=registry)
    except CalcdetUserError as exc:
        raise ModelDirError(directory, [str(exc)]) from None
    listed = {(p["slot"], p["name"]) for p in json.loads((directory / PLUGINS_FILE).read_text(encoding="utf-8"))}
    unlisted = [f"{slot}: {PLUGINS_FILE} holds no record of {component.name!r}, so the version it was trained "
                "with cannot be checked" for slot, component in pipeline.components()
                if (slot, component.name) not in listed]
    if unlisted:
        raise ModelDirError(directory, unlisted)
    for slot, component in pipeline.components():
        folder = directory / COMPONENTS_DIR / slot_folder(slot, component.name)
        if folder.is_dir():
            try:
                component.load_state(folder)
            except CalcdetUserError as exc:  # e.g. a refused skops type, a malformed classifier JSON
                raise ModelDirError(directory, [f"{slot}: {exc}"]) from None
        elif component.trainable:
            raise ModelDirError(directory, [f"{slot}: trainable {component.name!r} has no saved state in {folder}"])
    return pipeline


def read_metrics(directory: Path) -> dict[str, Any]:
    try:
        doc = json.loads((Path(directory) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelDirError(Path(directory), [f"{METRICS_FILE} is unreadable ({exc})"]) from None
    if not isinstance(doc, dict):
        raise ModelDirError(Path(directory), [f"{METRICS_FILE}: expected a JSON object"])
    return doc
