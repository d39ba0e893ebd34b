"""Training as the person at the terminal sees it, and the context each learning component gets.

:class:`ConsoleReporter` draws rich progress bars on stderr, prints one line per finished
epoch and keeps the history in the component's work folder, so a resumed ``calcdet train``
continues it. :class:`TrainingContexts` makes the :class:`TrainingContext` of every
learning slot of a pipeline from the run settings (work folder, seed, ``--device``,
``--workers``) and hands the history and facts to the model directory afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from calcdet_core.contracts.training import ProgressTask, Reporter, TrainingContext
from calcdet_core.io.atomic import write_json_atomic
from calcdet_core.run.executor import progress_console

HISTORY_FILE = "history.json"


def _figure(value: float) -> str:
    return f"{value:.4g}"


def _fields_text(fields: dict[str, float]) -> str:
    return "  ".join(f"{k} {_figure(v)}" for k, v in fields.items())


class ConsoleReporter(Reporter):
    """Progress bars and per-epoch lines on ``console``; the history kept in ``folder/history.json``."""

    def __init__(self, folder: Path, label: str = "", console: Console | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.label = label
        self.console = console or progress_console
        self._bar: Progress | None = None
        self._open = 0
        saved = self.folder / HISTORY_FILE
        if saved.is_file():
            self.history = list(json.loads(saved.read_text()))

    def progress(self, description: str, total: int | None = None) -> ProgressTask:
        if self._bar is None:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                 console=self.console)
            self._bar.start()
        self._open += 1
        return _RichTask(self, self._bar.add_task(description, total=total, info=""))

    def _closed(self) -> None:
        self._open -= 1
        if self._open <= 0:
            self.close()

    def log_epoch(self, epoch: int, **metrics: float) -> None:
        super().log_epoch(epoch, **metrics)
        write_json_atomic(self.folder / HISTORY_FILE, self.history)
        row = {k: v for k, v in self.history[-1].items() if k != "epoch"}
        prefix = f"{self.label}: " if self.label else ""
        self.console.print(f"{prefix}epoch {epoch}  {_fields_text(row)}")

    def message(self, text: str) -> None:
        self.console.print(f"{self.label}: {text}" if self.label else text)

    def close(self) -> None:
        """Stop the bars a component left open (the engine calls this once its ``fit`` returns)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self._open = 0


class _RichTask(ProgressTask):
    """One bar of a :class:`ConsoleReporter`; the figures passed to ``advance`` show beside it."""

    def __init__(self, reporter: ConsoleReporter, task: TaskID) -> None:
        self._reporter = reporter
        self._task = task
        self._done = False

    def advance(self, steps: int = 1, **fields: float) -> None:
        bar = self._reporter._bar
        if bar is not None and not self._done:
            bar.update(self._task, advance=steps, **({"info": _fields_text(fields)} if fields else {}))

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._reporter._closed()


class TrainingContexts:
    """The training context of every learning slot of one run (one work folder each, one reporter each)."""

    def __init__(self, work_dir: Path, seed: int = 0, device: str = "cpu", workers: int = 1,
                 console: Console | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.seed = seed
        self.device = device
        self.workers = workers
        self.console = console
        self.made: dict[str, TrainingContext] = {}

    def __call__(self, slot: str) -> TrainingContext:
        """The context of ``slot`` (``detector``, ``classifier``, ``features[1]``), the same on every call."""
        if slot not in self.made:
            folder = self.work_dir / slot.replace("[", "-").rstrip("]")
            folder.mkdir(parents=True, exist_ok=True)
            self.made[slot] = TrainingContext(folder, seed=self.seed, device_request=self.device,
                                              workers=self.workers,
                                              reporter=ConsoleReporter(folder, slot, self.console))
        return self.made[slot]

    def close(self) -> None:
        """Stop every progress display the contexts' reporters still hold."""
        for context in self.made.values():
            if isinstance(context.reporter, ConsoleReporter):
                context.reporter.close()

    def history(self) -> list[dict[str, float]]:
        """The per-epoch history worth a curve: the detector's, else the classifier's, else none."""
        for slot in ("detector", "classifier"):
            if slot in self.made and self.made[slot].reporter.history:
                return list(self.made[slot].reporter.history)
        return []


def plot_history(history: Sequence[dict[str, float]], path: Path) -> Path:
    """The training curves against whole epochs: training and validation loss on one axis (the gap is
    over-fitting), one panel per other figure; a figure that never changed is a line of text, not a panel."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = {name: [(row["epoch"], row[name]) for row in history if name in row]
              for name in sorted({k for row in history for k in row if k != "epoch"})}
    constant = {name: points[0][1] for name, points in series.items()
                if len({v for _, v in points}) == 1 and len(points) > 1}
    losses = [name for name in ("loss", "val_loss") if name in series and name not in constant]
    panels = ([losses] if losses else []) + [[n] for n in series if n not in constant and n not in losses]
    columns = min(3, max(1, len(panels)))
    rows = -(-len(panels) // columns) if panels else 1
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows + 0.3 * bool(constant)), dpi=100,
                             squeeze=False)
    for ax, names in zip(axes.flat, panels, strict=False):
        for name in names:
            points = series[name]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", lw=1.5, ms=3,
                    label={"loss": "training loss", "val_loss": "validation loss"}.get(name, name))
        ax.set_title(" and ".join({"loss": "training", "val_loss": "validation"}.get(n, n) for n in names)
                     + (" loss" if names == losses else ""))
        if len(names) > 1:
            ax.legend(fontsize=8)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if constant:
        fig.text(0.01, 0.01, "constant: " + ", ".join(f"{n} = {v:g}" for n, v in constant.items()), fontsize=8,
                 color="0.3")
    fig.tight_layout(rect=(0, 0.04 if constant else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def training_summary(out: Path, metrics: dict[str, Any]) -> str:
    """One line saying what ``calcdet train`` did, in the terms of the pipeline's kind, and its operating point."""
    return _what_was_trained(out, metrics) + operating_text(metrics.get("operating_point"))


def operating_text(point: dict[str, Any] | None) -> str:
    """``; findings at score >= T (F FP per normal image, sensitivity S on validation)``, or why there are none."""
    if not point:
        return ""
    if not point.get("chosen"):
        return f"; no operating point ({point.get('reason', 'none chosen')})"
    return (f"; findings at score >= {point['threshold']:.4g} ({point['fppi']:.2f} FP per normal image, "
            f"sensitivity {point['sensitivity']:.2f} on the validation split)")


def _what_was_trained(out: Path, metrics: dict[str, Any]) -> str:
    tr, va = metrics.get("train", {}), metrics.get("validation", {})
    head = f"[green]trained[/green] {out}: {tr.get('images', 0)} train / {va.get('images', 0)} validation images"
    if "epochs" in metrics:  # a detector
        best = metrics.get("best_epoch")
        final = metrics.get("final") or {}
        figures = f"; last epoch {_fields_text(final)}" if final else ""
        resumed = metrics.get("resumed_from_epoch")
        return (f"{head}, {metrics['epochs']} epoch(s)" + (f" (best {best})" if best is not None else "")
                + (f", resumed after epoch {resumed}" if resumed else "") + figures)
    if "tp" not in tr:
        return head
    auroc = metrics.get("validation_auroc")
    tail = f"; validation AUROC {auroc:.3f}" if isinstance(auroc, float) else ""
    learned = "" if "classifier" in metrics else " (nothing to learn: proposer only)"
    return f"{head}, {tr['tp']} TP / {tr['fp']} FP candidates{learned}{tail}"
