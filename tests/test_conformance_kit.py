"""The conformance kit fails components that break their contract, with a message that says why."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pydantic import ConfigDict, Field

from calcdet_core.api import (
    STUDY_DIAMETER_PX,
    Candidates,
    ComponentConfig,
    Detections,
    Detector,
    FeatureExtractor,
    Proposer,
    load_arrays,
    save_arrays,
)
from calcdet_core.errors import InvalidInputError
from calcdet_core.testing import (
    FOUND_WITHIN_PX,
    check_component,
    check_config_rejects_unknown_key,
    check_detector_constant_images,
    check_detector_deterministic,
    check_detector_finds_trained_disks,
    check_detector_output_after_fit,
    check_detector_pickles,
    check_detector_respects_mask,
    check_detector_resumes_after_interruption,
    check_detector_save_load,
    check_features_flat_image_finite,
    check_proposer_finds_bright_disk,
    check_proposer_respects_mask,
    check_proposer_survives_bright_object,
    parametrize_with_checks,
)

pytest_plugins = ["pytester"]


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


TRANSPOSED_FAILS = ("check_proposer_finds_bright_disk", "check_proposer_respects_mask", "check_proposer_constant_image",
                    "check_proposer_zero_image", "check_proposer_rejects_bad_arrays")


def test_check_component_runs_waived_checks_and_accepts_their_failure():
    assert check_component(TransposedProposer(), expected_failed_checks=dict.fromkeys(TRANSPOSED_FAILS, "demo")) == {}


def test_check_component_fails_a_waived_check_that_passes():
    waived = {**dict.fromkeys(TRANSPOSED_FAILS, "demo"), "check_proposer_tiny_image": "assumed broken"}
    with pytest.raises(AssertionError, match=r"check_proposer_tiny_image is waived for transposed .* but passes"):
        check_component(TransposedProposer(), expected_failed_checks=waived)


def test_a_waiver_naming_no_check_is_refused_with_the_closest_names():
    with pytest.raises(InvalidInputError, match="'check_proposer_finds_bright_disks', which is no check of transposed; "
                                                "closest: check_proposer_finds_bright_disk"):
        parametrize_with_checks([TransposedProposer()], {"check_proposer_finds_bright_disks": "renamed"})
    with pytest.raises(InvalidInputError, match="'check_detector_pickles', which is no check of transposed"):
        check_component(TransposedProposer(), {"check_detector_pickles": "another kind's check"})


STRICT_WAIVERS = """
from calcdet_core.testing import parametrize_with_checks
from test_conformance_kit import TransposedProposer

@parametrize_with_checks([TransposedProposer()], expected_failed_checks={
    "check_proposer_finds_bright_disk": "swaps x and y on purpose",
    "check_proposer_respects_mask": "ignores the mask",
    "check_proposer_constant_image": "always answers", "check_proposer_zero_image": "always answers",
    "check_proposer_rejects_bad_arrays": "accepts anything",
    "check_proposer_tiny_image": "waived although it passes"})
def test_kit(component, check):
    check(component)
"""


def test_parametrize_runs_waived_checks_strictly(pytester):
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(test_strict=STRICT_WAIVERS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, xfailed=5, failed=1)
    result.stdout.fnmatch_lines(["*test_kit?transposed-check_proposer_tiny_image?*",
                                 "?XPASS(strict)? waived for transposed: waived although it passes"])


# --------------------------------------------------------------------------- detectors


class LevelDetector(Detector):
    """Strict local maxima brighter than a level learned epoch by epoch: a detector that passes every check."""

    name = "level"
    description = "Bright local maxima above a learned level."

    class Config(ComponentConfig):
        epochs: int = Field(2, ge=1, description="Passes over the training images.")

    level_ = None

    def fit(self, train, validation, context):
        checkpoint = self.checkpoint(context)
        level = float(checkpoint.arrays["level"][0]) if checkpoint else 0.0
        for epoch in range(checkpoint.epoch + 1 if checkpoint else 1, self.config.epochs + 1):
            rng = self.rng(context, epoch)
            values = [image.pixels[round(t.y), round(t.x)] for image in train for t in image.annotation.targets]
            level = (level + float(np.median(values)) * rng.uniform(0.7, 0.8)) / (2 if epoch > 1 else 1)
            context.save_checkpoint(epoch, {"level": np.array([level])})
        self.level_ = level
        return self

    def checkpoint(self, context):
        return context.last_checkpoint()

    def rng(self, context, epoch):
        return context.rng(epoch)

    def detect(self, image, mask=None):
        h, w = image.shape
        padded = np.pad(image, 1, constant_values=-np.inf)
        peaks = np.all([image > padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx], axis=0) & (image > self.level_)
        if mask is not None:
            peaks &= self.mask_used(mask)
        y, x = np.nonzero(peaks)
        return Detections.from_columns(*self.xy(x, y), np.full(len(x), 3.0), image[y, x].astype(np.float64))

    def mask_used(self, mask):
        return mask

    def xy(self, x, y):
        return x, y

    def save_state(self, directory):
        return [save_arrays(directory / "level.safetensors", {"level": np.array([self.level_])})]

    def load_state(self, directory):
        self.level_ = float(load_arrays(directory / "level.safetensors")["level"][0])


class MaskBlind(LevelDetector):
    def mask_used(self, mask):
        return np.ones_like(mask)


class Forgetful(LevelDetector):
    def save_state(self, directory):
        return []


class Unseeded(LevelDetector):
    def rng(self, context, epoch):
        return np.random.default_rng()


class Restarting(LevelDetector):
    def checkpoint(self, context):
        return None


class Unpicklable(LevelDetector):
    def fit(self, train, validation, context):
        self.log_ = lambda text: None
        return super().fit(train, validation, context)


class Transposed(LevelDetector):
    def xy(self, x, y):
        return y, x


class PlateauPeaks(LevelDetector):
    """Every pixel at least as bright as its neighbours is a peak: a flat image is all peaks."""

    def detect(self, image, mask=None):
        y, x = np.nonzero(image >= image.max())
        return Detections.from_columns(x, y, np.full(len(x), 3.0), image[y, x].astype(np.float64))


def test_a_sound_detector_passes_every_check():
    check_component(LevelDetector())


@pytest.mark.parametrize(("detector", "check", "message"), [
    (MaskBlind(), check_detector_respects_mask, "inside the mask"),
    (Forgetful(), check_detector_save_load, "at least one file"),
    (Unseeded(), check_detector_deterministic, "two fits with the same seed should"),
    (Restarting(), check_detector_resumes_after_interruption, "context.last_checkpoint"),
    (Unpicklable(), check_detector_pickles, "should pickle"),
    (Transposed(), check_detector_finds_trained_disks, "x = column"),
    (PlateauPeaks(), check_detector_constant_images, "constant image holds no blob"),
], ids=lambda v: getattr(v, "name", None) and type(v).__name__)
def test_broken_detectors_are_caught(detector, check, message):
    with pytest.raises(AssertionError, match=message):
        check(detector)


class Checkpointless(LevelDetector):
    """Learns its level in one pass and saves no checkpoint: it has nothing to resume."""

    def fit(self, train, validation, context):
        self.level_ = 0.75 * float(np.median([image.pixels[round(t.y), round(t.x)]
                                              for image in train for t in image.annotation.targets]))
        return self


def test_a_detector_that_saves_no_checkpoint_skips_the_resume_check():
    with pytest.raises(pytest.skip.Exception, match=r"level's fit\(\) saves no checkpoint"):
        check_detector_resumes_after_interruption(Checkpointless())
    assert list(check_component(Checkpointless())) == ["check_detector_resumes_after_interruption"]


class Counted(LevelDetector):
    """Counts the fits started, per configuration (number of epochs)."""

    fits: ClassVar[Counter[int]] = Counter()

    def fit(self, train, validation, context):
        Counted.fits[self.config.epochs] += 1
        return super().fit(train, validation, context)


def test_the_detector_checks_share_one_fit_per_configuration():
    check_component(Counted(epochs=2))
    check_component(Counted(epochs=3))
    # per configuration: the shared fit, one more by the determinism check, two (cut, resumed) by the resume check
    assert Counted.fits == {2: 4, 3: 4}


class ThreadsSeen(LevelDetector):
    """Records the threads torch and the native thread pools may use while it fits."""

    seen: ClassVar[list[tuple[int, set[int]]]] = []

    def fit(self, train, validation, context):
        import torch
        from threadpoolctl import threadpool_info

        ThreadsSeen.seen.append((torch.get_num_threads(), {pool["num_threads"] for pool in threadpool_info()}))
        return super().fit(train, validation, context)


def test_a_check_runs_on_one_thread_and_restores_the_setting():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        check_detector_output_after_fit(ThreadsSeen())
        assert ThreadsSeen.seen == [(1, {1})]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


class Shifted(LevelDetector):
    """Detections ``shift`` px right of the peaks (kept in the image): how far off the kit still credits."""

    shift: ClassVar[float] = 0.0

    def detect(self, image, mask=None):
        out = super().detect(image, mask)
        return Detections.from_columns(np.minimum(out.x + self.shift, image.shape[1] - 1), out.y, out.radius, out.score)


class FiveRight(Shifted):
    shift = 5.0


class NineRight(Shifted):
    shift = 9.0


def test_trained_disks_count_as_found_within_the_study_s_crediting_distance():
    assert FOUND_WITHIN_PX == STUDY_DIAMETER_PX / 2 == 7
    check_detector_finds_trained_disks(FiveRight())
    with pytest.raises(AssertionError, match=r"within 7 px \(the study's crediting distance\).*found [0-2] of 6"):
        check_detector_finds_trained_disks(NineRight())


class ThresholdedMaxima(Proposer):
    """Local maxima (5x5) inside the mask above a threshold: a fraction of the image maximum, or the median."""

    name = "thresholded-maxima"
    description = "Local maxima above a global threshold."

    class Config(ComponentConfig):
        relative_to_max: bool = Field(False, description="Threshold at half the maximum, not at the median.")

    def propose(self, image, mask=None):
        mask = np.ones(image.shape, bool) if mask is None else mask
        inside = image[mask]
        threshold = 0.5 * inside.max() if self.config.relative_to_max else np.median(inside)
        h, w = image.shape
        padded = np.pad(image, 2, mode="edge")
        rows = np.max([padded[i:i + h] for i in range(5)], axis=0)
        peak = np.max([rows[:, j:j + w] for j in range(5)], axis=0)
        y, x = np.nonzero((image == peak) & (image > threshold) & mask)
        return Candidates.from_columns(x.astype(float), y.astype(float), np.full(len(x), 2.0), image[y, x])


def test_a_threshold_relative_to_the_image_maximum_is_caught():
    with pytest.raises(AssertionError, match=r"thresholded-maxima \{'relative_to_max': True\}.*with the clip"):
        check_proposer_survives_bright_object(ThresholdedMaxima(relative_to_max=True))
    check_proposer_survives_bright_object(ThresholdedMaxima())
