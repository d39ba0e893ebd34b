"""Cheap pickling for torch components: what crosses a process boundary is numpy weights, never a module."""

from __future__ import annotations

from typing import Any


class ArrayPickling:
    """Mixin: attributes named in ``_transient`` (a built torch net, its device cache) are left out of a pickle.

    ``calcdet --workers N`` ships a trained detector to worker processes; its learned state
    is a dict of numpy arrays (small, torch-free), and the net is rebuilt on first use.
    """

    _transient: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._transient}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in self._transient:
            setattr(self, name, None)
