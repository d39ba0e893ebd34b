"""Preprocessing: breast mask, crop and flip recorded exactly, intensities in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from calcdet_core.contracts.data import Mammogram
from calcdet_core.imaging.preprocess import breast_mask, preprocess


def _breast(chest_wall: str = "right", shape: tuple[int, int] = (120, 90)) -> np.ndarray:
    """A half-disc of textured tissue on a zero background, chest wall on one edge."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    dist = xx if chest_wall == "left" else w - 1 - xx
    inside = (dist / 70.0) ** 2 + ((yy - 65) / 45.0) ** 2 < 1
    rng = np.random.default_rng(0)
    img = np.where(inside, 3000 + rng.integers(0, 4000, shape), 0).astype(np.uint16)
    img[3, 3] = 9000  # a speck of dirt outside the breast: not part of the mask
    return img


def test_crop_and_flip_round_trip_points():
    img = _breast("right")
    work = preprocess(Mammogram(img, "r1", laterality="R"))
    t = work.transform
    assert t.flipped and work.pixels.shape == (t.height, t.width)
    assert work.pixels.dtype == np.float32 and work.pixels.min() == 0.0 and work.pixels.max() == 1.0
    ys, xs = np.nonzero(img[10:] > 0)
    stored = np.stack([xs, ys + 10], axis=1)[::37].astype(float)
    working = t.to_working(stored)
    np.testing.assert_array_equal(t.to_stored(working), stored)
    wi = working.astype(int)
    crop = img[t.y0 : t.y0 + t.height, t.x0 : t.x0 + t.width].astype(float)
    expected = (img[stored[:, 1].astype(int), stored[:, 0].astype(int)] - crop.min()) / (crop.max() - crop.min())
    np.testing.assert_allclose(work.pixels[wi[:, 1], wi[:, 0]], expected, rtol=1e-6)
    # chest wall (stored right edge) is now on the left
    assert work.mask[:, 0].sum() > work.mask[:, -1].sum()


def test_mask_is_largest_region_with_holes_filled():
    img = _breast("left")
    img[60:64, 20:24] = 0  # a hole inside the breast
    mask = breast_mask(img)
    assert not mask[3, 3], "a speck outside the breast is not breast"
    assert mask[60:64, 20:24].all(), "holes inside the breast are filled"
    work = preprocess(Mammogram(img, "l1"))
    assert work.transform.x0 == 0 and not work.transform.flipped
    assert work.transform.y0 == 65 - 44


def test_side_from_content_when_laterality_unknown():
    assert preprocess(Mammogram(_breast("right"), "a")).transform.flipped
    assert not preprocess(Mammogram(_breast("left"), "b")).transform.flipped


def test_laterality_wins_over_content():
    assert not preprocess(Mammogram(_breast("right"), "a", laterality="L")).transform.flipped


def test_steps_can_be_switched_off():
    img = _breast("right")
    work = preprocess(Mammogram(img, "a", laterality="R"), crop_breast=False, flip_to_left=False)
    assert work.pixels.shape == img.shape and (work.transform.x0, work.transform.y0) == (0, 0)
    assert not work.transform.flipped


def test_bad_images_raise_clear_errors():
    with pytest.raises(ValueError, match="constant"):
        preprocess(Mammogram(np.full((10, 10), 7, np.uint16), "flat"))
    with pytest.raises(ValueError, match="2-D"):
        preprocess(Mammogram(np.zeros((4, 4, 3), np.uint8), "rgb"))
    with pytest.raises(ValueError, match="already preprocessed"):
        preprocess(preprocess(Mammogram(_breast(), "twice")))


def test_regions_follow_four_connectivity():
    from calcdet_core.imaging.regions import label_regions

    u_shape = np.zeros((6, 7), bool)
    u_shape[:, 1] = u_shape[:, 5] = u_shape[5, 1:6] = True  # two arms joined at the bottom
    u_shape[0, 3] = True  # separate dot
    u_shape[1, 4] = False
    labels, n = label_regions(u_shape)
    assert n == 2 and labels[0, 1] == labels[0, 5] != labels[0, 3]
    diagonal = np.eye(4, dtype=bool)
    assert label_regions(diagonal)[1] == 4


def _flood_regions(mask: np.ndarray) -> np.ndarray:
    """Reference: 4-connected region ids (0 outside) by breadth-first flood fill."""
    ids = np.zeros(mask.shape, int)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if ids[start]:
            continue
        count += 1
        queue = [start]
        ids[start] = count
        while queue:
            y, x = queue.pop()
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not ids[ny, nx]:
                    ids[ny, nx] = count
                    queue.append((ny, nx))
    return ids


def test_regions_match_flood_fill_on_random_masks():
    from calcdet_core.imaging.regions import fill_holes, label_regions

    rng = np.random.default_rng(7)
    for _ in range(60):
        mask = rng.random((int(rng.integers(1, 25)), int(rng.integers(1, 25)))) < rng.random()
        labels, n = label_regions(mask)
        reference = _flood_regions(mask)
        assert n == reference.max() and ((labels > 0) == mask).all()
        pairs = set(zip(labels[mask].tolist(), reference[mask].tolist(), strict=True))
        assert len(pairs) == n, "same partition: one label per flood region, and no label shared"
        background = _flood_regions(~mask)
        border = set(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]).tolist())
        expected = ~np.isin(background, sorted(border - {0}))
        np.testing.assert_array_equal(fill_holes(mask), expected)
