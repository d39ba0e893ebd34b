"""Output writers from plugins: how ``calcdet detect --write NAME=DIR`` reaches a writer calcdet does not ship.

A plugin returns ``{name: factory}`` from the ``calcdet_output_writers`` hook; calcdet looks a
factory up by name through the plugin registry (bare or ``DISTRIBUTION:NAME``, the components'
rule) and never imports the plugin. One signature, called in two steps so that a wrong option
stops a run before any work::

    writer = factory(run, **options)     # before detection: refuse an unusable option here
    files = writer(images, out_dir)      # once, after the detections CSV is written

``run`` is the :class:`RunIdentity`; ``images`` every image's :class:`DetectedOutput` (stored grid,
the CSV's very numbers). The writer is sent to worker processes by ``calcdet serve``: keep it
picklable (a ``functools.partial`` of a module-level function is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calcdet_core.contracts.data import Detections
from calcdet_core.errors import CalcdetUserError, InvalidInputError


@dataclass(frozen=True)
class DetectedOutput:
    """One image's detections as the CSV has them (stored grid) and the file they were found in."""

    image_id: str
    source: Path | None
    detections: Detections


@dataclass(frozen=True)
class RunIdentity:
    """What produced the detections: ``algorithm`` (calcdet and the pipeline's name), ``version`` (calcdet's),
    and ``model_checksum`` (``calcdet model hash`` of the model directory, or of the pipeline YAML).

    ``evaluators`` holds the pipeline's evaluator settings by plugin name, so a writer can follow them
    (the DICOM SR's clusters follow the pipeline's ``cluster-froc``). ``min_score`` is the score findings
    start at for this run (``calcdet detect --min-score``: the model's operating point by default), ``None``
    when the run has none."""

    algorithm: str
    version: str
    model_checksum: str
    evaluators: dict[str, dict[str, Any]] = field(default_factory=dict)
    min_score: float | None = None


OutputWriter = Callable[[Sequence[DetectedOutput], Path], list[Path]]
"""``writer(images, out_dir) -> files written``: what a factory returns, called once per run."""

WriterFactory = Callable[..., OutputWriter]
"""``factory(run, **options) -> OutputWriter``: what ``calcdet_output_writers`` returns by name."""


@dataclass(frozen=True)
class PreparedWriter:
    """A writer made for this run, with where it writes and whose it is (for the messages)."""

    name: str
    distribution: str
    out_dir: Path
    writer: OutputWriter

    def __call__(self, images: Sequence[DetectedOutput]) -> list[Path]:
        """Write; a writer's failure is one line naming it and its plugin, never a traceback."""
        try:
            return self.writer(images, self.out_dir)
        except CalcdetUserError:
            raise
        except Exception as exc:
            raise InvalidInputError(f"output writer {self.name!r} ({self.distribution}) failed writing into "
                                    f"{self.out_dir}: {type(exc).__name__}: {exc}") from exc


def prepare_writer(name: str, out_dir: Path, run: RunIdentity, options: dict[str, Any] | None = None
                   ) -> PreparedWriter:
    """The writer ``name`` makes for ``run`` with ``options``; a refused option or a missing writer is one line."""
    from calcdet_core.plugins.registry import get_registry

    entry = get_registry().entry("writers", name)
    try:
        writer = entry.component(run, **(options or {}))
    except CalcdetUserError as exc:
        raise InvalidInputError(f"output writer {name!r}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"output writer {name!r} ({entry.distribution}) refused its options "
                                f"{options or {}}: {exc}") from exc
    return PreparedWriter(name, entry.distribution, Path(out_dir), writer)


def requested_writers(write: Sequence[str], options: Sequence[str]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """``--write NAME=DIR`` and ``--write-option NAME.KEY=VALUE`` (VALUE read as YAML) as ``{name: (dir, options)}``."""
    from calcdet_core.run.overrides import parse_override

    requested: dict[str, tuple[Path, dict[str, Any]]] = {}
    for item in write:
        name, sep, folder = item.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise InvalidInputError(f"--write expects NAME=DIR (e.g. dicom-sr=sr/), got {item!r}")
        if name.strip() in requested:
            raise InvalidInputError(f"--write {name.strip()} is given twice; one folder per writer")
        requested[name.strip()] = (Path(folder.strip()), {})
    for item in options:
        path, value = parse_override(item, flag="--write-option")
        name, dot, key = path.rpartition(".")
        if not dot or not name or not key:
            raise InvalidInputError(f"--write-option expects NAME.KEY=VALUE (e.g. dicom-sr.gsps=true), got {item!r}")
        if name not in requested:
            raise InvalidInputError(f"--write-option {path}: no --write {name}=DIR to give it to")
        requested[name][1][key] = value
    return requested


def run_identity(model: Path, pipeline_name: str, evaluators: Sequence[Any] = (),
                 min_score: float | None = None) -> RunIdentity:
    """The identity of a run of ``model`` (a model directory or a pipeline YAML), its ``evaluators``' settings and
    the score its findings start at."""
    from calcdet_core import __version__
    from calcdet_core.io.model_dir import model_digest

    settings = {e.name: e.config.model_dump(mode="json") for e in evaluators}
    return RunIdentity(f"calcdet {pipeline_name}", __version__, f"sha256:{model_digest(Path(model))}", settings,
                       min_score)


def detected_outputs(found: Sequence[Any]) -> list[DetectedOutput]:
    """The run's detected images (``record`` and ``detections`` each) as writers receive them."""
    return [DetectedOutput(d.record.image_id, getattr(d.record, "path", None), d.detections) for d in found]
