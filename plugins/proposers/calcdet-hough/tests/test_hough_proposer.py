import numpy as np
import pytest
from calcdet_hough import HoughProposer

from calcdet_core.testing import (
    add_disks,
    check_proposer_survives_bright_object,
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


@pytest.mark.parametrize("params", [{}, {"patch_grid": 35, "union_transform": True}])
def test_a_clip_far_brighter_than_the_tissue_keeps_the_mcs_found(params):
    check_proposer_survives_bright_object(HoughProposer(**params), min_clean=0.2)
