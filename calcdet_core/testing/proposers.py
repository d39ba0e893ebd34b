"""Checks for proposers: candidates in the image grid, at the blobs, inside the mask, and bad input refused."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from calcdet_core.contracts.components import Proposer
from calcdet_core.contracts.data import Candidates
from calcdet_core.evaluation.matching import STUDY_DIAMETER_PX
from calcdet_core.testing._runtime import fresh, kit_check
from calcdet_core.testing.generic import expect_empty_or_clear_error
from calcdet_core.testing.images import bright_object_scene, disk_test_image, textured_background


def _propose(component: Proposer, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
    out = fresh(component).propose(image, mask)
    assert isinstance(out, Candidates), f"propose() should return Candidates; found {type(out).__name__}"
    assert out.xyr.dtype == np.float64 and out.xyr.shape[1:] == (3,), f"xyr should be (N, 3) float64; {out.xyr.shape}"
    assert np.isfinite(out.xyr).all() and np.isfinite(out.score).all(), "candidates should be finite"
    return out


@kit_check
def check_proposer_output_in_bounds(component: Proposer) -> None:
    image, _ = disk_test_image()
    out = _propose(component, image)
    h, w = image.shape
    inside = (out.x >= -0.5) & (out.x <= w - 0.5) & (out.y >= -0.5) & (out.y <= h - 0.5)
    assert inside.all(), f"candidate centres should lie in the image grid; found {out.xyr[~inside][:3].tolist()}"
    assert (out.radius > 0).all(), "candidate radii should be positive"


@kit_check
def check_proposer_finds_bright_disk(component: Proposer) -> None:
    image, (cx, cy) = disk_test_image(radius=4.0)
    out = _propose(component, image)
    d = np.hypot(out.x - cx, out.y - cy) if len(out) else np.array([np.inf])
    assert d.min() <= 3.0, (f"a bright disk of radius 4 at ({cx}, {cy}) should be found at its centre (x = column, "
                            f"y = row); nearest candidate is {d.min():.1f} px away")


@kit_check
def check_proposer_deterministic(component: Proposer) -> None:
    image, _ = disk_test_image(seed=3)
    a, b = _propose(component, image), _propose(component, image)
    assert np.array_equal(a.xyr, b.xyr) and np.array_equal(a.score, b.score), "propose() should be deterministic"


@kit_check
def check_proposer_respects_mask(component: Proposer) -> None:
    image, _ = disk_test_image()
    mask = np.zeros(image.shape, bool)
    mask[:, : image.shape[1] // 3] = True  # the disk is outside
    out = _propose(component, image, mask)
    xi, yi = np.rint(out.x).astype(int), np.rint(out.y).astype(int)
    inside = mask[np.clip(yi, 0, image.shape[0] - 1), np.clip(xi, 0, image.shape[1] - 1)]
    assert inside.all(), f"candidates should lie inside the mask; {int((~inside).sum())} lie outside"



@kit_check
def check_proposer_constant_image(component: Proposer) -> None:
    expect_empty_or_clear_error(partial(_propose, component), np.full((96, 96), 0.4, np.float32), "constant")


@kit_check
def check_proposer_zero_image(component: Proposer) -> None:
    expect_empty_or_clear_error(partial(_propose, component), np.zeros((96, 96), np.float32), "all-zero")


@kit_check
def check_proposer_tiny_image(component: Proposer) -> None:
    try:
        _propose(component, textured_background((16, 16)))
    except ValueError as exc:
        assert str(exc), "a tiny image may be refused, but with a message"


@kit_check
def check_proposer_rejects_bad_arrays(component: Proposer) -> None:
    image, _ = disk_test_image()
    bad = {"3-channel": np.dstack([image] * 3), "NaN-containing": np.where(image > 0.5, np.nan, image)}
    for what, array in bad.items():
        try:
            out = _propose(component, array.astype(np.float32))
        except ValueError as exc:
            assert str(exc), f"a {what} image should be refused with a message"
            continue
        raise AssertionError(f"a {what} image should raise ValueError; got {len(out)} candidates")



def _share_found(found: Candidates, centres: np.ndarray) -> float:
    """Fraction of MC centres with a candidate within the study's crediting distance (half its 14 px disc)."""
    if len(found) == 0:
        return 0.0
    return float((np.hypot(found.x[:, None] - centres[:, 0], found.y[:, None] - centres[:, 1]).min(0)
                  <= STUDY_DIAMETER_PX / 2).mean())


@kit_check
def check_proposer_survives_bright_object(component: Proposer, seeds: Sequence[int] = (0, 1, 2),
                                          tolerance: float = 0.05, min_clean: float = 0.5) -> None:
    """A clip or marker far brighter than the tissue must not cost the MCs elsewhere in the image.

    Opt-in (seconds per configuration, not in the default list): call it from the plugin's tests.
    A threshold relative to the image maximum fails it. ``min_clean`` is the sensitivity the
    proposer must reach on the clean scenes, so that an empty answer cannot pass.
    """
    scenes = [bright_object_scene(seed) for seed in seeds]
    clean = float(np.mean([_share_found(_propose(component, image, mask), xy) for image, _, mask, xy in scenes]))
    bright = float(np.mean([_share_found(_propose(component, image, mask), xy) for _, image, mask, xy in scenes]))
    who = f"{component.name} {component.config.model_dump(exclude_defaults=True)}"
    assert clean >= min_clean, (
        f"{who}: the clean bright-object scenes (seeds {tuple(seeds)}) should have at least {min_clean:.2f} of their "
        f"MCs found within {STUDY_DIAMETER_PX / 2:g} px; found {clean:.3f}")
    assert bright >= clean - tolerance, (
        f"{who}: a clip three times brighter than the tissue should cost at most {tolerance:.2f} of the MCs found "
        f"elsewhere (a threshold relative to the image maximum collapses); sensitivity {clean:.3f} clean, "
        f"{bright:.3f} with the clip (seeds {tuple(seeds)})")

