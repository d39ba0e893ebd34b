"""The part every torch detector shares: weights as numpy arrays, a device, the net built on first use.

Imports no torch (a plugin's hook module imports its detector): a subclass imports its torch
module inside :meth:`TorchDetector._inference_for`, called when it detects or loads weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from calcdet_core.api import (
    ComponentConfig,
    Detections,
    Detector,
    checked_image,
    checked_mask,
    load_arrays,
    save_arrays,
)
from calcdet_torch.pickling import ArrayPickling

Arrays = dict[str, np.ndarray]


class TorchDetector(ArrayPickling, Detector):
    """A detector whose learned state is a torch net's weights (``weights_``, safetensors on disk).

    Subclasses name ``weights_file``, implement :meth:`_inference_for` (the net for a device,
    built from weights) and :meth:`_detect` (detections from the net on a checked, non-flat
    image), and set ``weights_`` in ``fit``. The built net is left out of pickles and rebuilt
    after :meth:`to_device` or new weights.
    """

    weights_file: ClassVar[str]
    _transient = ("_inference",)

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._weights: Arrays | None = None
        self._device = "cpu"
        self._inference: Any = None

    @property
    def weights_(self) -> Arrays | None:
        return self._weights

    @weights_.setter
    def weights_(self, weights: Arrays | None) -> None:
        self._weights, self._inference = weights, None  # new weights: the built net is stale

    def _inference_for(self, weights: Arrays, device: str, source: str) -> Any:
        """The net with ``weights`` on ``device``; a clear error naming ``source`` when they do not fit it."""
        raise NotImplementedError

    def _detect(self, net: Any, image: np.ndarray, mask: np.ndarray | None) -> Detections:
        """Detections of ``net`` on a checked image that is not flat."""
        raise NotImplementedError

    def to_device(self, device: str) -> None:
        if device != self._device:
            self._device, self._inference = device, None

    def _net(self) -> Any:
        if self._weights is None:
            raise ValueError(f"{self.name}: detect() before fit() or load_state(): the model has no weights")
        if self._inference is None:
            self._inference = self._inference_for(self._weights, self._device, "weights")
        return self._inference

    def detect(self, image: np.ndarray, mask: np.ndarray | None = None) -> Detections:
        image = checked_image(image, self.name)
        mask = None if mask is None else checked_mask(mask, image.shape, self.name)
        if np.ptp(image) == 0:
            return Detections.empty()  # a flat image holds no MC: nothing to run the net on
        return self._detect(self._net(), image, mask)

    def save_state(self, directory: Path) -> list[Path]:
        if self._weights is None:
            raise ValueError(f"{self.name}: nothing to save; fit() first")
        return [save_arrays(Path(directory) / self.weights_file, self._weights)]

    def load_state(self, directory: Path) -> None:
        path = Path(directory) / self.weights_file
        weights = load_arrays(path)
        net = self._inference_for(weights, self._device, str(path))  # checks names and shapes first
        self.weights_ = weights
        self._inference = net
