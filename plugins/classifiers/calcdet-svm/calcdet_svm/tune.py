"""``calcdet tune``: the study's Appendix 1 grid search for a pipeline's SVM, on its real training candidates.

The command belongs to this plugin (registered through ``calcdet_register_commands``): the grid,
its columns and the search are the SVM's business, not calcdet's. The training rows are the ones
``calcdet train`` would build (``calcdet_core.api.labelled_features``); the search is the one
``tune: true`` runs inside ``fit`` (same rows drawn, same folds), without training a model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from calcdet_core.api import CalcdetUserError, labelled_features, load_pipeline
from calcdet_svm.models import SvmConfig, tuned_params

GRID_COLUMNS = ("kernel", "C", "gamma", "degree")
"""The Appendix 1 grid's parameters, as the report's rows name them."""

SHOWN = 10
"""Best grid points printed; the JSON report holds them all."""


def tune_classifier(pipeline_path: Path, dataset: str, root: Path, out: Path, seed: int = 0, workers: int = 1,
                    scheduler: str | None = None) -> dict[str, Any]:
    """Grid-search the pipeline's SVM by case-grouped CV on the train split; write the report to ``out``, return it."""
    pipeline = load_pipeline(Path(pipeline_path))
    classifier = pipeline.classifier
    if classifier is None or not isinstance(classifier.config, SvmConfig):
        name = f"classifier {classifier.name!r}" if classifier is not None else "no classifier"
        raise CalcdetUserError(f"{pipeline_path}: {name} has no SVM to grid-search; calcdet tune takes a pipeline "
                               "whose classifier is svm, svm-cascade or svm-hardneg")
    out = Path(out)
    work = out.with_name(out.name + ".work")
    data = labelled_features(pipeline, dataset, root, work, seed, workers, scheduler)
    groups = np.asarray(data.groups).reshape(-1)
    cases = len(np.unique(groups))
    if cases < 2 or data.y.min() == data.y.max():
        raise CalcdetUserError(f"{dataset} at {root}: the train split (seed {seed}) holds candidates of {cases} "
                               f"case(s), {int(data.y.sum())} TP and {int((data.y == 0).sum())} FP; a case-grouped "
                               "grid search needs both kinds from at least 2 cases")
    config = classifier.config.model_copy(update={"tune": True})
    _, tuning = tuned_params(np.asarray(data.X, np.float64), data.y, groups, config,
                             np.random.default_rng(config.seed))
    assert tuning is not None, "tune: true always reports its search"
    report = {"pipeline": str(pipeline_path), "classifier": classifier.name, "dataset": dataset, "seed": seed,
              "candidates": data.metrics["train"], **tuning}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, allow_nan=False))
    shutil.rmtree(work, ignore_errors=True)
    return report


def grid_table(report: dict[str, Any]) -> Any:
    """The best :data:`SHOWN` grid points as a rich table, best first (a failed fit last)."""
    from rich.table import Table

    table = Table(title=f"{report['classifier']}: {report['folds']}-fold grouped CV, {report['scoring']}, "
                        f"{report['rows']} rows")
    for column in (*GRID_COLUMNS, "score"):
        table.add_column(column)
    ranked = sorted(report["grid"], key=lambda r: -1.0 if r["score"] is None else r["score"], reverse=True)
    for row in ranked[:SHOWN]:
        table.add_row(*(str(row.get(c, "")) for c in GRID_COLUMNS),
                      "failed" if row["score"] is None else f"{row['score']:.3f}")
    return table


def tune(
    pipeline: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                             help="Pipeline YAML file whose classifier is an SVM.")],
    dataset: Annotated[str, typer.Option(help="Dataset adapter name (see `calcdet list-plugins --kind datasets`).")],
    root: Annotated[Path, typer.Option(exists=True, help="Dataset root folder (what the adapter reads).")],
    out: Annotated[Path, typer.Option(help="JSON report of the whole grid.")] = Path("tuning.json"),
    seed: Annotated[int, typer.Option(help="Seed of the patient split and of sampling.")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1,
                                         help="Worker processes on this machine (1: in this process).")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://host:8786): run the per-image jobs on that cluster instead.")] = None,
) -> None:
    """Grid-search the SVM classifier (the study's Appendix 1 grid) by case-grouped CV on the train split."""
    from rich.console import Console

    report = tune_classifier(pipeline, dataset, root, out, seed, workers, scheduler)
    Console(soft_wrap=True).print(grid_table(report))  # the result: stdout; progress went to stderr
    best = ", ".join(f"{k}: {v}" for k, v in report["best"].items())
    typer.echo(f"best: classifier: {{plugin: {report['classifier']}, params: {{{best}}}}}  ({out})")  # one line
