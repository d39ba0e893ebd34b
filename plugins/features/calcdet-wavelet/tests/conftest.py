"""The per-patch reference computation beside these tests, as a fixture: the oracle ``extract`` must agree with."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def per_patch_reference() -> ModuleType:
    """``per_patch_reference.py``, loaded by path: the tests run wherever the plugin is checked out."""
    path = Path(__file__).with_name("per_patch_reference.py")
    spec = importlib.util.spec_from_file_location("calcdet_wavelet_per_patch_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
