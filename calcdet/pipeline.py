"""A pipeline as a user holds it in Python: read, changed, printed and trained without writing YAML."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from calcdet_core.run.pipeline import PipelineDocument, checked_document, read_pipeline
from calcdet_core.run.shipped import pipeline_path
from calcdet_core.run.shipped import shipped_pipelines as _shipped

if TYPE_CHECKING:
    from calcdet.model import Model


def shipped_pipelines() -> list[str]:
    """The names of the pipelines calcdet ships (``Pipeline.from_yaml`` takes them as they are)."""
    return list(_shipped())


class Pipeline:
    """A validated pipeline: which components, with which settings. Nothing is trained until :meth:`fit`.

    Every constructor validates the whole document and raises :class:`calcdet.CalcdetError`
    (``PipelineValidationError``) listing each problem at its YAML path, as ``calcdet validate`` does.
    """

    def __init__(self, document: PipelineDocument) -> None:
        self._document = document

    @classmethod
    def from_yaml(cls, path: str | Path, settings: Mapping[str, Any] | None = None) -> Pipeline:
        """A pipeline YAML file, or a shipped pipeline by name (``"aia-ml"``), with ``settings`` changed."""
        pipeline = cls(read_pipeline(pipeline_path(path)))
        return pipeline.with_settings(settings) if settings else pipeline

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> Pipeline:
        """A pipeline written as a dict, the YAML document's structure."""
        name = document.get("name", "<dict>") if isinstance(document, Mapping) else "<dict>"
        pipeline = cls(checked_document(dict(document), f"pipeline {name!r} (a dict)"))
        return pipeline.with_settings(settings) if settings else pipeline

    def with_settings(self, settings: Mapping[str, Any]) -> Pipeline:
        """A new pipeline with each setting changed, paths written as ``validate`` names them
        (``{"detector.params.epochs": 3, "features[1].params.cv_folds": 3}``); a path that names nothing is
        refused with the names it may have meant, a wrong value at its path."""
        shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        return Pipeline(self._document.with_settings(list(settings.items()), f"settings {shown}", "setting"))

    @property
    def name(self) -> str:
        return str(self._document.document["name"])

    def resolved(self) -> dict[str, Any]:
        """The pipeline with every default filled in (what a trained model stores as ``pipeline.yaml``)."""
        return self._document.build().resolved()

    def to_yaml(self) -> str:
        """:meth:`resolved` as YAML (``calcdet validate FILE --print``)."""
        return yaml.safe_dump(self.resolved(), sort_keys=False)

    def fit(self, dataset: str, root: str | Path, *, out: str | Path | None = None, seed: int = 0,
            workers: int = 1, scheduler: str | None = None, device: str = "auto", progress: bool = True,
            dataset_options: Mapping[str, Any] | None = None) -> Model:
        """Train on the dataset's train split (its validation split chooses thresholds and the operating point).

        ``out`` is the model directory to write (resumable: the same call after an interruption continues
        there); without it the model lives in a temporary folder until :meth:`Model.save`. ``dataset`` is a
        dataset adapter's name (``calcdet list-plugins --kind datasets``), ``root`` its folder, ``dataset_options``
        the adapter's settings (``calcdet describe NAME`` lists them; the model records them).
        """
        from calcdet.model import Model
        from calcdet_core.run.sources import DatasetChoice

        chosen = DatasetChoice.of(dataset, dataset_options, "dataset_options")
        return Model.train(self._document, chosen, Path(root), None if out is None else Path(out), seed=seed,
                           workers=workers, scheduler=scheduler, device=device, progress=progress)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r} from {self._document.source})"
