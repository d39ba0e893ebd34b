"""``calcdet train``, ``calcdet detect`` and ``calcdet evaluate``: running pipelines from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from calcdet_core.cli import output
from calcdet_core.cli.options import (
    DatasetName,
    DatasetOptions,
    DeviceOption,
    OptionalDatasetName,
    OptionalRootPath,
    PipelineFile,
    RootPath,
    SchedulerOption,
    SeedOption,
    SetOption,
    Split,
    SplitChoice,
    VerifyInputsOption,
    WorkersOption,
    dataset_choice,
)
from calcdet_core.run.executor import make_executor

ExpectDigestOption = Annotated[str | None, typer.Option(
    help="Refuse any model but the one whose `calcdet model hash` printed this digest.")]


def train(
    pipeline: PipelineFile,
    dataset: DatasetName,
    root: RootPath,
    out: Annotated[Path, typer.Option(help="Model directory to create.")],
    seed: SeedOption = 0,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    device: DeviceOption = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or per-epoch lines on stderr "
                                        "(for logs); the summary line still prints.")] = False,
    settings: SetOption = None,
    verify_inputs: VerifyInputsOption = False,
    dataset_options: DatasetOptions = None,
) -> None:
    """Train a pipeline on a dataset's train split (validation split for thresholds) into a model directory."""
    from calcdet_core.run.executor import progress_shown
    from calcdet_core.run.reporting import training_summary
    from calcdet_core.run.workflows import train_model

    chosen = dataset_choice(dataset, dataset_options)
    with progress_shown(not quiet), make_executor(workers, scheduler) as executor:
        metrics = train_model(pipeline, chosen, root, out, seed, executor, device, workers,
                              overrides=settings or (), verify_inputs=verify_inputs)
    output.stdout.print(training_summary(out, metrics), highlight=False)


def detect(
    model: Annotated[Path, typer.Argument(help="Model directory, or a pipeline YAML with nothing to train.")],
    inputs: Annotated[list[Path] | None, typer.Argument(help="DICOM files or folders.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="Detections CSV to write.")] = Path("detections.csv"),
    dataset: OptionalDatasetName = None,
    root: OptionalRootPath = None,
    split: SplitChoice = Split.all,
    seed: SeedOption = 0,
    overlay: Annotated[Path | None, typer.Option(help="Folder for PNG overlays circling the findings "
                                                     "(detections scoring at least --min-score).")] = None,
    min_score: Annotated[str, typer.Option(
        "--min-score", help="Where findings start, for --overlay and the writers: auto (the model's operating point, "
                            "see `calcdet model show`), a score, or all. The CSV always holds every detection.")
                         ] = "auto",
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    device: DeviceOption = "auto",
    expect_digest: ExpectDigestOption = None,
    write: Annotated[list[str] | None, typer.Option(
        "--write", metavar="NAME=DIR", help="Also write the detections with the output writer NAME into DIR "
                                            "(repeatable; `calcdet list-plugins --kind writers` lists them).")] = None,
    write_option: Annotated[list[str] | None, typer.Option(
        "--write-option", metavar="NAME.KEY=VALUE", help="An option of the writer NAME (repeatable; VALUE read as "
                                                         "YAML): dicom-sr.gsps=true.")] = None,
    dicom_sr: Annotated[Path | None, typer.Option(
        "--dicom-sr", help="Folder for one DICOM SR (TID 1500) per input DICOM: detections and clusters "
                           "(needs the calcdet-clusters plugin; the same as --write dicom-sr=DIR).")] = None,
    dicom_sr_min_score: Annotated[float | None, typer.Option(
        "--dicom-sr-min-score", help="Only detections scoring at least this are written to the SR and clustered "
                                     "(default: the pipeline's cluster-froc min_score; one of the two is needed; "
                                     "-inf: every detection).")] = None,
    dicom_gsps: Annotated[bool, typer.Option(
        "--dicom-gsps", help="Also a Grayscale Softcopy Presentation State per input DICOM in the --dicom-sr folder: "
                             "circles, cluster outlines and scores a viewer draws over the image.")] = False,
    settings: SetOption = None,
    verify_inputs: VerifyInputsOption = False,
    dataset_options: DatasetOptions = None,
) -> None:
    """Detect microcalcifications; one CSV row per detection (image_id, x, y, radius, score), stored grid."""
    from calcdet_core.errors import InvalidInputError
    from calcdet_core.io.output_writers import detected_outputs, prepare_writer, requested_writers, run_identity
    from calcdet_core.run.workflows import (
        Selection,
        claimed_output,
        discard_work,
        findings_score,
        load_runnable,
        work_folder,
        write_outputs,
    )
    from calcdet_core.run.workflows import detect as run

    if dicom_sr is None and (dicom_gsps or dicom_sr_min_score is not None):
        raise InvalidInputError("--dicom-gsps and --dicom-sr-min-score go with --dicom-sr DIR (where they write)")
    requested = requested_writers([*(write or ()), *([f"dicom-sr={dicom_sr}"] if dicom_sr is not None else [])],
                                  write_option or ())
    if dicom_sr is not None:  # the shortcut's own options, as typed values
        requested["dicom-sr"][1].update({"min_score": dicom_sr_min_score, "gsps": dicom_gsps})
    folders = {f"--write {name}": folder for name, (folder, _) in requested.items()}
    chosen = dataset_choice(dataset, dataset_options)
    with claimed_output(out, others={"--overlay": overlay, **folders}, inputs=[model, root, *(inputs or ())]):
        pipeline, identity = load_runnable(model, expect_digest, settings or ())
        findings_from = findings_score(min_score, model, needed=overlay is not None)
        run_id = run_identity(model, pipeline.spec.name, pipeline.evaluators, findings_from)
        writers = [prepare_writer(name, folder, run_id, options) for name, (folder, options) in requested.items()]
        source = Selection(tuple(inputs or ()), chosen, root, split.value, seed).source()
        work = out.with_name(out.name + ".work")
        with make_executor(workers, scheduler) as executor:
            found = run(pipeline, identity, source, work, executor, device, verify_inputs)
        write_outputs(found, out, overlay, findings_from, with_truth=dataset is not None)
        for writer in writers:
            writer(detected_outputs(found))
        discard_work(work, work_folder(work, identity))
    output.stdout.print(f"wrote {out}: {sum(len(d.detections) for d in found)} detections", highlight=False)


def evaluate(
    model: Annotated[Path, typer.Argument(help="Model directory (or a pipeline YAML with nothing to train).")],
    dataset: DatasetName,
    root: RootPath,
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, froc.png, report.html.")],
    split: SplitChoice = Split.test,
    seed: Annotated[int | None, typer.Option(help="Split seed (default: the one the model was trained with).")] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
    device: DeviceOption = "auto",
    expect_digest: ExpectDigestOption = None,
    settings: SetOption = None,
    verify_inputs: VerifyInputsOption = False,
    dataset_options: DatasetOptions = None,
) -> None:
    """Run a trained pipeline on a dataset split and score it (FROC with bootstrap interval, report)."""
    from calcdet_core.run.workflows import evaluate_model

    chosen = dataset_choice(dataset, dataset_options)
    with make_executor(workers, scheduler) as executor:
        metrics = evaluate_model(model, chosen, root, out, split.value, seed, executor, device,
                                 expect_digest, settings or (), verify_inputs)
    output.stdout.print(f"{output.froc_auc(metrics.get('froc', {}))}; report {Path(out) / 'report.html'}",
                        highlight=False)


def register(cli: typer.Typer) -> None:
    """Add the run commands to the root application."""
    cli.command()(train)
    cli.command()(detect)
    cli.command()(evaluate)
