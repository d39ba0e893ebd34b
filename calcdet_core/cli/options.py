"""Option types the commands share, so that ``--dataset``, ``--root``, ``--split`` and the run settings are
spelled, checked and explained the same way in every command (a plugin's commands may use them too)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from calcdet_core.run.sources import DatasetChoice


class Split(StrEnum):
    """Which images of a dataset: every image, or one patient-level split (``Dataset.select``)."""

    all = "all"
    train = "train"
    validation = "validation"
    test = "test"


def _dataset() -> typer.models.OptionInfo:
    return typer.Option("--dataset", help="Dataset adapter name (see `calcdet list-plugins --kind datasets`).")


def _root() -> typer.models.OptionInfo:
    return typer.Option("--root", exists=True, help="Dataset root folder (what the adapter reads).")


DatasetName = Annotated[str, _dataset()]
OptionalDatasetName = Annotated[str | None, _dataset()]
DatasetOptions = Annotated[list[str] | None, typer.Option(
    "--dataset-option", metavar="KEY=VALUE",
    help="A setting of the --dataset adapter (repeatable; VALUE read as YAML; `calcdet describe NAME` lists them): "
         "spacing_mm=0.05, roi_names='{Calcificaton: calcification}'.")]
RootPath = Annotated[Path, _root()]
OptionalRootPath = Annotated[Path | None, _root()]
SplitChoice = Annotated[Split, typer.Option("--split", case_sensitive=False,
                                            help="Images to use: all, or one patient-level split.")]
SeedOption = Annotated[int, typer.Option(help="Seed of the patient split (and of sampling and bootstrap where used).")]
def _pipeline_file(value: Path | None) -> Path | None:
    from calcdet_core.errors import CalcdetUserError
    from calcdet_core.run.shipped import pipeline_path

    try:
        return None if value is None else pipeline_path(value)
    except CalcdetUserError as exc:
        raise typer.BadParameter(str(exc)) from None


PipelineFile = Annotated[Path, typer.Argument(
    callback=_pipeline_file, help="Pipeline YAML file, or the name of a shipped one (aia-ml, pipelines/hdog.yaml).")]
WorkersOption = Annotated[int, typer.Option("--workers", "-j", min=1,
                                      help="Worker processes on this machine (1: in this process).")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="PATH=VALUE", help="Change one pipeline setting, named as validate names it (repeatable; VALUE "
                                       "read as YAML): detector.params.epochs=3, features[1].params.cv_folds=3.")]
VerifyInputsOption = Annotated[bool, typer.Option(
    "--verify-inputs", help="On a resume, reuse a saved per-image result only if its input file has the same SHA-256 "
                            "(each file read once per run), not just the same size and modification time.")]
SchedulerOption = Annotated[str | None, typer.Option(
    help="Dask scheduler address (tcp://host:8786): run the per-image jobs on that cluster instead.")]


def _device(value: str) -> str:
    from calcdet_core.contracts.devices import check_device

    try:
        return check_device(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


DeviceOption = Annotated[str, typer.Option(callback=_device, help="Where a learning detector computes: auto (CUDA when "
                                                            "torch sees one), cpu, cuda or cuda:N.")]


def dataset_choice(name: str | None, options: list[str] | None) -> DatasetChoice | None:
    """``--dataset NAME`` with its ``--dataset-option KEY=VALUE`` settings, validated against the adapter (no
    ``--dataset``: ``None``, and options without it are refused)."""
    from calcdet_core.errors import InvalidInputError
    from calcdet_core.run.sources import DATASET_OPTION, DatasetChoice, parse_dataset_options

    if name is None:
        if options:
            raise InvalidInputError(f"{DATASET_OPTION} sets the --dataset adapter; give --dataset NAME too")
        return None
    return DatasetChoice.of(name, parse_dataset_options(options or ()))
