"""What network a weights file holds, read from its tensor names and shapes (numpy only).

Why: a file of another architecture must be refused with both architectures named, so a user
sees which pipeline setting (``widths``, ``convs``) to change, not a list of tensor names.
"""

from __future__ import annotations

import re

import numpy as np

_DOWN = re.compile(r"down\.(\d+)\.(\d+)\.0\.weight")


def architecture(weights: dict[str, np.ndarray]) -> tuple[tuple[int, ...], int] | None:
    """``(widths, convs)`` of the point net whose weights these are; None when they are not a point net's."""
    convs: dict[int, int] = {}
    widths: dict[int, int] = {}
    for key, value in weights.items():
        match = _DOWN.fullmatch(key)
        if match:
            level, k = int(match.group(1)), int(match.group(2))
            convs[level] = max(convs.get(level, 0), k + 1)
            if k == 0:
                widths[level] = int(np.shape(value)[0])
    if not widths or sorted(widths) != list(range(len(widths))) or len(set(convs.values())) != 1 \
            or "head.weight" not in weights:
        return None
    return tuple(widths[k] for k in range(len(widths))), next(iter(convs.values()))


def describe(arch: tuple[tuple[int, ...], int] | None) -> str:
    """``widths [8, 16, 32], convs 2`` (the pipeline's words), or what the weights are not."""
    if arch is None:
        return "no point-heatmap network (other tensor names)"
    return f"widths {list(arch[0])}, convs {arch[1]}"


def mismatch(weights: dict[str, np.ndarray], widths: tuple[int, ...], convs: int, source: str) -> str | None:
    """Why ``weights`` cannot serve a net of ``widths``/``convs`` (both architectures named), or None when they can."""
    found, wanted = architecture(weights), (tuple(widths), convs)
    if found == wanted:
        return None
    return (f"{source}: holds {describe(found)}; this point-heatmap is configured for {describe(wanted)} "
            "(detector.params.widths, detector.params.convs)")
