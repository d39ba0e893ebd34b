"""The fast threshold helpers give numpy's answers exactly."""

from __future__ import annotations

import numpy as np
import pytest
from calcdet_gm.thresholds import positive_inside, quantile


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("q", [0.0, 0.5, 0.8, 0.95, 0.97, 1.0])
def test_quantile_is_numpys_bit_for_bit(seed, q):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    values = rng.gamma(0.5, size=n).astype(np.float32)
    if seed % 2:  # many ties, as a top-hat has
        values = np.round(values * 20).astype(np.float32) / 20
    got = quantile(values, q)
    want = np.quantile(values, q)
    assert got == want and np.asarray(got).dtype == np.asarray(want).dtype


def test_quantile_leaves_its_input_alone():
    values = np.arange(10, 0, -1, dtype=np.float32)
    quantile(values, 0.5)
    np.testing.assert_array_equal(values, np.arange(10, 0, -1, dtype=np.float32))


def test_positive_inside_is_boolean_indexing():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(40, 30)).astype(np.float32)
    region = rng.random((40, 30)) < 0.6
    np.testing.assert_array_equal(positive_inside(values, region), values[region & (values > 0)])
    assert positive_inside(values, np.zeros_like(region)).size == 0
