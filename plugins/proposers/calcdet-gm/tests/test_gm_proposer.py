"""GM proposer: conformance kit, known answers, and the fast reconstruction against the textbook one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from calcdet_gm import GMProposer
from calcdet_gm.morphology import tophat_by_reconstruction
from calcdet_gm.reconstruction import reconstruct_by_dilation

from calcdet_core.testing import (
    add_disks,
    check_proposer_survives_bright_object,
    parametrize_with_checks,
    textured_background,
)


@parametrize_with_checks([GMProposer(), GMProposer(first_quantile=0.97)])
def test_conformance(component, check):
    check(component)


def textbook_reconstruction(marker: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Dilate with a 3x3 square and clip under the mask until nothing changes."""
    current = np.minimum(marker, mask)
    while True:
        grown = np.minimum(cv2.dilate(current, np.ones((3, 3), np.uint8)), mask)
        if np.array_equal(grown, current):
            return current
        current = grown


@pytest.mark.parametrize("seed", range(6))
def test_reconstruction_equals_textbook(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 70, size=2)
    mask = rng.random((h, w)).astype(np.float32)
    marker = mask * rng.random((h, w)).astype(np.float32) ** 3
    np.testing.assert_array_equal(reconstruct_by_dilation(marker, mask), textbook_reconstruction(marker, mask))


def test_reconstruction_equals_textbook_on_opened_texture():
    image = add_disks(textured_background((150, 170), seed=4), [(40, 50, 3, 0.2), (120, 90, 5, 0.1)])
    marker = cv2.morphologyEx(image, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (14, 14)))
    np.testing.assert_array_equal(reconstruct_by_dilation(marker, image), textbook_reconstruction(marker, image))


@pytest.mark.parametrize(("seed", "diameter"), [(0, 14), (1, 14), (2, 7), (3, 10), (4, 14)])
def test_tophat_equals_textbook_with_the_opening_as_marker(seed, diameter):
    rng = np.random.default_rng(seed)
    image = add_disks(textured_background((90, 110), seed=seed, contrast=0.1), [(4, 5, 3, 0.3), (100, 60, 2, 0.2)])
    image = np.clip(image + rng.normal(0, 0.01, image.shape), 0, 1).astype(np.float32)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))
    textbook = image - textbook_reconstruction(cv2.morphologyEx(image, cv2.MORPH_OPEN, disk), image)
    np.testing.assert_array_equal(tophat_by_reconstruction(image, diameter), textbook)


@pytest.mark.parametrize("radius", [1.5, 3.0, 4.0, 6.0])
def test_bright_disk_found_at_centre_with_its_radius(radius):
    centre = (61.3, 72.6)
    image = add_disks(textured_background((140, 150), seed=2), [(*centre, radius, 0.3)])
    out = GMProposer().propose(image)
    best = int(np.argmax(out.score))
    assert np.hypot(out.x[best] - centre[0], out.y[best] - centre[1]) <= 1.5
    assert abs(out.radius[best] - radius) <= 1.0


def test_flat_and_empty_inputs_give_nothing():
    proposer = GMProposer()
    assert len(proposer.propose(np.full((80, 90), 0.5, np.float32))) == 0
    assert len(proposer.propose(np.zeros((80, 90), np.float32))) == 0
    image = add_disks(textured_background((80, 90)), [(40, 40, 3, 0.3)])
    assert len(proposer.propose(image, np.zeros(image.shape, bool))) == 0


def test_coordinates_are_in_the_given_grid_when_the_mask_is_a_box():
    image = add_disks(textured_background((200, 260), seed=1), [(190.0, 150.0, 3, 0.3), (30.0, 30.0, 3, 0.3)])
    mask = np.zeros(image.shape, bool)
    mask[90:, 120:] = True  # holds the first disk only; its box touches the image edges on two sides
    out = GMProposer().propose(image, mask)
    best = int(np.argmax(out.score))
    assert np.hypot(out.x[best] - 190.0, out.y[best] - 150.0) <= 1.0
    assert mask[np.rint(out.y).astype(int), np.rint(out.x).astype(int)].all()


def test_breast_border_is_eroded_but_image_edges_are_not():
    image = textured_background((160, 160), seed=3)
    image[:, 120:] = 0  # air on the right: the breast border runs at x = 120
    image = add_disks(image, [(110.0, 80.0, 2.5, 0.3), (4.0, 80.0, 2.5, 0.3)])
    near_border = lambda out: np.any(np.hypot(out.x - 110.0, out.y - 80.0) <= 2)  # noqa: E731
    near_edge = lambda out: np.any(np.hypot(out.x - 4.0, out.y - 80.0) <= 2)  # noqa: E731
    default = GMProposer().propose(image)
    assert not near_border(default) and near_edge(default)
    assert near_border(GMProposer(border_erosion=0).propose(image))


def test_stricter_first_quantile_gives_fewer_candidates():
    image = textured_background((200, 200), seed=5, contrast=0.08)
    assert len(GMProposer(first_quantile=0.97).propose(image)) < len(GMProposer().propose(image))


def test_close_candidates_keep_the_brighter():
    image = add_disks(textured_background((120, 120), seed=6), [(50.0, 60.0, 1.5, 0.2), (54.0, 60.0, 1.5, 0.4)])
    out = GMProposer().propose(image)
    near = np.hypot(out.x - 52.0, out.y - 60.0) <= 4
    assert near.sum() == 1 and abs(out.x[near][0] - 54.0) <= 1.0


@pytest.mark.parametrize(("image", "message"), [
    (np.full((64, 64), 1000, np.uint16), "float image"),
    (np.full((64, 64), 2.0, np.float32), r"\[0, 1\]"),
    (np.zeros((20, 64), np.float32), "at least 32x32"),
    (np.zeros((64, 64, 3), np.float32), "2-D"),
])
def test_bad_images_are_refused_with_a_message(image, message):
    with pytest.raises(ValueError, match=message):
        GMProposer().propose(image)


def test_mask_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="mask shape"):
        GMProposer().propose(np.zeros((64, 64), np.float32), np.ones((64, 65), bool))


def test_a_clip_far_brighter_than_the_tissue_keeps_the_mcs_found():
    check_proposer_survives_bright_object(GMProposer(), min_clean=0.5)
