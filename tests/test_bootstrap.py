"""Bootstrap over images: reproducible, equal to a per-resample loop, honest about undefined resamples."""

import numpy as np
import pytest

from benchmarks.bootstrap import loop_auc, split_by_image
from calcdet_core.contracts.data import Annotation, Candidates, ImageResult, Target
from calcdet_core.evaluation.bootstrap import bootstrap_froc, draw_counts, paired_auc_difference
from calcdet_core.evaluation.froc import froc_data, froc_point_estimate
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


def boosted(results: list[ImageResult], amount: float, every: int = 1) -> list[ImageResult]:
    """The same detections with the TP-ish ones (those near a target) scored higher in every ``every``-th image."""
    out = []
    for i, r in enumerate(results):
        score = r.detections.score.copy()
        if i % every == 0 and r.annotation.targets:
            t = np.array([[p.x, p.y] for p in r.annotation.targets])
            near = (np.hypot(*(r.detections.xyr[:, None, :2] - t[None]).transpose(2, 0, 1)) < 7).any(axis=1)
            score[near] += amount
        out.append(ImageResult(r.image_id, r.detections.with_scores(score), r.annotation))
    return out


def test_paired_difference_is_the_difference_of_the_same_draws():
    base = random_results(seed=3, n_images=60, n_normal=25)
    better = boosted(base, 0.3, every=3)
    a, b = froc_data(better), froc_data(base)
    paired = paired_auc_difference(a, b, 300, seed=2)
    one, two = bootstrap_froc(a, 300, seed=2), bootstrap_froc(b, 300, seed=2)
    assert paired["difference"] == pytest.approx(froc_point_estimate(a)["auc"] - froc_point_estimate(b)["auc"])
    assert paired["difference"] > 0 and paired["share_above_zero"] > 0.95
    lo, hi = paired["ci"]
    assert lo > 0 and np.percentile(one.auc - two.auc, 2.5) == pytest.approx(lo)
    # pairing cancels what the images share: the difference's interval is far narrower than either AUC's
    assert hi - lo < 0.5 * (one.summary()["auc"]["ci"][1] - one.summary()["auc"]["ci"][0])
    assert paired_auc_difference(b, b, 100)["ci"] == [0.0, 0.0]


def test_paired_difference_needs_the_same_images():
    base = random_results(seed=3, n_images=20, n_normal=8)
    with pytest.raises(ValueError, match="same images"):
        paired_auc_difference(froc_data(base), froc_data(base[::-1]))
