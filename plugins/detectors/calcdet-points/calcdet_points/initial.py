"""Initial weights a training starts from (``initial_weights``): read, checked and fingerprinted (numpy only).

Why: fine-tuning from pretrained weights must fail at ``calcdet validate``, not after a long fit,
when the file is missing or holds another architecture; and a model must say which weights it
started from (path and SHA-256), so its figures can be traced to them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from calcdet_core.api import InvalidInputError, load_arrays
from calcdet_points.architecture import mismatch


def read_initial(path: Path, widths: tuple[int, ...], convs: int) -> dict[str, np.ndarray]:
    """The arrays of ``path`` (safetensors only, never a pickle); refused when absent or of another architecture."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file (initial weights, a point_net.safetensors)")
    weights = load_arrays(path)
    problem = mismatch(weights, widths, convs, str(path))
    if problem:
        raise InvalidInputError(problem)
    return weights


def fingerprint(path: Path) -> dict[str, str]:
    """Path (absolute) and SHA-256 of the initial weights, as ``training_metrics.json`` records them."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path.resolve()), "sha256": digest}
