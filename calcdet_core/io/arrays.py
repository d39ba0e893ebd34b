"""Named arrays on disk as safetensors: the safe format for learned weights (never pickle).

``safetensors.numpy`` needs no torch; a torch component converts with ``tensor.numpy()``
or uses ``safetensors.torch`` directly with the same files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from calcdet_core.errors import InvalidInputError


def save_arrays(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> Path:
    """Write ``arrays`` to ``path`` atomically (a reader sees the old file or the whole new one)."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file; a clear error naming the file if it is not one."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInputError(f"{path}: not a readable safetensors file ({exc})") from exc
