"""Output writers from plugins: how ``calcdet detect --dicom-sr DIR`` reaches a writer calcdet does not ship.

A plugin returns ``{name: writer}`` from the ``calcdet_output_writers`` hook; calcdet
looks a writer up by name through the plugin registry and never imports the plugin. A writer is
called once per run, after the detections CSV is written, with every image's detections (stored
grid, the CSV's very numbers), the input file it came from, and what identifies the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calcdet_core.contracts.data import Detections
from calcdet_core.errors import InvalidInputError

WRITER_PLUGINS = {"dicom-sr": "calcdet-clusters (pip install -e plugins/evaluators/calcdet-clusters)"}
"""Where the writers calcdet's own options name come from, for the message when none is installed."""


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


OutputWriter = Callable[..., list[Path]]
"""``writer(images, run, out_dir, **options) -> files written``; refuses unusable input before writing any file.
``calcdet detect`` calls it first with no images, before detecting, so refused options stop the run before any
work; the options are the command's (``--dicom-sr``: ``min_score``, ``gsps``)."""


def output_writer(name: str) -> OutputWriter:
    """The writer registered as ``name``; a :class:`InvalidInputError` saying which plugin to install if none."""
    from calcdet_core.plugins.registry import get_registry

    writers: dict[str, Any] = {}
    for _, call in get_registry().hook_callers("calcdet_output_writers"):
        for returned in call():
            writers.update(returned or {})
    if name not in writers:
        where = WRITER_PLUGINS.get(name, "a plugin that registers it")
        raise InvalidInputError(f"no installed plugin writes {name} output; install {where}")
    return writers[name]


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
