"""The point-heatmap weights calcdet ships: a whole model directory, trained without one MC annotation.

``model_dir()`` is a model directory ``calcdet detect`` and ``calcdet evaluate`` take as they are;
``weights_file()`` is its network's safetensors file, the ``initial_weights`` of a fine-tuning run
(``calcdet train pipelines/point-heatmap.yaml ... --set detector.params.initial_weights=FILE``).
How they were trained, their figures and their limits: the distribution's README (the model card).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def model_dir() -> Path:
    """The shipped model directory (checksummed; loading refuses it if a file changed)."""
    return Path(str(files(__package__) / "model"))


def weights_file() -> Path:
    """The network's weights (safetensors), for ``initial_weights``."""
    return model_dir() / "components" / "detector-point-heatmap" / "point_net.safetensors"
