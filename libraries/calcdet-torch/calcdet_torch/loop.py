"""The epoch loop the detector plugins train with (imports torch).

StepLR, early stopping on a monitored validation figure (the validation loss by default, or a
detection figure such as the validation FROC AUC, which follows what a detector is for better
than its loss; patience, minimum improvement), the best epoch's weights kept, a checkpoint after
every epoch through the training context (model,
optimizer, best weights as arrays; scheduler and stopping state as JSON), resume after the
last finished epoch, and one ``log_epoch`` per epoch with a progress bar per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from calcdet_core.api import ImageStream, InvalidInputError, TrainingContext
from calcdet_torch.averaging import WeightAverage
from calcdet_torch.runtime import seed_torch
from calcdet_torch.selection import Detect, FrocFigures, monitored, report_learning
from calcdet_torch.state import (
    Arrays,
    load_module_arrays,
    load_optimizer_arrays,
    module_arrays,
    optimizer_arrays,
    prefixed,
    unprefixed,
)

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class LoopSettings:
    """How long to train and when to stop."""

    name: str
    epochs: int
    patience: int = 3
    min_delta: float = 1e-4
    step_size: int = 7
    gamma: float = 0.1
    monitor: str = "val_loss"
    """The logged figure that selects the best epoch and stops training; epochs without it are not counted."""
    maximise: bool = False
    """True when a higher ``monitor`` is better (an AUC), False for a loss."""
    average_decay: float = 0.0
    """Decay per step of the weights' moving average that is validated and kept (:mod:`calcdet_torch.averaging`);
    0: the raw weights."""

    def better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``."""
        if best is None:
            return True
        return value > best + self.min_delta if self.maximise else value < best - self.min_delta


def train_loop(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[nn.Module, Any], torch.Tensor],
               batches: Callable[[int], tuple[int, Iterable[Any]]], validate: Callable[[nn.Module], dict[str, float]],
               settings: LoopSettings, context: TrainingContext,
               figures: Callable[[nn.Module, int], dict[str, float]] | None = None) -> Arrays:
    """Train ``model``; return the weights of the epoch best by ``settings.monitor`` (the last without one).

    ``batches(epoch)`` gives the epoch's batch count and batches (drawn from ``context.rng(epoch)``);
    ``validate(model)`` gives the validation figures, ``val_loss`` among them when there is a
    validation set; ``figures(model, epoch)``, when given, more figures to log (given the epoch, so a
    costly one can skip epochs), which steer the selection and stopping only when ``settings.monitor``
    names one of them (an epoch that lacks it counts neither way). With ``settings.average_decay``, the
    weights' moving average is what is validated, selected and returned. Torch is seeded per epoch
    from ``context.seed``, so a resumed fit ends as an uninterrupted one.
    """
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, settings.step_size, settings.gamma)
    best: dict[str, Any] = {"value": None, "epoch": 0, "bad": 0, "stopped": False, "monitor": settings.monitor}
    average = WeightAverage(model, settings.average_decay) if settings.average_decay else None
    evaluated = average.model if average else model
    best_weights = module_arrays(evaluated)
    start = 1
    checkpoint = context.last_checkpoint()
    if checkpoint is not None:
        load_module_arrays(model, unprefixed("model", checkpoint.arrays), "checkpoint")
        if average:
            load_module_arrays(average.model, unprefixed("average", checkpoint.arrays), "checkpoint (average)")
            average.steps = int(checkpoint.state["average_steps"])
        load_optimizer_arrays(optimizer, unprefixed("optim", checkpoint.arrays))
        best_weights = unprefixed("best", checkpoint.arrays)
        best.update(_best_state(checkpoint.state["best"], settings.monitor))
        scheduler.load_state_dict(checkpoint.state["scheduler"])
        for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr(), strict=True):
            group["lr"] = lr
        start = checkpoint.epoch + 1
    for epoch in range(start, settings.epochs + 1):
        if best["stopped"]:
            break
        seed_torch(int(np.random.default_rng([context.seed, epoch, 1]).integers(2**62)))
        model.train()
        count, epoch_batches = batches(epoch)
        total = seen = 0.0
        with context.reporter.progress(f"{settings.name} epoch {epoch}/{settings.epochs}", total=count) as task:
            for batch in epoch_batches:
                loss = loss_fn(model, batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if average:
                    average.update(model)
                size = len(batch[0])
                total, seen = total + float(loss.detach()) * size, seen + size
                task.advance(1, loss=total / max(seen, 1))
        scheduler.step()
        evaluated.eval()
        with torch.inference_mode():
            metrics = {"loss": total / max(seen, 1), **validate(evaluated),
                       **(figures(evaluated, epoch) if figures else {}), "lr": scheduler.get_last_lr()[0]}
        value = metrics.get(settings.monitor)
        if value is not None and np.isfinite(value):
            if settings.better(value, best["value"]):
                best.update(value=float(value), epoch=epoch, bad=0)
                best_weights = module_arrays(evaluated)
            else:
                best["bad"] += 1
            best["stopped"] = best["bad"] >= settings.patience
        context.reporter.log_epoch(epoch, **metrics)
        context.save_checkpoint(epoch, {**prefixed("model", module_arrays(model)),
                                        **prefixed("optim", optimizer_arrays(optimizer)),
                                        **prefixed("best", best_weights),
                                        **(prefixed("average", module_arrays(average.model)) if average else {})},
                                {"best": dict(best), "scheduler": _json_ready(scheduler.state_dict()),
                                 **({"average_steps": average.steps} if average else {})})
    context.reporter.record(epochs=len(context.reporter.history), best_epoch=best["epoch"] or None,
                            **{f"best_{settings.monitor}": best["value"]}, stopped_early=bool(best["stopped"]))
    return best_weights if best["epoch"] else module_arrays(evaluated)


def train_selecting(model: nn.Module, optimizer: torch.optim.Optimizer,
                    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
                    batches: Callable[[int], tuple[int, Iterable[Any]]],
                    validate: Callable[[nn.Module], dict[str, float]], config: Any, name: str,
                    validation: ImageStream, detect: Detect, context: TrainingContext,
                    average_decay: float = 0.0) -> Arrays:
    """:func:`train_loop` on a detector's declared schedule and selection settings (its config's ``epochs``,
    ``patience``, ``min_delta``, ``lr_step``, ``lr_gamma``, ``select_on``, ``froc_images``, ``froc_every``): the
    best epoch by the FROC AUC of ``detect`` on validation images when asked for and measurable, else by the
    validation loss, of the weights' moving average when ``average_decay`` is set; then the verdict on whether it
    learned (:mod:`calcdet_torch.selection`)."""
    froc = FrocFigures(validation, config.froc_images, config.froc_every, detect)
    monitor, maximise = monitored(name, config.select_on, froc, context)
    settings = LoopSettings(name, config.epochs, config.patience, config.min_delta, config.lr_step,
                            config.lr_gamma, monitor=monitor, maximise=maximise, average_decay=average_decay)
    weights = train_loop(model, optimizer, loss_fn, batches, validate, settings, context, froc)
    report_learning(name, froc, context)
    return weights


def _best_state(state: dict[str, Any], monitor: str) -> dict[str, Any]:
    """A checkpoint's stopping state; one written before ``monitor`` existed kept its validation loss as ``loss``.

    Refused when it followed another figure: its best value (a loss against an AUC) and best weights
    do not compare with this fit's. A state without ``monitor`` (written before it was kept) is taken as is.
    """
    state = dict(state)
    if "loss" in state and "value" not in state:
        state["value"] = state.pop("loss")
        state["monitor"] = "val_loss"
    if state.setdefault("monitor", monitor) != monitor:
        raise InvalidInputError(f"the checkpoint to resume from chose its best epoch on {state['monitor']}, this fit "
                                f"chooses on {monitor}: resume with the same select_on, or start afresh (remove "
                                "the work folder)")
    return state


def _json_ready(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in doc.items()}
