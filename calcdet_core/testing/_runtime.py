"""What every check runs under: a fresh instance, a temporary training context, one thread, a way to skip.

A check pins torch (and OpenMP/BLAS through threadpoolctl, when installed) to one thread while it
runs and restores the previous setting after: two default torch threads on a loaded two-core machine
made one kit fit take 52 s instead of 1.3 s, and one thread keeps CPU fits reproducible to the bit.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import wraps
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, TypeVar

from calcdet_core.contracts.components import Component, Detector
from calcdet_core.contracts.training import TrainingContext

C = TypeVar("C", bound=Component)
F = TypeVar("F", bound=Callable[..., None])


def fresh(component: C) -> C:
    """A new, unfitted instance with the same config: learned state is shared only where a check says so."""
    return type(component)(component.config)


@contextmanager
def temporary_context(seed: int = 0) -> Iterator[TrainingContext]:
    """A training context on a temporary work folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="calcdet-kit-") as tmp:
        yield TrainingContext(Path(tmp), seed=seed)


def _torch_for(component: object) -> ModuleType | None:
    """torch when it is loaded, or when a detector (the kind that trains networks) may load it during the check."""
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if isinstance(component, Detector) and importlib.util.find_spec("torch") is not None:
        return importlib.import_module("torch")
    return None


@contextmanager
def one_thread(component: object) -> Iterator[None]:
    """torch, OpenMP and BLAS on one thread while a check of ``component`` runs; the previous settings after."""
    torch = _torch_for(component)
    with ExitStack() as stack:
        if importlib.util.find_spec("threadpoolctl") is not None:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1))
        if torch is not None:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, before)
        yield


def kit_check(check: F) -> F:
    """Mark a function as a kit check: it runs on one thread (see :func:`one_thread`), however it is called."""

    @wraps(check)
    def run(component: Any, *args: Any, **kwargs: Any) -> None:
        with one_thread(component):
            check(component, *args, **kwargs)

    return run  # type: ignore[return-value]


def skip_check(reason: str) -> NoReturn:
    """Skip the running check with ``reason`` (pytest reports it; :func:`check_component` returns it)."""
    import pytest

    pytest.skip(reason)
