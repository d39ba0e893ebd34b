"""A training batch's memory, estimated from its settings and refused before any tensor is allocated.

Two settings plausible alone (a batch of 4096 windows, windows of 4096 px) can multiply into
terabytes; pydantic's bounds see one at a time. A lower estimate suffices to refuse those: each
image of a batch keeps at least :data:`FULL_RESOLUTION_MAPS` full-resolution float32 maps of the
first layer's channels for the backward pass.
"""

from __future__ import annotations

FULL_RESOLUTION_MAPS = 16
MAX_BATCH_BYTES = 64 * 2**30
"""More than any machine calcdet trains on holds (an H200 has 141 GB of GPU memory, this project's CPUs 24 GiB)."""


def check_batch_memory(batch_key: str, batch: int, side_key: str, side: int, channels: int) -> None:
    """Refuse ``batch`` square inputs of ``side`` px through ``channels`` first-layer channels when even the lower
    estimate passes :data:`MAX_BATCH_BYTES`; the message names both settings (a pydantic validator's ``ValueError``)."""
    need = batch * side * side * channels * 4 * FULL_RESOLUTION_MAPS
    if need > MAX_BATCH_BYTES:
        raise ValueError(f"{batch_key}={batch} inputs of {side_key}={side} px with {channels} channels need at least "
                         f"{need / 2**30:,.0f} GiB for training ({FULL_RESOLUTION_MAPS} float32 maps each), more "
                         f"than {MAX_BATCH_BYTES // 2**30} GiB: lower {batch_key} or {side_key}")
