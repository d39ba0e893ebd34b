"""The study's transfer step: a small-ResNet backbone file as the ``saliency-resnet`` backbone (numpy only).

Reads a public backbone file (:mod:`calcdet_torch.backbone`, written by ``calcdet export-backbone``
of a resnet-saliency model), never another plugin's model directory: its header must describe a
``small-resnet`` of the backbone's width and stages with padded convolutions, and its tensors
carry the backbone's own names (``stem.*``, ``layer<k>.*``). The caller loads the arrays into its
torch module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from calcdet_torch.backbone import BackboneSpec, read_backbone

from calcdet_core.api import InvalidInputError

STEM_CONV = "stem.0.weight"


def wanted_spec(width: int, stages: int) -> BackboneSpec:
    """The backbone file a saliency-resnet backbone takes: a padded small ResNet of its width and stages."""
    return BackboneSpec("small-resnet", width, stages, "same")


def backbone_arrays(path: Path, config: Any, expected: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Arrays for every backbone tensor in ``expected`` (name -> shape), from the backbone file at ``path``.

    The one-channel stem filter is spread over the three equal input channels (divided by 3: the same
    response). A file of another spec is refused naming both; a clear error names the file and the
    first tensor that is missing, has another shape, or is left over.
    """
    source = read_backbone(Path(path), wanted_spec(config.saliency_width, config.saliency_stages))
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        if name not in source:
            raise InvalidInputError(f"faster-rcnn backbone_weights: {path} has no tensor {name!r} {shape} "
                                    "(first mismatch)")
        value = stored = np.asarray(source[name])
        if name == STEM_CONV and value.ndim == 4 and value.shape[1] == 1:
            value = np.repeat(value, 3, axis=1) / 3
        fits = value.size == 1 if shape == () else value.shape == shape
        if not fits:
            raise InvalidInputError(f"faster-rcnn backbone_weights: {path} tensor {name!r} has shape {stored.shape}, "
                                    f"the backbone needs {shape} (first mismatch)")
        out[name] = value.reshape(shape)
    extra = sorted(set(source) - set(expected))
    if extra:
        raise InvalidInputError(f"faster-rcnn backbone_weights: {path} tensor {extra[0]!r} has no place in the "
                                "backbone (first mismatch)")
    return out
