"""The study's transfer step: a saliency patch classifier's weights as the ``saliency-resnet`` backbone.

Read from the files of a saliency model directory (``calcdet train`` of
``pipelines/resnet-saliency.yaml``), never by importing the saliency plugin: its
``components/<slot>/resnet.safetensors`` holds the small ResNet's state (``stem.0`` 3x3 convolution
from one channel, ``stem.1`` batch norm, ``stages.<i>.<j>`` basic blocks with torchvision's names,
``fc1``/``fc2`` head). The stem and stages map onto the backbone's ``stem`` and ``layer<i+1>``; the
head does not transfer. numpy only: the caller loads the arrays into its torch module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import yaml

from calcdet_core.api import load_arrays

SALIENCY_WEIGHTS = "resnet.safetensors"
STEM_CONV = "stem.0.weight"


def source_name(name: str) -> str:
    """The saliency tensor that backbone tensor ``name`` comes from (``layer<k>.`` <- ``stages.<k - 1>.``)."""
    head, _, rest = name.partition(".")
    return f"stages.{int(head[len('layer'):]) - 1}.{rest}" if head.startswith("layer") else name


def saliency_file(directory: Path) -> Path:
    """The model directory's one saliency weights file, its SHA-256 checked against ``checksums.json``."""
    directory = Path(directory)
    found = sorted((directory / "components").glob(f"*/{SALIENCY_WEIGHTS}"))
    if len(found) != 1:
        raise ValueError(f"faster-rcnn backbone_from {directory}: expected one components/*/{SALIENCY_WEIGHTS} "
                         f"(a saliency model directory), found {len(found)}")
    path = found[0]
    sums = directory / "checksums.json"
    try:
        recorded = json.loads(sums.read_text())["files"][path.relative_to(directory).as_posix()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"faster-rcnn backbone_from: {sums} holds no checksum for {path.name} ({exc!r}): "
                         "an incomplete or foreign model directory") from exc
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != recorded:
        raise ValueError(f"faster-rcnn backbone_from: {path} has SHA-256 {digest}, {sums} records {recorded}: "
                         "the file changed after training")
    _check_padded(directory)
    return path


def _check_padded(directory: Path) -> None:
    """Refuse a padding-free saliency net: same tensor shapes, but trained on valid convolutions."""
    pipeline = directory / "pipeline.yaml"
    if not pipeline.is_file():
        return
    params = ((yaml.safe_load(pipeline.read_text()) or {}).get("detector") or {}).get("params") or {}
    if params.get("padding") is False:
        raise ValueError(f"faster-rcnn backbone_from: {pipeline} has detector.params.padding false; the "
                         "saliency-resnet backbone uses padded convolutions, so those weights would not carry over")


def backbone_arrays(directory: Path, expected: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Arrays for every backbone tensor in ``expected`` (name -> shape), from the saliency directory's file.

    The one-channel stem filter is spread over the three equal input channels (divided by 3: the same
    response). A clear error names the file and the first tensor that is missing, has another shape, or
    is left over (a saliency net deeper than the backbone).
    """
    path = saliency_file(directory)
    source = load_arrays(path)
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        key = source_name(name)
        if key not in source:
            raise ValueError(f"faster-rcnn backbone_from: {path} has no tensor {key!r} for backbone {name!r} "
                             f"{shape} (first mismatch): not a saliency ResNet of this width and depth")
        value = stored = np.asarray(source[key])
        if name == STEM_CONV and value.ndim == 4 and value.shape[1] == 1:
            value = np.repeat(value, 3, axis=1) / 3
        fits = value.size == 1 if shape == () else value.shape == shape
        if not fits:
            raise ValueError(f"faster-rcnn backbone_from: {path} tensor {key!r} has shape {stored.shape}, backbone "
                             f"{name!r} needs {shape} (first mismatch): set saliency_width and saliency_stages to "
                             "the saliency net's width and stage count")
        out[name] = value.reshape(shape)
    used = {source_name(n) for n in expected}
    extra = sorted(k for k in source if k.startswith(("stem.", "stages.")) and k not in used)
    if extra:
        raise ValueError(f"faster-rcnn backbone_from: {path} tensor {extra[0]!r} has no place in the backbone "
                         "(first mismatch): the saliency net has more stages than saliency_stages")
    return out
