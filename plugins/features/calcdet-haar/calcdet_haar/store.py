"""The learned selection on disk: one JSON file, checked against the bank this version builds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.api import InvalidInputError
from calcdet_haar.bank import BANK_FORMAT, HaarBank

FILENAME = "haar_selection.json"
FORMAT = "calcdet-haar-selection/1"


@dataclass(frozen=True)
class Selection:
    """Chosen bank indices (most important first) and what the choice was based on."""

    indices: np.ndarray
    importance: list[float]
    fold_auroc: list[float | None]
    training: dict[str, int] = field(default_factory=dict)


def write_selection(directory: Path, bank: HaarBank, selection: Selection) -> Path:
    """Write ``haar_selection.json`` into ``directory``; the bank is identified by its fingerprint."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "bank_format": BANK_FORMAT,
        "patch_size": bank.patch,
        "bank_size": len(bank),
        "bank_sha256": bank.fingerprint,
        "selected": [int(i) for i in selection.indices],
        "names": bank.names(selection.indices),
        **{k: v for k, v in asdict(selection).items() if k != "indices"},
    }
    path = directory / FILENAME
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def read_selection(directory: Path, bank: HaarBank, n_selected: int) -> Selection:
    """Read and verify a selection written by :func:`write_selection` for this very bank."""
    path = Path(directory) / FILENAME
    if not path.is_file():
        raise InvalidInputError(f"no Haar feature selection in {directory}: expected {FILENAME} "
                                "written by save_state()")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not valid JSON ({exc}); re-run fit() and save_state()") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInputError(f"{path} is not a calcdet Haar selection (format {FORMAT!r} expected)")
    if data.get("patch_size") != bank.patch:
        raise InvalidInputError(f"{path} was selected for {data.get('patch_size')}x{data.get('patch_size')} patches; "
                         f"this extractor uses patch_size={bank.patch}")
    if data.get("bank_sha256") != bank.fingerprint or data.get("bank_size") != len(bank):
        raise InvalidInputError(f"{path} was selected from a different Haar feature bank (fingerprint "
                         f"{str(data.get('bank_sha256'))[:12]}..., this version builds {bank.fingerprint[:12]}...); "
                         "its indices would name other features: re-run fit()")
    selected = data.get("selected")
    if not (isinstance(selected, list) and all(type(i) is int for i in selected)):
        raise InvalidInputError(f"{path}: 'selected' should be a list of integer feature indices")
    indices = np.array(selected, np.int64)
    if len(indices) != n_selected:
        raise InvalidInputError(f"{path} holds {len(indices)} selected features; this extractor is configured for "
                         f"n_selected={n_selected}")
    if len(indices) and (indices.min() < 0 or indices.max() >= len(bank)):
        raise InvalidInputError(f"{path}: selected indices must lie in [0, {len(bank)}); "
                         f"found {indices.min()}..{indices.max()}")
    if len(np.unique(indices)) != len(indices):
        raise InvalidInputError(f"{path}: selected feature indices repeat")
    if data.get("names") != bank.names(indices):
        raise InvalidInputError(f"{path}: the stored feature names do not match the stored indices (file edited?); "
                         "re-run fit() and save_state()")
    return Selection(indices, list(data.get("importance", [])), list(data.get("fold_auroc", [])),
                     dict(data.get("training", {})))
