"""The conformance kit fails components that break their contract, with a message that says why."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ConfigDict, Field

from calcdet_core import Candidates, ComponentConfig, FeatureExtractor, Proposer
from calcdet_core.testing import (
    check_component,
    check_config_rejects_unknown_key,
    check_features_flat_image_finite,
    check_proposer_finds_bright_disk,
    check_proposer_respects_mask,
    parametrize_with_checks,
)


class TransposedProposer(Proposer):
    """Returns (row, column) instead of (x = column, y = row): a classic mistake."""

    name = "transposed"
    description = "Brightest pixel, with x and y swapped."

    class Config(ComponentConfig):
        pass

    def propose(self, image, mask=None):
        y, x = np.unravel_index(np.argmax(image), image.shape)
        return Candidates.from_columns([y], [x], [3.0], [1.0])


class LooseConfigProposer(TransposedProposer):
    name = "loose"

    class Config(ComponentConfig):
        model_config = ConfigDict(extra="allow")
        k: int = Field(1, description="Unused.")


class NaNOnFlat(FeatureExtractor):
    name = "nan-on-flat"
    description = "Coefficient of variation, undefined on a flat patch."

    class Config(ComponentConfig):
        pass

    def feature_names(self):
        return ["cv"]

    def extract(self, image, candidates):
        from calcdet_core.imaging.patches import extract_patches

        p = extract_patches(image, candidates.xyr[:, :2], 14).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (p.std(axis=(1, 2)) / (p.std(axis=(1, 2)) * 0))[:, None]


def test_swapped_coordinates_are_caught():
    with pytest.raises(AssertionError, match="x = column"):
        check_proposer_finds_bright_disk(TransposedProposer())


def test_ignoring_the_mask_is_caught():
    with pytest.raises(AssertionError, match="inside the mask"):
        check_proposer_respects_mask(TransposedProposer())


def test_config_accepting_unknown_keys_is_caught():
    with pytest.raises(AssertionError, match="extra='forbid'"):
        check_config_rejects_unknown_key(LooseConfigProposer())


def test_non_finite_features_are_caught():
    with pytest.raises(AssertionError, match="not finite: \\['cv'\\]"):
        check_features_flat_image_finite(NaNOnFlat())


def test_waived_checks_are_skipped_by_check_component():
    check_component(TransposedProposer(), expected_failed_checks={
        "check_proposer_finds_bright_disk": "demonstration", "check_proposer_respects_mask": "demonstration",
        "check_proposer_constant_image": "demonstration", "check_proposer_zero_image": "demonstration",
        "check_proposer_rejects_bad_arrays": "demonstration"})


@parametrize_with_checks([TransposedProposer()], expected_failed_checks={
    "check_proposer_finds_bright_disk": "swaps x and y on purpose"})
def test_parametrize_waives_with_xfail(component, check, request):
    if request.node.callspec.id.endswith("check_proposer_finds_bright_disk"):
        with pytest.raises(pytest.xfail.Exception, match="swaps x and y on purpose"):
            check(component)
    elif request.node.callspec.id.split("-", 1)[1] in ("check_proposer_respects_mask", "check_proposer_constant_image",
                                                       "check_proposer_zero_image",
                                                       "check_proposer_rejects_bad_arrays"):
        with pytest.raises(AssertionError):
            check(component)
    else:
        check(component)
