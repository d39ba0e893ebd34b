import numpy as np
import pytest
from calcdet_hough import HoughProposer

from calcdet_core.testing import (
    add_disks,
    breast_like_mask,
    disk_test_image,
    parametrize_with_checks,
    textured_background,
)


@parametrize_with_checks([HoughProposer(), HoughProposer(local_transform=False),
                          HoughProposer(patch_grid=35, union_transform=True)])
def test_conformance(component, check):
    check(component)


@pytest.mark.parametrize("radius", [3.0, 5.0])
def test_bright_disk_found_at_centre_with_its_radius(radius):
    image, (cx, cy) = disk_test_image(size=160, radius=radius, seed=1)
    out = HoughProposer().propose(image)
    nearest = np.argmin(np.hypot(out.x - cx, out.y - cy))
    assert np.hypot(out.x[nearest] - cx, out.y[nearest] - cy) <= 2.0
    assert abs(out.radius[nearest] - radius) <= 2.0
    assert out.score[nearest] == out.score.max(), "the disk should be the best supported circle"


def test_disk_found_in_the_right_place_when_the_mask_is_a_sub_region():
    background = textured_background((220, 300), seed=4)
    image = add_disks(background, [(230.0, 150.0, 4.0, 0.35), (40.0, 40.0, 4.0, 0.35)])
    mask = np.zeros(image.shape, bool)
    mask[60:, 120:] = True  # the disk at (230, 150) is inside, the one at (40, 40) outside
    out = HoughProposer().propose(image, mask)
    assert len(out) > 0
    assert np.hypot(out.x - 230.0, out.y - 150.0).min() <= 2.0
    assert np.hypot(out.x - 40.0, out.y - 40.0).min() > 20.0


def test_flat_and_empty_inputs_give_no_candidates():
    proposer = HoughProposer()
    assert len(proposer.propose(np.full((64, 80), 0.3, np.float32))) == 0
    image, _ = disk_test_image()
    assert len(proposer.propose(image, np.zeros(image.shape, bool))) == 0


def test_global_stage_alone_finds_the_disk():
    image, (cx, cy) = disk_test_image(size=160, radius=4.0, seed=2)
    out = HoughProposer(local_transform=False).propose(image)
    assert np.hypot(out.x - cx, out.y - cy).min() <= 2.0


def test_patch_grouping_keeps_separate_disks():
    xy = np.array([[70.0, 80.0], [330.0, 60.0], [90.0, 320.0], [310.0, 340.0], [200.0, 200.0]])
    image = add_disks(textured_background((400, 400), seed=5), [(x, y, 3.5, 0.3) for x, y in xy])
    for grid in (1, 40):
        out = HoughProposer(patch_grid=grid).propose(image)
        found = np.hypot(out.x[:, None] - xy[None, :, 0], out.y[:, None] - xy[None, :, 1]).min(0) <= 3.0
        assert found.all(), f"patch_grid={grid} lost disks at {xy[~found].tolist()}"


@pytest.mark.parametrize(("array", "words"), [
    (np.zeros((64, 64), np.uint16), "float"),
    (np.zeros((64, 64, 3), np.float32), "2-D"),
    (np.full((64, 64), np.nan, np.float32), "NaN"),
    (np.zeros((20, 64), np.float32), "at least"),
])
def test_bad_images_are_refused_with_a_reason(array, words):
    with pytest.raises(ValueError, match=words):
        HoughProposer().propose(array)


def test_mask_of_another_shape_is_refused():
    image, _ = disk_test_image()
    with pytest.raises(ValueError, match="mask shape"):
        HoughProposer().propose(image, np.ones((10, 10), bool))


def test_config_refuses_an_empty_radius_range():
    with pytest.raises(ValueError, match="min_radius"):
        HoughProposer(min_radius=8, max_radius=4)


def clip_scene(seed: int, size: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clean image, the same with a clip, breast mask, and the MC centres (24 disks, radius 1.5-3 px).

    The tissue tops out near 0.33 and the MCs near 0.45; the clip is a saturated 40x15 px rectangle
    (1.0, three times the tissue maximum) inside the breast, 40+ px from every MC.
    """
    rng = np.random.default_rng(seed)
    mask = breast_like_mask((size, size))
    clip = (slice(40, 55), slice(30, 70))
    ys, xs = np.nonzero(mask)
    disks: list[tuple[float, float, float, float]] = []
    for i in rng.permutation(len(xs)):
        x, y = int(xs[i]), int(ys[i])
        near_clip = y < clip[0].stop + 40 and x < clip[1].stop + 40
        if near_clip or not mask[y - 12:y + 13, x - 12:x + 13].all():
            continue
        if all(np.hypot(x - a, y - b) >= 16 for a, b, _, _ in disks):
            disks.append((x, y, rng.uniform(1.5, 3.0), rng.uniform(0.05, 0.15)))
        if len(disks) == 24:
            break
    clean = add_disks(textured_background((size, size), seed=seed, level=0.25, contrast=0.03), disks) * mask
    bright = clean.copy()
    bright[clip] = 1.0
    return clean, bright, mask, np.array([d[:2] for d in disks])


def sensitivity(found, centres: np.ndarray) -> float:
    """Fraction of MC centres with a candidate within 7 px (the study's 14 px rule)."""
    if len(found) == 0:
        return 0.0
    return float((np.hypot(found.x[:, None] - centres[:, 0], found.y[:, None] - centres[:, 1]).min(0) <= 7).mean())


@pytest.mark.parametrize("params", [{}, {"patch_grid": 35, "union_transform": True}])
def test_a_clip_far_brighter_than_the_tissue_keeps_the_mcs_found(params):
    proposer, scenes = HoughProposer(**params), [clip_scene(seed) for seed in range(3)]
    clean = np.mean([sensitivity(proposer.propose(image, mask), xy) for image, _, mask, xy in scenes])
    bright = np.mean([sensitivity(proposer.propose(image, mask), xy) for _, image, mask, xy in scenes])
    assert clean >= 0.2 and bright >= clean - 0.05, (clean, bright)
