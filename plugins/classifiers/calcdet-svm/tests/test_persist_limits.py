"""A skops file is refused before its schema is inflated or walked when no model calcdet wrote could look so."""

from __future__ import annotations

import zipfile

import pytest
from calcdet_svm.persist import MAX_SCHEMA_BYTES, types_in_file

from calcdet_core.api import InvalidInputError


def _skops(path, schema: bytes):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", schema)
    return path


def test_a_schema_that_inflates_past_the_limit_is_refused_unread(tmp_path):
    path = _skops(tmp_path / "big.skops", b" " * (MAX_SCHEMA_BYTES + 1))
    assert path.stat().st_size < 1 << 20, "a small file on disk"
    with pytest.raises(InvalidInputError, match=r"big.skops: its schema.json inflates to 64 MiB"):
        types_in_file(path)


def test_a_schema_nested_too_deeply_is_refused_naming_the_file(tmp_path):
    path = _skops(tmp_path / "deep.skops", b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidInputError, match=r"deep.skops: its schema.json is nested too deeply"):
        types_in_file(path)
