"""A backbone's weights as a public file: one plugin trains a net, another starts from its trunk (numpy only).

Why: a detector must never read another plugin's private weights, tensor names or model-directory
layout. A backbone file is a safetensors file of the trunk's named tensors whose metadata header
says what they are (:class:`BackboneSpec`); the writer maps its own names to the documented ones,
the reader checks the spec before it looks at a tensor. Format: ``libraries/calcdet-torch/README.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from calcdet_core.api import InvalidInputError, load_arrays, save_arrays

FORMAT = "calcdet-backbone/1"
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone file holds: the architecture and the sizes that fix its tensors, and its input."""

    architecture: str
    """``small-resnet``: a 3x3 stem (``stem.0`` convolution, ``stem.1`` batch norm), then ``stages`` stages
    (``layer1`` ...) of two basic blocks with torchvision's names, doubling ``width`` channels."""
    width: int
    stages: int
    padding: str
    """``same`` (zero-padded 3x3 convolutions) or ``valid`` (none): equal shapes, other features."""
    input_size: int | None = None
    """Side of the square inputs the trunk was trained on, px (None in a spec a reader wants: any size)."""
    input_channels: int = 1

    def metadata(self) -> dict[str, str]:
        return {"format": FORMAT, **{k: str(v) for k, v in asdict(self).items()}}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str] | None, source: str) -> BackboneSpec:
        """The spec of a file's header; a clear error naming ``source`` when it is no backbone file."""
        metadata = metadata or {}
        if metadata.get("format") != FORMAT:
            raise InvalidInputError(f"{source}: not a calcdet backbone file (its safetensors metadata has format "
                                    f"{metadata.get('format')!r}, not {FORMAT!r}); write one with "
                                    "calcdet export-backbone")
        try:
            return cls(metadata["architecture"], int(metadata["width"]), int(metadata["stages"]),
                       metadata["padding"], int(metadata["input_size"]), int(metadata["input_channels"]))
        except (KeyError, ValueError) as exc:
            raise InvalidInputError(f"{source}: backbone metadata lacks or garbles {exc}") from None

    def identity(self) -> tuple[str, int, int, str, int]:
        """What fixes the tensors and their meaning; ``input_size`` is left out (a convolutional trunk takes any)."""
        return self.architecture, self.width, self.stages, self.padding, self.input_channels

    def __str__(self) -> str:
        return (f"{self.architecture} (width {self.width}, {self.stages} stages, padding {self.padding}, "
                f"{self.input_channels} input channel(s))")


def save_backbone(path: Path, spec: BackboneSpec, arrays: Arrays) -> Path:
    """Write a backbone file: ``arrays`` under their documented names, ``spec`` in the metadata header."""
    return save_arrays(Path(path), arrays, metadata=spec.metadata())


def read_spec(path: Path) -> BackboneSpec:
    """The spec in a backbone file's header (the tensors are not read)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file (a backbone file, see calcdet export-backbone)")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata()
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInputError(f"{path}: not a readable safetensors file ({exc})") from exc
    return BackboneSpec.from_metadata(metadata, str(path))


def checked_spec(path: Path, wanted: BackboneSpec) -> BackboneSpec:
    """The spec of a backbone file; refused, naming both, when its identity (:meth:`BackboneSpec.identity`) differs."""
    spec = read_spec(path)
    if spec.identity() != wanted.identity():
        raise InvalidInputError(f"{path}: holds a {spec} backbone; this one is {wanted}")
    return spec


def read_backbone(path: Path, wanted: BackboneSpec) -> Arrays:
    """The tensors of a backbone file of the ``wanted`` spec (:func:`checked_spec`)."""
    checked_spec(path, wanted)
    return load_arrays(Path(path))


def export_backbone(model_dir: Path, out: Path) -> Path:
    """Write the backbone of the trained model in ``model_dir`` (its detector's) to ``out``; the file written.

    Why a function of the directory: the model is loaded with every check a run makes (checksums,
    plugin versions), so the file holds the weights of the very model that was validated.
    """
    from calcdet_core.api import load_model
    from calcdet_torch.detector import TorchDetector

    detector = load_model(Path(model_dir)).detector
    if not isinstance(detector, TorchDetector):
        name = "no detector" if detector is None else f"detector {detector.name!r}"
        raise InvalidInputError(f"{model_dir}: {name} holds no torch backbone to export")
    return detector.export_backbone(Path(out))
