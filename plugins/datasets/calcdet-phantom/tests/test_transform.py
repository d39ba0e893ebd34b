"""``mc-insertion``: fresh MCs in every draw of a training image, with their truth, from settings checked by key."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from calcdet_phantom import synthesize
from calcdet_phantom.transform import mc_insertion

from calcdet_core.api import Annotation, CalcdetUserError, StreamEntry, TrainingImage, breast_mask


@pytest.fixture(scope="module")
def normal() -> TrainingImage:
    """A normal phantom as a detector's stream gives it: float working-grid pixels, its mask and spacing."""
    phantom = synthesize(480, 384, seed=2, normal=True, laterality="L")
    pixels = phantom.image.astype(np.float32) / phantom.image.max()
    return TrainingImage("p2", "p", pixels, breast_mask(phantom.image), phantom.annotation, (0.07, 0.07))


def test_every_draw_inserts_new_mcs_inside_the_breast_with_their_truth(normal):
    insert = mc_insertion(images="normal", abnormal_share=1.0)
    first, again = (insert(normal, np.random.default_rng(1)) for _ in range(2))
    other = insert(normal, np.random.default_rng(2))
    assert np.array_equal(first.pixels, again.pixels)
    assert [(t.x, t.y) for t in first.annotation.targets] == [(t.x, t.y) for t in again.annotation.targets]
    assert first.pixels.dtype == np.float32
    assert len(first.annotation.targets) > 0 and normal.annotation.is_normal
    assert {(t.x, t.y) for t in first.annotation.targets} != {(t.x, t.y) for t in other.annotation.targets}
    assert np.array_equal(first.pixels[~normal.mask], normal.pixels[~normal.mask]), "only breast pixels change"
    changed = first.pixels != normal.pixels
    near = np.zeros_like(changed)
    for t in first.annotation.targets:
        assert normal.mask[int(t.y), int(t.x)]
        y, x = round(t.y), round(t.x)
        near[max(y - 15, 0): y + 16, max(x - 15, 0): x + 16] = True
        assert first.pixels[y - 1: y + 2, x - 1: x + 2].max() > normal.pixels[y - 1: y + 2, x - 1: x + 2].max()
    assert not (changed & ~near).any(), "pixels change only around the inserted MCs"


def test_inserted_mcs_saturate_at_the_working_grids_one_as_a_detector_does(normal):
    top = np.quantile(normal.pixels[normal.mask], 0.99)  # the breast's brightest 1 % at 1, as a windowed image
    bright = dataclasses.replace(normal, pixels=np.where(normal.mask, np.minimum(normal.pixels / top, 1),
                                                         normal.pixels).astype(np.float32))
    insert = mc_insertion(images="normal", abnormal_share=1.0)
    drawn = [insert(bright, np.random.default_rng(seed)).pixels for seed in range(30)]
    assert all(d.min() >= 0 and d.max() <= 1 for d in drawn), "never beyond the grid's [0, 1]"
    assert any(((d == 1) & (bright.pixels < 1)).any() for d in drawn), "some MCs reach its top"


def test_a_share_of_draws_stays_normal_and_normal_images_only_keeps_no_annotated_image(normal):
    insert = mc_insertion(images="normal")
    drawn = [insert(normal, np.random.default_rng(s)).annotation.is_normal for s in range(40)]
    assert 0.2 < np.mean(drawn) < 0.6, "abnormal_share 0.6: about 40 % of draws stay normal"
    annotated = StreamEntry("a", "p", Annotation(targets=synthesize(480, 384, seed=1, normal=False).annotation.targets))
    assert insert.keeps(StreamEntry("n", "p", Annotation())) and not insert.keeps(annotated)
    assert mc_insertion(images="all").keeps(annotated)


@pytest.mark.parametrize(("params", "key"), [({"mcs": {"high_mm": 3.0}}, "mcs.high_mm"),
                                             ({"clusters": {"members": [4, 400]}}, "clusters.members"),
                                             ({"mc": {}}, "mc: unknown key"), ({"images": "some"}, "images"),
                                             ({"family": "nope"}, "family"), ({"abnormal_share": 2}, "abnormal_share")])
def test_settings_no_image_can_meet_are_refused_naming_the_key(params, key):
    with pytest.raises(ValueError, match=key):
        mc_insertion(**params)


def test_an_image_without_a_spacing_is_refused_by_name(normal):
    with pytest.raises(CalcdetUserError, match="p2 states no pixel spacing"):
        mc_insertion()(dataclasses.replace(normal, spacing_mm=None), np.random.default_rng(0))
