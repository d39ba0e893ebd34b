"""Conformance kit: checks that a component honours its kind's contract.

Use it from a plugin's own tests, in the spirit of scikit-learn's
``parametrize_with_checks``::

    from calcdet_core.testing import parametrize_with_checks
    from my_plugin import MyDetector, MyProposer

    @parametrize_with_checks([MyProposer(), MyDetector(epochs=2)])
    def test_conformance(component, check):
        check(component)

Each check is a small function named ``check_<property>``; ``pytest -k`` runs one.
A known, justified failure is waived by the author, not by weakening the check::

    @parametrize_with_checks([MyProposer()], expected_failed_checks={"check_proposer_tiny_image": "why"})

Learning components are fitted before they are used, with a :class:`TrainingContext` on a
temporary folder. Detector checks train a fresh instance on tiny generated images
(:func:`detector_streams`) and then detect; give the kit an instance whose config trains
in seconds. Messages state the rule and the evidence. Dataset adapters need a dataset on
disk: call :func:`check_dataset_adapter` with a root your test prepared. Checks that take
seconds per configuration are not in the default list; call them from your tests, e.g.
:func:`check_proposer_survives_bright_object`.
"""

from __future__ import annotations

import copy
import json
import pickle
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from pydantic import ValidationError

from calcdet_core.contracts.components import (
    Classifier,
    Component,
    DatasetAdapter,
    Detector,
    Evaluator,
    FeatureExtractor,
    Proposer,
)
from calcdet_core.contracts.data import Annotation, Candidates, Detections, ImageResult, Mammogram, Target
from calcdet_core.contracts.training import ImageStream, ProgressTask, Reporter, TrainingContext, TrainingImage

Check = Callable[[Component], None]
C = TypeVar("C", bound=Component)


# --------------------------------------------------------------------------- test images


def textured_background(shape: tuple[int, int], seed: int = 0, beta: float = 3.0, level: float = 0.35,
                        contrast: float = 0.04) -> np.ndarray:
    """Smooth power-law (1/f^beta) texture in [0, 1], like breast parenchyma at small scale."""
    rng = np.random.default_rng(seed)
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (beta / 2)
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=shape)
    field = (field - field.mean()) / (field.std() + 1e-12)
    return np.clip(level + contrast * field, 0, 1).astype(np.float32)


def add_disks(image: np.ndarray, disks: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """Add bright, slightly blurred disks ``(x, y, radius, contrast)`` to a copy of ``image``."""
    out = image.astype(np.float32).copy()
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    for x, y, r, contrast in disks:
        d = np.hypot(xx - x, yy - y)
        out += contrast * np.clip(r + 0.5 - d, 0, 1).astype(np.float32)
    return np.clip(out, 0, 1)


def disk_test_image(size: int = 128, radius: float = 4.0, seed: int = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """A textured image with one bright disk; returns the image and the disk centre (x, y)."""
    centre = (size * 0.55, size * 0.45)
    image = add_disks(textured_background((size, size), seed), [(centre[0], centre[1], radius, 0.35)])
    return image, centre


# --------------------------------------------------------------------------- progress


class RecordingReporter(Reporter):
    """A reporter that keeps every bar opened and every step advanced, to test that a ``fit`` shows its progress.

    Give it to a component through ``TrainingContext(work_dir, reporter=RecordingReporter())``;
    ``bars`` holds ``(description, total, steps)`` per bar in the order opened.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[str, int | None, list[int]]] = []

    def progress(self, description: str, total: int | None = None) -> ProgressTask:
        steps: list[int] = []
        self.bars.append((description, total, steps))
        return _RecordingTask(steps)

    def bar(self, text: str) -> tuple[int | None, int]:
        """``(total, steps done)`` of the one bar whose description contains ``text``."""
        found = [(total, sum(steps)) for description, total, steps in self.bars if text in description]
        if len(found) != 1:
            opened = [description for description, _, _ in self.bars]
            raise AssertionError(f"expected one progress bar containing {text!r}; bars opened: {opened}")
        return found[0]


class _RecordingTask(ProgressTask):
    """The task :class:`RecordingReporter` hands out: appends each ``advance`` to its bar's steps."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = steps

    def advance(self, steps: int = 1, **fields: float) -> None:
        self.steps.append(steps)


# --------------------------------------------------------------------------- generic checks


def _fresh(component: C) -> C:
    """A new, unfitted instance with the same config: checks never share learned state."""
    return type(component)(component.config)


@contextmanager
def _context(seed: int = 0) -> Iterator[TrainingContext]:
    """A training context on a temporary work folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="calcdet-kit-") as tmp:
        yield TrainingContext(Path(tmp), seed=seed)


def check_has_metadata(component: Component) -> None:
    cls = type(component)
    assert isinstance(cls.name, str) and cls.name.strip() == cls.name and cls.name, (
        f"{cls.__qualname__}.name should be a non-empty name without spaces around; found {cls.name!r}")
    assert cls.description.strip(), f"{cls.__qualname__}.description should say in one line what it does"
    assert "\n" not in cls.description.strip(), f"{cls.__qualname__}.description should be one line"


def check_config_defaults_construct(component: Component) -> None:
    cls = type(component)
    try:
        cls()
    except Exception as exc:
        raise AssertionError(f"{cls.__qualname__}() with default parameters should construct; raised {exc!r}") from exc


def check_config_fields_documented(component: Component) -> None:
    missing = [n for n, f in component.Config.model_fields.items() if not (f.description or "").strip()]
    assert not missing, (
        f"every Config field should have a description (shown by `calcdet describe`); missing: {missing}")


def check_config_yaml_round_trip(component: Component) -> None:
    dumped = yaml.safe_dump(component.config.model_dump(mode="json"))
    again = component.Config.model_validate(yaml.safe_load(dumped))
    assert again == component.config, (
        f"Config should survive a YAML round trip; {component.config!r} came back as {again!r}")


def check_config_rejects_unknown_key(component: Component) -> None:
    try:
        component.Config.model_validate({"no_such_parameter_xyz": 1})
    except ValidationError:
        return
    raise AssertionError("Config should reject unknown keys (extra='forbid'), so YAML typos are reported")


# --------------------------------------------------------------------------- proposers


def _propose(component: Proposer, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
    out = _fresh(component).propose(image, mask)
    assert isinstance(out, Candidates), f"propose() should return Candidates; found {type(out).__name__}"
    assert out.xyr.dtype == np.float64 and out.xyr.shape[1:] == (3,), f"xyr should be (N, 3) float64; {out.xyr.shape}"
    assert np.isfinite(out.xyr).all() and np.isfinite(out.score).all(), "candidates should be finite"
    return out


def check_proposer_output_in_bounds(component: Proposer) -> None:
    image, _ = disk_test_image()
    out = _propose(component, image)
    h, w = image.shape
    inside = (out.x >= -0.5) & (out.x <= w - 0.5) & (out.y >= -0.5) & (out.y <= h - 0.5)
    assert inside.all(), f"candidate centres should lie in the image grid; found {out.xyr[~inside][:3].tolist()}"
    assert (out.radius > 0).all(), "candidate radii should be positive"


def check_proposer_finds_bright_disk(component: Proposer) -> None:
    image, (cx, cy) = disk_test_image(radius=4.0)
    out = _propose(component, image)
    d = np.hypot(out.x - cx, out.y - cy) if len(out) else np.array([np.inf])
    assert d.min() <= 3.0, (f"a bright disk of radius 4 at ({cx}, {cy}) should be found at its centre (x = column, "
                            f"y = row); nearest candidate is {d.min():.1f} px away")


def check_proposer_deterministic(component: Proposer) -> None:
    image, _ = disk_test_image(seed=3)
    a, b = _propose(component, image), _propose(component, image)
    assert np.array_equal(a.xyr, b.xyr) and np.array_equal(a.score, b.score), "propose() should be deterministic"


def check_proposer_respects_mask(component: Proposer) -> None:
    image, _ = disk_test_image()
    mask = np.zeros(image.shape, bool)
    mask[:, : image.shape[1] // 3] = True  # the disk is outside
    out = _propose(component, image, mask)
    xi, yi = np.rint(out.x).astype(int), np.rint(out.y).astype(int)
    inside = mask[np.clip(yi, 0, image.shape[0] - 1), np.clip(xi, 0, image.shape[1] - 1)]
    assert inside.all(), f"candidates should lie inside the mask; {int((~inside).sum())} lie outside"


def _empty_or_clear_error(find: Callable[[np.ndarray], Candidates], image: np.ndarray, what: str) -> None:
    """``find(image)`` (a proposer's or a detector's) is empty on a blob-free image, or refuses it with a message."""
    try:
        out = find(image)
    except ValueError as exc:
        assert str(exc), f"a {what} image may be refused, but with a message"
        return
    assert len(out) == 0, f"a {what} image holds no blob; found {len(out)} {type(out).__name__.lower()}"


def check_proposer_constant_image(component: Proposer) -> None:
    _empty_or_clear_error(partial(_propose, component), np.full((96, 96), 0.4, np.float32), "constant")


def check_proposer_zero_image(component: Proposer) -> None:
    _empty_or_clear_error(partial(_propose, component), np.zeros((96, 96), np.float32), "all-zero")


def check_proposer_tiny_image(component: Proposer) -> None:
    try:
        _propose(component, textured_background((16, 16)))
    except ValueError as exc:
        assert str(exc), "a tiny image may be refused, but with a message"


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


def bright_object_scene(seed: int, size: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clean image, the same with a clip, breast mask, and the MC centres (24 disks, radius 1.5-3 px).

    The tissue tops out near 0.33 and the MCs near 0.45; the clip is a saturated 40x15 px rectangle
    (1.0, three times the tissue maximum) inside the breast, 40+ px from every MC. Copies of a cached
    scene: each takes most of a second to draw, and every configuration checked reuses them.
    """
    clean, bright, mask, centres = _bright_object_scene(seed, size)
    return clean.copy(), bright.copy(), mask.copy(), centres.copy()


@lru_cache(maxsize=8)
def _bright_object_scene(seed: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _share_found(found: Candidates, centres: np.ndarray) -> float:
    """Fraction of MC centres with a candidate within 7 px (the study's 14 px rule)."""
    if len(found) == 0:
        return 0.0
    return float((np.hypot(found.x[:, None] - centres[:, 0], found.y[:, None] - centres[:, 1]).min(0) <= 7).mean())


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
        f"MCs found within 7 px; found {clean:.3f}")
    assert bright >= clean - tolerance, (
        f"{who}: a clip three times brighter than the tissue should cost at most {tolerance:.2f} of the MCs found "
        f"elsewhere (a threshold relative to the image maximum collapses); sensitivity {clean:.3f} clean, "
        f"{bright:.3f} with the clip (seeds {tuple(seeds)})")


# --------------------------------------------------------------------------- feature extractors


def _grid_candidates(image: np.ndarray, n: int = 12, seed: int = 0) -> Candidates:
    rng = np.random.default_rng(seed)
    h, w = image.shape
    x = np.concatenate([[0, w - 1, 1], rng.uniform(0, w - 1, n - 3)])  # border ones included
    y = np.concatenate([[0, h - 1, h // 2], rng.uniform(0, h - 1, n - 3)])
    score = rng.uniform(0.1, 1.0, n)  # positive and varied, as a proposer scores them
    return Candidates.from_columns(np.rint(x), np.rint(y), np.full(n, 3.0), score)


def _fitted(component: FeatureExtractor) -> FeatureExtractor:
    fresh = _fresh(component)
    if fresh.trainable:
        rng = np.random.default_rng(0)
        p = fresh.patch_size
        patches = rng.random((40, p, p)).astype(np.float32)
        labels = np.tile([0, 1], 20)
        patches[labels == 1, p // 2 - 2 : p // 2 + 2, p // 2 - 2 : p // 2 + 2] += 1.0
        with _context() as context:
            fresh.fit(patches, labels, np.arange(40) % 5, context=context)
    return fresh


def _extract(component: FeatureExtractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    fitted = _fitted(component)
    out = fitted.extract(image, candidates)
    names = fitted.feature_names()
    assert isinstance(out, np.ndarray), f"extract() should return a numpy array; found {type(out).__name__}"
    assert out.shape == (len(candidates), len(names)), (
        f"extract() should return (N candidates, F names) = {(len(candidates), len(names))}; found {out.shape}")
    assert out.dtype == np.float64, f"features should be float64; found {out.dtype}"
    return out


def check_features_names_unique(component: FeatureExtractor) -> None:
    names = _fitted(component).feature_names()
    assert names and all(isinstance(n, str) and n for n in names), "feature_names() should be non-empty strings"
    assert len(set(names)) == len(names), "feature names should be unique"


def check_features_shape_and_finite(component: FeatureExtractor) -> None:
    image, _ = disk_test_image()
    out = _extract(component, image, _grid_candidates(image))
    assert np.isfinite(out).all(), "features should be finite, border candidates included (pad, don't drop)"


def check_features_flat_image_finite(component: FeatureExtractor) -> None:
    image = np.full((64, 64), 0.3, np.float32)
    out = _extract(component, image, _grid_candidates(image))
    bad = [n for n, ok in zip(_fitted(component).feature_names(), np.isfinite(out).all(0), strict=True) if not ok]
    assert not bad, f"features on a flat patch should be finite; not finite: {bad[:5]}"


def check_features_no_candidates(component: FeatureExtractor) -> None:
    image, _ = disk_test_image()
    _extract(component, image, Candidates.empty())


def check_features_deterministic(component: FeatureExtractor) -> None:
    image, _ = disk_test_image(seed=5)
    cands = _grid_candidates(image)
    assert np.array_equal(_extract(component, image, cands), _extract(component, image, cands)), (
        "extract() should be deterministic")


def check_features_order_independent(component: FeatureExtractor) -> None:
    image, _ = disk_test_image(seed=6)
    cands = _grid_candidates(image)
    full = _extract(component, image, cands)
    order = np.arange(len(cands))[::-1]
    part = _extract(component, image, cands.subset(order))
    np.testing.assert_allclose(part, full[order], rtol=1e-6, atol=1e-9,
                               err_msg="a candidate's features should not depend on the order of the candidates")


def check_features_save_load(component: FeatureExtractor) -> None:
    fitted = _fitted(component)
    with tempfile.TemporaryDirectory() as tmp:
        files = fitted.save_state(Path(tmp))
        assert all(f.suffix not in (".pkl", ".pickle", ".joblib") for f in files), "never persist with pickle"
        again = _fresh(component)
        again.load_state(Path(tmp))
    image, _ = disk_test_image(seed=7)
    cands = _grid_candidates(image)
    np.testing.assert_array_equal(again.extract(image, cands), fitted.extract(image, cands),
                                  err_msg="features after save/load should equal those before")


# --------------------------------------------------------------------------- classifiers


def _toy_problem(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    X = rng.normal(size=(n, 6)) + y[:, None] * 1.5
    return X, y, np.arange(n) % 10


def _fit_classifier(component: Classifier) -> Classifier:
    X, y, groups = _toy_problem()
    Xv, yv, _ = _toy_problem(seed=1, n=150)
    with _context() as context:
        fitted = _fresh(component).fit(X, y, groups, validation=(Xv, yv), context=context)
    assert isinstance(fitted, Classifier), "fit() should return self"
    return fitted


def check_classifier_scores_rank(component: Classifier) -> None:
    fitted = _fit_classifier(component)
    X, y, _ = _toy_problem(seed=2, n=200)
    s = fitted.score(X)
    assert isinstance(s, np.ndarray) and s.shape == (len(X),) and s.dtype == np.float64, (
        f"score() should return (N,) float64; found {getattr(s, 'shape', None)} {getattr(s, 'dtype', None)}")
    assert np.isfinite(s).all(), "scores should be finite"
    assert s[y == 1].mean() > s[y == 0].mean(), "on a separable toy problem positives should score higher"


def check_classifier_deterministic(component: Classifier) -> None:
    X, _, _ = _toy_problem(seed=2)
    np.testing.assert_array_equal(_fit_classifier(component).score(X), _fit_classifier(component).score(X),
                                  err_msg="fit() then score() should be deterministic for the config's seed")


def check_classifier_save_load(component: Classifier) -> None:
    fitted = _fit_classifier(component)
    X, _, _ = _toy_problem(seed=4)
    with tempfile.TemporaryDirectory() as tmp:
        files = fitted.save_state(Path(tmp))
        assert files, "a trained classifier should write at least one file"
        assert all(f.suffix not in (".pkl", ".pickle", ".joblib") for f in files), "never persist with pickle"
        again = _fresh(component)
        again.load_state(Path(tmp))
        np.testing.assert_allclose(again.score(X), fitted.score(X), err_msg="scores should survive save/load")


def check_classifier_empty_features(component: Classifier) -> None:
    fitted = _fit_classifier(component)
    out = fitted.score(np.zeros((0, 6)))
    assert out.shape == (0,), f"scoring no candidates should give an empty array; found {out.shape}"


# --------------------------------------------------------------------------- detectors

DETECTOR_IMAGE_SIZE = 80
"""Side of the kit's detector images: tiny, so a fit takes seconds; a real detector pads or tiles them."""


def breast_like_mask(shape: tuple[int, int]) -> np.ndarray:
    """A half-ellipse against the left edge, like a breast on the working grid (chest wall left)."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    return (xx / (0.8 * w)) ** 2 + ((yy - (h - 1) / 2) / (0.55 * h)) ** 2 <= 1.0


def detector_test_image(seed: int, n_disks: int = 3, size: int = DETECTOR_IMAGE_SIZE,
                        image_id: str | None = None) -> TrainingImage:
    """A textured image with ``n_disks`` bright disks (radius 2-3.5 px, 16+ px apart) inside a breast-like mask."""
    rng = np.random.default_rng([seed, 7])
    mask = breast_like_mask((size, size))
    allowed = _eroded(mask, 6)
    allowed[:6], allowed[-6:], allowed[:, :6] = False, False, False
    ys, xs = np.nonzero(allowed)
    disks: list[tuple[float, float, float, float]] = []
    for i in rng.permutation(len(xs)):
        if len(disks) == n_disks:
            break
        x, y = float(xs[i]), float(ys[i])
        if all(np.hypot(x - dx, y - dy) >= 16 for dx, dy, _, _ in disks):
            disks.append((x, y, float(rng.uniform(2.0, 3.5)), 0.3))
    pixels = add_disks(textured_background((size, size), seed=seed), disks)
    targets = tuple(Target(x, y, 2 * r) for x, y, r, _ in disks)
    image_id = image_id or f"kit-{seed}"
    return TrainingImage(image_id, f"patient-{image_id}", pixels, mask, Annotation(targets=targets), (0.07, 0.07))


def _eroded(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        out[1:-1, 1:-1] &= out[:-2, 1:-1] & out[2:, 1:-1] & out[1:-1, :-2] & out[1:-1, 2:]
        out[[0, -1]], out[:, [0, -1]] = False, False
    return out


def write_detector_dataset(root: Path, images: int = 12, size: int = 112) -> dict[str, list[tuple[float, float]]]:
    """A `folder`-adapter dataset of DICOMs for a detector's command-line test; returns each image's MC centres.

    Each image is a :func:`detector_test_image` breast beside a black strip, three MCs each; every
    second one is a right breast stored mirrored, so `calcdet train`/`detect` crop and flip it and the
    test checks the detections come back in the stored grid.
    """
    from calcdet_core.io.dicom import write_dicom

    rows = ["image,x,y,diameter,patient"]
    truth = {}
    for i in range(images):
        left = i % 2 == 0
        image = detector_test_image(seed=200 + i, size=size)
        pixels = image.pixels if left else image.pixels[:, ::-1]
        stored = (np.clip(pixels, 0, 1) * 12000 + 500).astype(np.uint16)
        stored[~(image.mask if left else image.mask[:, ::-1])] = 0
        name = f"case{i:02d}_{'L' if left else 'R'}_CC"
        write_dicom(Path(root) / f"{name}.dcm", stored, laterality="L" if left else "R", view="CC", patient_id=f"p{i}")
        targets = image.annotation.targets
        truth[name] = [(t.x if left else size - 1 - t.x, t.y) for t in targets]
        rows += [f"{name},{x},{y},{t.diameter},p{i}" for (x, y), t in zip(truth[name], targets, strict=True)]
    (Path(root) / "annotations.csv").write_text("\n".join(rows) + "\n")
    return truth


def detector_streams() -> tuple[ImageStream, ImageStream]:
    """The kit's training data: five images (one normal) to train on, two to validate on."""
    train = [detector_test_image(seed, n_disks=0 if seed == 4 else 3) for seed in range(5)]
    validation = [detector_test_image(seed) for seed in (10, 11)]
    return ImageStream.from_images(train), ImageStream.from_images(validation)


class _Interrupted(Exception):
    """Raised by the kit's context after a checkpoint, as a killed ``calcdet train`` stops."""


@dataclass
class _KitContext(TrainingContext):
    """A training context that records the epochs checkpointed, and can stop the fit after the first one."""

    interrupt: bool = False
    saved: list[int] = field(default_factory=list)

    def save_checkpoint(self, epoch: int, arrays: dict[str, np.ndarray], state: dict[str, Any] | None = None) -> Path:
        path = super().save_checkpoint(epoch, arrays, state)
        self.saved.append(epoch)
        if self.interrupt:
            raise _Interrupted(epoch)
        return path


def _fit_detector(component: Detector, work_dir: Path, seed: int = 0, interrupt: bool = False) -> Detector:
    train, validation = detector_streams()
    context = _KitContext(work_dir, seed=seed, interrupt=interrupt)
    fitted = _fresh(component).fit(train, validation, context)
    assert isinstance(fitted, Detector), f"fit() should return self; found {type(fitted).__name__}"
    return fitted


def _trained(component: Detector, seed: int = 0) -> Detector:
    with tempfile.TemporaryDirectory() as tmp:
        return _fit_detector(component, Path(tmp), seed)


def _detect(detector: Detector, image: np.ndarray, mask: np.ndarray | None = None) -> Detections:
    out = detector.detect(image, mask)
    _check_detections(out, image.shape)
    return out


def _check_detections(out: object, shape: tuple[int, ...]) -> None:
    assert isinstance(out, Detections), f"detect() should return Detections; found {type(out).__name__}"
    assert out.xyr.dtype == np.float64 and out.xyr.shape[1:] == (3,), f"xyr should be (N, 3) float64; {out.xyr.shape}"
    assert out.score.dtype == np.float64 and out.score.shape == (len(out),), "score should be (N,) float64"
    assert np.isfinite(out.xyr).all() and np.isfinite(out.score).all(), "detections should be finite"
    h, w = shape
    inside = (out.x >= -0.5) & (out.x <= w - 0.5) & (out.y >= -0.5) & (out.y <= h - 0.5)
    assert inside.all(), (
        f"detection centres should lie in the {w}x{h} image grid; found {out.xyr[~inside][:3].tolist()}")
    assert (out.radius > 0).all(), f"detection radii should be positive; found {out.radius[out.radius <= 0][:3]}"
    if out.boxes is not None:
        b = out.boxes
        assert np.isfinite(b).all(), "boxes should be finite"
        in_grid = (b[:, 0] >= -0.5) & (b[:, 1] >= -0.5) & (b[:, 2] <= w - 0.5) & (b[:, 3] <= h - 0.5)
        assert in_grid.all(), f"boxes should lie in the {w}x{h} image grid; found {b[~in_grid][:3].tolist()}"
        holds = (b[:, 0] <= out.x) & (out.x <= b[:, 2]) & (b[:, 1] <= out.y) & (out.y <= b[:, 3])
        assert holds.all(), f"each box should hold its detection's centre; {int((~holds).sum())} do not"


def _same_detections(a: Detections, b: Detections, rule: str) -> None:
    assert len(a) == len(b), f"{rule}; found {len(a)} detections, then {len(b)}"
    np.testing.assert_allclose(b.xyr, a.xyr, rtol=1e-6, atol=1e-6, err_msg=rule)
    np.testing.assert_allclose(b.score, a.score, rtol=1e-5, atol=1e-7, err_msg=rule)
    assert (a.boxes is None) == (b.boxes is None), f"{rule}; boxes present in one result only"
    if a.boxes is not None and b.boxes is not None:
        np.testing.assert_allclose(b.boxes, a.boxes, rtol=1e-6, atol=1e-6, err_msg=rule)


def check_detector_output_after_fit(component: Detector) -> None:
    detector = _trained(component)
    detector.to_device("cpu")
    for seed in (20, 21):
        image = detector_test_image(seed)
        _detect(detector, image.pixels, image.mask)
        _detect(detector, image.pixels)


def check_detector_finds_trained_disks(component: Detector) -> None:
    detector = _trained(component)
    found = total = 0
    for seed in (30, 31):
        image = detector_test_image(seed)
        out = _detect(detector, image.pixels, image.mask)
        targets = image.annotation.targets
        top = out.subset(np.argsort(-out.score, kind="stable")[: 2 * len(targets)])
        for t in targets:
            total += 1
            found += bool(len(top)) and bool(np.hypot(top.x - t.x, top.y - t.y).min() <= 3.0)
    assert found * 2 >= total, (
        f"trained on bright disks, detect() should place one of its 2N best detections within 3 px of at least "
        f"half of N unseen disks (x = column, y = row); found {found} of {total}")


def check_detector_save_load(component: Detector) -> None:
    detector = _trained(component)
    image = detector_test_image(40)
    before = _detect(detector, image.pixels, image.mask)
    with tempfile.TemporaryDirectory() as tmp:
        files = detector.save_state(Path(tmp))
        if detector.trainable:
            assert files, "a trained detector's save_state() should write at least one file (what it learned)"
        for f in files:
            assert Path(f).is_file() and Path(tmp) in Path(f).parents, f"save_state() returned {f}, not a file in it"
            assert Path(f).suffix not in (".pkl", ".pickle", ".joblib", ".pt", ".pth"), (
                f"never persist with pickle (torch.save pickles too): use safetensors; found {Path(f).name}")
        again = _fresh(component)
        again.load_state(Path(tmp))
    _same_detections(before, _detect(again, image.pixels, image.mask),
                     "a fresh instance that loaded the saved state should give the same detections")


def check_detector_pickles(component: Detector) -> None:
    detector = _trained(component)
    image = detector_test_image(41)
    try:
        moved = pickle.loads(pickle.dumps(detector))  # how --workers N ships a pipeline to its worker processes
    except Exception as exc:
        raise AssertionError(f"a trained detector should pickle (worker processes receive it so), or hand over its "
                             f"state with __getstate__; pickling raised {exc!r}") from exc
    _same_detections(_detect(detector, image.pixels, image.mask), _detect(moved, image.pixels, image.mask),
                     "a trained detector should survive pickling (worker processes receive it so) unchanged")


def check_detector_deterministic(component: Detector) -> None:
    image = detector_test_image(42)
    first, second = _trained(component, seed=3), _trained(component, seed=3)
    _same_detections(_detect(first, image.pixels, image.mask), _detect(second, image.pixels, image.mask),
                     "two fits with the same seed should give the same detections (seed every random source)")
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        a.mkdir()
        b.mkdir()
        files_a = {Path(f).name: Path(f).read_bytes() for f in first.save_state(a)}
        files_b = {Path(f).name: Path(f).read_bytes() for f in second.save_state(b)}
    differ = sorted(n for n in files_a.keys() | files_b.keys() if files_a.get(n) != files_b.get(n))
    assert not differ, f"two fits with the same seed should learn the same state (on the CPU); differ: {differ}"


def check_detector_resumes_after_interruption(component: Detector) -> None:
    image = detector_test_image(43)
    with tempfile.TemporaryDirectory() as tmp:
        whole = _fit_detector(component, Path(tmp) / "whole", seed=4)
        try:
            _fit_detector(component, Path(tmp) / "cut", seed=4, interrupt=True)
        except _Interrupted as stop:
            stopped_at = stop.args[0]
        else:
            return  # fit saves no checkpoint: nothing to resume
        context = _KitContext(Path(tmp) / "cut", seed=4)
        train, validation = detector_streams()
        resumed = _fresh(component).fit(train, validation, context)
    assert all(e > stopped_at for e in context.saved), (
        f"after an interruption at epoch {stopped_at}, fit() should start from context.last_checkpoint(); "
        f"it checkpointed epochs {context.saved} again")
    _same_detections(_detect(whole, image.pixels, image.mask), _detect(resumed, image.pixels, image.mask),
                     "a fit resumed from its checkpoint should end as the uninterrupted fit with the same seed")


def check_detector_respects_mask(component: Detector) -> None:
    detector = _trained(component)
    image = detector_test_image(44)
    mask = np.zeros(image.pixels.shape, bool)
    mask[:, : image.pixels.shape[1] // 3] = True  # some disks lie outside
    out = _detect(detector, image.pixels, mask)
    xi, yi = np.rint(out.x).astype(int), np.rint(out.y).astype(int)
    h, w = mask.shape
    inside = mask[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
    assert inside.all(), f"detections should lie inside the mask; {int((~inside).sum())} lie outside"


def check_detector_batch_matches_detect(component: Detector) -> None:
    detector = _trained(component)
    images = [detector_test_image(seed) for seed in (45, 46, 47)]
    masks = [images[0].mask, None, images[2].mask]
    batched = detector.detect_batch([i.pixels for i in images], masks)
    assert len(batched) == len(images), f"detect_batch() should return one result per image; found {len(batched)}"
    for image, mask, out in zip(images, masks, batched, strict=True):
        _check_detections(out, image.pixels.shape)
        _same_detections(_detect(detector, image.pixels, mask), out,
                         "detect_batch() should give each image the detections detect() gives it")


def check_detector_constant_images(component: Detector) -> None:
    detector = _trained(component)
    _empty_or_clear_error(partial(_detect, detector), np.full((64, 64), 0.4, np.float32), "constant")
    _empty_or_clear_error(partial(_detect, detector), np.zeros((64, 64), np.float32), "all-zero")


def check_detector_tiny_image(component: Detector) -> None:
    detector = _trained(component)
    for size in (1, 8, 16):
        try:
            _detect(detector, textured_background((size, size), seed=size))
        except ValueError as exc:
            assert str(exc), f"a {size}x{size} image may be refused, but with a message"


# --------------------------------------------------------------------------- evaluators


def _toy_results() -> list[ImageResult]:
    target = Annotation(targets=(Target(20.0, 30.0, 4.0),))
    hit = Candidates.from_columns([21.0, 80.0], [30.0, 80.0], [3.0, 3.0], [0.9, 0.2], "a")
    fp = Candidates.from_columns([50.0], [50.0], [3.0], [0.5], "b")
    return [ImageResult("a", hit, target), ImageResult("b", fp, Annotation()),
            ImageResult("c", Candidates.empty("c"), Annotation())]


def check_evaluator_json_metrics(component: Evaluator) -> None:
    metrics = _fresh(component).evaluate(_toy_results())
    assert isinstance(metrics, dict), "evaluate() should return a dict"
    json.dumps(metrics, allow_nan=False)


def check_evaluator_no_detections(component: Evaluator) -> None:
    empty = [ImageResult(r.image_id, Candidates.empty(r.image_id), r.annotation) for r in _toy_results()]
    json.dumps(_fresh(component).evaluate(empty), allow_nan=False)


def check_evaluator_does_not_mutate(component: Evaluator) -> None:
    results = _toy_results()
    before = copy.deepcopy([(r.detections.xyr, r.detections.score) for r in results])
    _fresh(component).evaluate(results)
    for (xyr, score), r in zip(before, results, strict=True):
        assert np.array_equal(xyr, r.detections.xyr) and np.array_equal(score, r.detections.score), (
            "evaluate() should not modify its input")


# --------------------------------------------------------------------------- datasets


def check_dataset_adapter(adapter: DatasetAdapter, root: Path, seed: int = 0) -> None:
    """Check an adapter against a dataset root prepared by the caller's test."""
    dataset = adapter.index(Path(root))
    ids = [r.image_id for r in dataset.records]
    assert len(ids) == len(set(ids)), "image ids should be unique"
    for record in dataset.records[:5]:
        image = record.read()
        assert isinstance(image, Mammogram) and image.pixels.ndim == 2, "load() should give a 2-D Mammogram"
        h, w = image.pixels.shape
        for t in record.annotation.targets:
            assert -0.5 <= t.x <= w - 0.5 and -0.5 <= t.y <= h - 0.5, (
                f"{record.image_id}: target ({t.x}, {t.y}) lies outside the {w}x{h} image")
    splits = dataset.split(seed)
    patients = [{r.patient_id for r in recs} for recs in splits.values()]
    for i in range(len(patients)):
        for j in range(i + 1, len(patients)):
            assert not patients[i] & patients[j], "splits should be patient-disjoint"
    assert sum(len(v) for v in splits.values()) == len(dataset.records), "splits should cover every image"
    again = adapter.index(Path(root)).split(seed)
    assert {k: [r.image_id for r in v] for k, v in again.items()} == {
        k: [r.image_id for r in v] for k, v in splits.items()}, "splits should be deterministic for a seed"


# --------------------------------------------------------------------------- selection


_GENERIC: list[Check] = [check_has_metadata, check_config_defaults_construct, check_config_fields_documented,
                         check_config_yaml_round_trip, check_config_rejects_unknown_key]
_BY_KIND: dict[type[Component], list[Callable[[Any], None]]] = {
    Proposer: [check_proposer_output_in_bounds, check_proposer_finds_bright_disk, check_proposer_deterministic,
               check_proposer_respects_mask, check_proposer_constant_image, check_proposer_zero_image,
               check_proposer_tiny_image, check_proposer_rejects_bad_arrays],
    FeatureExtractor: [check_features_names_unique, check_features_shape_and_finite,
                       check_features_flat_image_finite, check_features_no_candidates, check_features_deterministic,
                       check_features_order_independent, check_features_save_load],
    Classifier: [check_classifier_scores_rank, check_classifier_deterministic, check_classifier_save_load,
                 check_classifier_empty_features],
    Detector: [check_detector_output_after_fit, check_detector_finds_trained_disks, check_detector_save_load,
               check_detector_pickles, check_detector_deterministic, check_detector_resumes_after_interruption,
               check_detector_respects_mask, check_detector_batch_matches_detect, check_detector_constant_images,
               check_detector_tiny_image],
    Evaluator: [check_evaluator_json_metrics, check_evaluator_no_detections, check_evaluator_does_not_mutate],
}


def checks_for(component: Component) -> Iterator[Check]:
    """Every check that applies to ``component``'s kind."""
    yield from _GENERIC
    for base, checks in _BY_KIND.items():
        if isinstance(component, base):
            yield from checks


def _waived(check: Check, reason: str, component: Component) -> None:
    import pytest

    pytest.xfail(f"{check.__name__} waived for {component.name}: {reason}")


def parametrize_with_checks(components: Sequence[Component],
                            expected_failed_checks: dict[str, str] | None = None) -> Any:
    """A ``pytest.mark.parametrize`` over (component, check) pairs, ids ``name-check_x``."""
    import pytest

    waived = expected_failed_checks or {}
    params = []
    for component in components:
        for check in checks_for(component):
            run = partial(_waived, check, waived[check.__name__]) if check.__name__ in waived else check
            params.append(pytest.param(component, run, id=f"{component.name}-{check.__name__}"))
    return pytest.mark.parametrize(("component", "check"), params)


def check_component(component: Component, expected_failed_checks: dict[str, str] | None = None) -> None:
    """Run every applicable check now; raise on the first failure not waived."""
    waived = expected_failed_checks or {}
    for check in checks_for(component):
        if check.__name__ not in waived:
            check(component)
