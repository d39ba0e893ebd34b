"""The part every torch detector shares: weights as numpy arrays, a device, the net built on first use.

Imports no torch (a plugin's hook module imports its detector): a subclass imports its torch
module inside :meth:`TorchDetector._inference_for`, called when it detects or loads weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from calcdet_core.api import (
    ComponentConfig,
    Detections,
    Detector,
    ImageStream,
    InvalidInputError,
    checked_image,
    checked_mask,
    load_arrays,
    save_arrays,
)
from calcdet_torch.backbone import BackboneSpec, save_backbone
from calcdet_torch.pickling import ArrayPickling

Arrays = dict[str, np.ndarray]


class TorchDetector(ArrayPickling, Detector):
    """A detector whose learned state is a torch net's weights (``weights_``, safetensors on disk).

    Subclasses name ``weights_file``, implement :meth:`_inference_for` (the net for a device,
    built from weights) and :meth:`_detect` (detections from the net on a checked, non-flat
    image), and set ``weights_`` in ``fit``. The built net is left out of pickles and rebuilt
    after :meth:`to_device` or new weights. Optional: ``facts_file`` with the fitted numbers
    ``facts`` names (a radius), saved beside the weights; :meth:`_detect_many` for images that
    run through the net together; :meth:`_backbone` for a trunk others may start from.
    """

    weights_file: ClassVar[str]
    facts_file: ClassVar[str | None] = None
    facts: ClassVar[tuple[str, ...]] = ()
    """Fitted float attributes (``radius_``) kept in ``facts_file`` as ``{"radius": ...}``."""
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

    def _detect_many(self, net: Any, images: list[np.ndarray], masks: list[np.ndarray | None]) -> list[Detections]:
        """Detections of ``net`` on checked, non-flat images of one shape (at most ``batch_size``); one by one here,
        a subclass whose net takes a batch overrides it."""
        return [self._detect(net, image, mask) for image, mask in zip(images, masks, strict=True)]

    def _backbone(self, weights: Arrays) -> tuple[BackboneSpec, Arrays]:
        """The trunk's spec and tensors (of ``weights``) under the backbone format's names; a detector that has one
        overrides it."""
        raise InvalidInputError(f"{self.name}: has no backbone to export (only a detector with a documented "
                                "trunk, such as resnet-saliency, writes one)")

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

    def detect_batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]) -> list[Detections]:
        """Images of one shape go to :meth:`_detect_many` together, :attr:`batch_size` (the detector's property) at a
        time; each gets what :meth:`detect` gives."""
        images = [checked_image(i, self.name) for i in images]
        masks = [None if m is None else checked_mask(m, i.shape, self.name) for i, m in zip(images, masks, strict=True)]
        out = [Detections.empty() for _ in images]
        todo = [k for k, image in enumerate(images) if np.ptp(image) > 0]  # a flat image holds no MC
        size = self.batch_size
        for shape in dict.fromkeys(images[k].shape for k in todo):
            same = [k for k in todo if images[k].shape == shape]
            for start in range(0, len(same), size):
                chunk = same[start : start + size]
                found = self._detect_many(self._net(), [images[k] for k in chunk], [masks[k] for k in chunk])
                for k, detections in zip(chunk, found, strict=True):
                    out[k] = detections
        return out

    def export_backbone(self, out: Path) -> Path:
        """Write the trained trunk as a backbone file (``calcdet_torch.backbone``), for another detector to start
        from without reading this one's files; the path written."""
        if self._weights is None:
            raise ValueError(f"{self.name}: no backbone to export; fit() or load_state() first")
        spec, arrays = self._backbone(self._weights)
        return save_backbone(Path(out), spec, arrays)

    def save_state(self, directory: Path) -> list[Path]:
        if self._weights is None:
            raise ValueError(f"{self.name}: nothing to save; fit() first")
        files = [save_arrays(Path(directory) / self.weights_file, self._weights)]
        if self.facts_file is not None:
            facts = Path(directory) / self.facts_file
            facts.write_text(json.dumps({name.rstrip("_"): getattr(self, name) for name in self.facts}))
            files.append(facts)
        return files

    def load_state(self, directory: Path) -> None:
        path = Path(directory) / self.weights_file
        weights = load_arrays(path)
        net = self._inference_for(weights, self._device, str(path))  # checks names and shapes first
        facts = self._read_facts(Path(directory))
        self.weights_ = weights
        self._inference = net
        for name, value in facts.items():
            setattr(self, name, value)

    def _read_facts(self, directory: Path) -> dict[str, float]:
        """The fitted numbers of ``facts_file`` by attribute name; a clear error naming the file when one is missing."""
        if self.facts_file is None:
            return {}
        path = directory / self.facts_file
        try:
            doc = json.loads(path.read_text())
            return {name: float(doc[name.rstrip("_")]) for name in self.facts}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: unreadable or incomplete {self.name} facts ({exc!r})") from None


def median_radius(train: ImageStream, name: str) -> float:
    """Half the median annotated diameter: the radius a point detector gives every detection; refused without MCs."""
    diameters = [t.diameter for e in train.entries for t in e.annotation.targets]
    if not diameters:
        raise InvalidInputError(f"{name}: no annotated MC in the training images; nothing to learn from")
    return float(np.median(diameters)) / 2
