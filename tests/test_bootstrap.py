"""Bootstrap over images: reproducible, equal to a per-resample loop, honest about undefined resamples."""

import numpy as np
import pytest

from benchmarks.bootstrap import loop_auc, split_by_image
from calcdet_core.data import Annotation, Candidates, ImageResult, Target
from calcdet_core.evaluation.bootstrap import bootstrap_froc, draw_counts
from calcdet_core.evaluation.froc import froc_data
from calcdet_core.evaluation.synthetic import synthetic_results as random_results


def test_draw_counts_reproducible_and_complete():
    a, b = draw_counts(50, 20, seed=3), draw_counts(50, 20, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, draw_counts(50, 20, seed=4))
    assert a.shape == (20, 50) and (a.sum(axis=1) == 50).all()


@pytest.mark.parametrize("seed", range(3))
def test_vectorised_bootstrap_equals_a_per_resample_loop(seed):
    data = froc_data(random_results(seed=seed, n_images=25, n_normal=10))
    boot = bootstrap_froc(data, n_resamples=40, seed=seed)
    counts = draw_counts(data.n_images, 40, seed)
    for b in range(40):
        if counts[b][data.normal].sum() == 0 or counts[b][~data.normal].sum() == 0:
            assert np.isnan(boot.auc[b])
        else:
            assert boot.auc[b] == pytest.approx(loop_auc(data, split_by_image(data), counts[b], 50.0), abs=1e-12)


def test_summary_is_reproducible_and_brackets_the_estimate():
    data = froc_data(random_results(seed=7, n_images=60, n_normal=25))
    one, two = bootstrap_froc(data, 300, seed=1), bootstrap_froc(data, 300, seed=1)
    s = one.summary()
    assert s == two.summary()
    assert s["valid_resamples"] == 300
    lo, hi = s["auc"]["ci"]
    assert 0 <= lo < s["auc"]["mean"] < hi <= 1 and s["auc"]["std"] > 0
    mean, _, band_lo, band_hi = one.band()
    assert ((band_lo <= mean + 1e-12) & (mean <= band_hi + 1e-12)).all()
    assert (np.diff(mean) >= -1e-12).all()  # a mean of non-decreasing curves is non-decreasing
    assert bootstrap_froc(data, 300, seed=2).summary() != s


def test_undefined_resamples_are_reported_not_hidden():
    # one normal image among many: some resamples draw no normal image
    results = [ImageResult("n", Candidates.from_columns([1.0], [1.0], [1.0], [0.5]), Annotation())]
    results += [ImageResult(f"a{i}", Candidates.from_columns([10.0], [10.0], [1.0], [0.4]),
                            Annotation(targets=(Target(10.0, 10.0),))) for i in range(5)]
    boot = bootstrap_froc(froc_data(results), 200, seed=0)
    s = boot.summary()
    assert 0 < s["valid_resamples"] < 200
    no_normal = bootstrap_froc(froc_data(results[1:]), 50, seed=0).summary()
    assert no_normal["valid_resamples"] == 0 and no_normal["auc"]["mean"] is None


def test_zero_resamples_and_bad_count():
    data = froc_data(random_results(seed=0))
    assert bootstrap_froc(data, 0).summary()["auc"]["mean"] is None
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_froc(data, -1)
