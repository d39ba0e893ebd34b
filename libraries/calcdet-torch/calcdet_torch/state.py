"""Torch state as named numpy arrays, the form safetensors and ``TrainingContext.save_checkpoint`` take.

Imports torch: import it from a plugin's torch module, never from its hook module.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

Arrays = dict[str, np.ndarray]


def module_arrays(module: nn.Module) -> Arrays:
    """The module's weights and buffers (batch-norm statistics included) as numpy copies."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_module_arrays(module: nn.Module, arrays: Arrays, source: str = "weights") -> None:
    """Load ``arrays`` into ``module``; a clear error naming ``source`` when names or shapes differ.

    Scalars (batch-norm counters) come back from safetensors as one-element arrays: sizes are compared for them.
    """
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: expected.get(k, ()) if np.size(v) == 1 and expected.get(k) == () else tuple(np.shape(v))
             for k, v in arrays.items()}
    if found != expected:
        missing, extra = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
        wrong = sorted(k for k in expected.keys() & found.keys() if expected[k] != found[k])
        raise ValueError(f"{source}: do not fit the network (missing {missing[:3]}, unexpected {extra[:3]}, "
                         f"other shape {wrong[:3]})")
    module.load_state_dict({k: torch.from_numpy(np.array(v).reshape(expected[k])) for k, v in arrays.items()})


def optimizer_arrays(optimizer: torch.optim.Optimizer) -> Arrays:
    """The optimizer's per-parameter state (moments, step) as ``"<param index>.<name>"`` arrays."""
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            array = value.detach().cpu().numpy().copy() if torch.is_tensor(value) else np.asarray(value)
            out[f"{index}.{name}"] = array
    return out


def load_optimizer_arrays(optimizer: torch.optim.Optimizer, arrays: Arrays) -> None:
    doc = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in arrays.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = torch.from_numpy(np.array(value))
    doc["state"] = state
    optimizer.load_state_dict(doc)


def prefixed(prefix: str, arrays: Arrays) -> Arrays:
    return {f"{prefix}.{k}": v for k, v in arrays.items()}


def unprefixed(prefix: str, arrays: Arrays) -> Arrays:
    return {k[len(prefix) + 1 :]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
