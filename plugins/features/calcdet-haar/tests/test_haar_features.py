import json

import numpy as np
import pytest
from calcdet_haar import HaarExtractor, bank_size, build_bank
from calcdet_haar.bank import PROTOTYPES, pattern_of
from calcdet_haar.selection import balance
from calcdet_haar.store import FILENAME
from calcdet_haar.tables import flat_tables
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from calcdet_core.api import CalcdetUserError, Candidates, TrainingContext, extract_patches
from calcdet_core.testing import parametrize_with_checks, textured_background


@parametrize_with_checks([HaarExtractor(), HaarExtractor(patch_size=8, n_selected=30, n_estimators=20, cv_folds=3)])
def test_conformance(component, check):
    check(component)


# --------------------------------------------------------------------------- direct, pixel-by-pixel definition


def cell_pixels(prototype: str, x: int, y: int, cw: int, ch: int, i: int, j: int) -> list[tuple[int, int]]:
    """(column, row) pixels of cell (i along w, j along h), built from the geometric definition alone."""
    if prototype.startswith("r45"):
        tx, ty = x + i * cw - j * ch, y + i * cw + j * ch  # top pixel of the cell
        return [(tx + a - b, ty + a + b + k) for a in range(cw) for b in range(ch) for k in (0, 1)]
    return [(x + i * cw + a, y + j * ch + b) for a in range(cw) for b in range(ch)]


def direct_mask(prototype: str, x: int, y: int, cw: int, ch: int, patch: int) -> np.ndarray | None:
    """Pixel weights of mean(white) - mean(black), or None when a pixel falls outside the patch."""
    pattern = pattern_of(prototype)
    white, black = np.zeros((patch, patch)), np.zeros((patch, patch))
    for j in range(pattern.shape[0]):
        for i in range(pattern.shape[1]):
            for cx, cy in cell_pixels(prototype, x, y, cw, ch, i, j):
                if not (0 <= cx < patch and 0 <= cy < patch):
                    return None
                (white if pattern[j, i] > 0 else black)[cy, cx] += 1
    assert white.max() == 1 and black.max() == 1 and not (white * black).any(), "cells must not overlap"
    return white / white.sum() - black / black.sum()


def bank_masks(patch: int, rows: np.ndarray | None = None) -> np.ndarray:
    bank = build_bank(patch)
    rows = np.arange(len(bank)) if rows is None else rows
    return np.stack([direct_mask(PROTOTYPES[bank.prototype[r]], *bank.geometry[r, :2], *bank.cells[r], patch)
                     for r in rows])


def test_every_feature_equals_direct_pixel_sums():
    patch = 14
    bank = build_bank(patch)
    patches = np.random.default_rng(1).random((3, patch, patch)).astype(np.float32)
    fast = flat_tables(patches) @ bank.matrix()
    direct = np.einsum("fyx,nyx->nf", bank_masks(patch), patches.astype(np.float64))
    np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-10)


def test_rotated_rectangle_is_lienhart_tilted_rectangle():
    # A 45-degree rectangle of w x h unit diamonds covers 2 w h pixels; here w=2, h=1 from top pixel (3, 0).
    pixels = sorted(cell_pixels("r45edge2h", 3, 0, 2, 1, 0, 0))
    assert pixels == [(3, 0), (3, 1), (4, 1), (4, 2)]
    mask = direct_mask("r45centre", 4, 1, 1, 1, 8)
    assert mask is not None and mask[3, 4] > 0 and mask[4, 4] > 0 and (mask > 0).sum() == 2 and (mask < 0).sum() == 16


def test_bank_is_every_placement_inside_the_patch():
    patch = 7
    bank = build_bank(patch)
    expected = set()
    for k, prototype in enumerate(PROTOTYPES):
        gy, gx = pattern_of(prototype).shape
        for cw in range(1, patch // gx + 1):
            for ch in range(1, patch // gy + 1):
                for x in range(-patch, 2 * patch):
                    for y in range(-patch, 2 * patch):
                        if direct_mask(prototype, x, y, cw, ch, patch) is not None:
                            expected.add((k, x, y, gx * cw, gy * ch))
    found = {(int(p), *map(int, g)) for p, g in zip(bank.prototype, bank.geometry, strict=True)}
    assert found == expected and len(bank) == len(found) == bank_size(patch)


def test_bank_count_for_study_patch():
    bank = build_bank(14)
    assert len(bank) == bank_size(14) == 31_219
    assert int((bank.prototype < 8).sum()) == 24_301  # the study's upright set; rotated: 6,918
    names = bank.names()
    assert len(set(names)) == len(names)
    assert names[0] == "haar_edge2h_0_0_2_1"


def test_flat_patch_gives_zero_features():
    bank = build_bank(14)
    values = flat_tables(np.full((2, 14, 14), 0.37, np.float32)) @ bank.matrix()
    assert np.isfinite(values).all() and np.abs(values).max() < 1e-12


# --------------------------------------------------------------------------- selection


def centre_bright_problem(n: int, seed: int, patch: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise patches; positives have a faint 4x4 bright centre."""
    rng = np.random.default_rng(seed)
    patches = rng.normal(0.4, 0.1, (n, patch, patch)).astype(np.float32)
    labels = (np.arange(n) % 4 == 0).astype(int)
    c = patch // 2
    patches[labels == 1, c - 2 : c + 2, c - 2 : c + 2] += 0.15
    return patches, labels, np.arange(n) % 10


def test_selection_picks_centre_features():
    patches, labels, groups = centre_bright_problem(400, seed=0)
    haar = HaarExtractor(n_selected=20, n_estimators=40, negatives_per_positive=None).fit(patches, labels, groups)
    assert all(a is not None and a > 0.9 for a in haar.selection_.fold_auroc), haar.selection_.fold_auroc
    masks = bank_masks(14, haar.selected_)
    on_blob = np.abs(masks[:, 5:9, 5:9]).sum((1, 2)) / np.abs(masks).sum((1, 2))
    assert (on_blob > 0.15).all(), f"selected features should weigh the bright centre; shares {on_blob.round(2)}"
    fresh, fresh_labels, _ = centre_bright_problem(200, seed=1)
    top = np.einsum("yx,nyx->n", masks[0], fresh)
    assert roc_auc_score(fresh_labels, top) > 0.9, "the top feature alone should separate fresh data"


def test_selection_facts_go_to_the_run_reporter(tmp_path):
    patches, labels, groups = centre_bright_problem(120, seed=3)
    context = TrainingContext(tmp_path)
    haar = HaarExtractor(n_selected=15, n_estimators=10).fit(patches, labels, groups, context=context)
    facts = context.reporter.facts
    assert facts["samples"] == 120 and facts["positives"] == 30 and facts["cases"] == 10
    assert facts["fold_auroc"] == haar.selection_.fold_auroc and len(facts["fold_auroc"]) == 5
    json.dumps(facts, allow_nan=False)


def test_selection_is_reproducible_and_seeded():
    patches, labels, groups = centre_bright_problem(120, seed=2)
    groups = np.array([f"patient-{g}" for g in groups])  # the engine passes patient ids
    kw = {"n_selected": 15, "n_estimators": 10}
    a = HaarExtractor(**kw).fit(patches, labels, groups).selected_
    b = HaarExtractor(**kw).fit(patches, labels, groups).selected_
    c = HaarExtractor(**kw, seed=5).fit(patches, labels, groups).selected_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_balance_keeps_positives_and_ratio():
    labels = np.r_[np.ones(10, int), np.zeros(500, int)]
    rng = np.random.default_rng(0)
    keep = balance(labels, 10.0, 10_000, rng)
    assert labels[keep].sum() == 10 and len(keep) == 110
    capped = balance(labels, None, 51, rng)
    assert len(capped) == 51 and labels[capped].sum() == 1


def test_fit_rejects_bad_training_data():
    patches, labels, groups = centre_bright_problem(40, seed=3)
    haar = HaarExtractor(n_estimators=5)
    with pytest.raises(ValueError, match="patch_size"):
        haar.fit(patches[:, :10, :10], labels, groups)
    with pytest.raises(CalcdetUserError, match="both positive"):
        haar.fit(patches, np.zeros_like(labels), groups)
    with pytest.raises(CalcdetUserError, match="cases or lower cv_folds"):
        haar.fit(patches, labels, groups % 3)
    with pytest.raises(ValueError, match="labels"):
        haar.fit(patches, labels[:-1], groups)


def test_config_is_checked():
    with pytest.raises(ValidationError, match="exceeds"):
        HaarExtractor(patch_size=4, n_selected=1000)
    with pytest.raises(ValidationError, match="n_jobs"):
        HaarExtractor(n_jobs=0)


# --------------------------------------------------------------------------- extraction and persistence


@pytest.fixture(scope="module")
def fitted() -> HaarExtractor:
    patches, labels, groups = centre_bright_problem(200, seed=4)
    return HaarExtractor(n_selected=60, n_estimators=10).fit(patches, labels, groups)


def test_extract_equals_direct_sums_on_image_patches(fitted):
    image = textured_background((90, 120), seed=3)
    rng = np.random.default_rng(0)
    cands = Candidates.from_columns(np.r_[0, 119, rng.integers(0, 120, 30)], np.r_[0, 89, rng.integers(0, 90, 30)],
                                    np.full(32, 3.0), np.zeros(32))
    out = fitted.extract(image, cands)
    patches = extract_patches(image, cands.xyr[:, :2], 14).astype(np.float64)
    direct = np.einsum("fyx,nyx->nf", bank_masks(14, fitted.selected_), patches)
    np.testing.assert_allclose(out, direct, rtol=0, atol=1e-10)
    assert fitted.feature_names() == build_bank(14).names(fitted.selected_)


def test_extract_before_fit_is_a_clear_error():
    image = textured_background((40, 40))
    with pytest.raises(RuntimeError, match=r"haar needs fit\(\).*or load_state\(\)"):
        HaarExtractor().extract(image, Candidates.from_columns([5], [5], [3], [0]))
    with pytest.raises(RuntimeError, match="fit"):
        HaarExtractor().feature_names()


def test_extract_rejects_bad_images(fitted):
    cands = Candidates.from_columns([5], [5], [3], [0])
    with pytest.raises(ValueError, match="2-D"):
        fitted.extract(np.zeros((20, 20, 3), np.float32), cands)
    with pytest.raises(ValueError, match="finite"):
        fitted.extract(np.full((20, 20), np.nan, np.float32), cands)


def test_save_load_round_trip(fitted, tmp_path):
    (path,) = fitted.save_state(tmp_path)
    assert path.name == FILENAME and json.loads(path.read_text())["names"] == fitted.feature_names()
    again = HaarExtractor(n_selected=60)
    again.load_state(tmp_path)
    image = textured_background((60, 60), seed=9)
    cands = Candidates.from_columns([3, 30, 59], [3, 20, 59], [3, 3, 3], [0, 0, 0])
    np.testing.assert_array_equal(again.extract(image, cands), fitted.extract(image, cands))
    assert again.feature_names() == fitted.feature_names()


def _edited(tmp_path, fitted, edit):
    (path,) = fitted.save_state(tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return tmp_path


def test_tampered_or_mismatched_selection_is_refused(fitted, tmp_path):
    def swap_index(d):
        d["selected"][0] = (d["selected"][0] + 1) % d["bank_size"]

    def other_bank(d):
        d["bank_sha256"] = "0" * 64

    cases = {"do not match": swap_index, "different Haar feature bank": other_bank}
    for i, (message, edit) in enumerate(cases.items()):
        folder = _edited(tmp_path / str(i), fitted, edit)
        with pytest.raises(CalcdetUserError, match=message):
            HaarExtractor(n_selected=60).load_state(folder)
    fitted.save_state(tmp_path / "ok")
    with pytest.raises(CalcdetUserError, match="patch_size=12"):
        HaarExtractor(patch_size=12, n_selected=60).load_state(tmp_path / "ok")
    with pytest.raises(CalcdetUserError, match="n_selected=500"):
        HaarExtractor().load_state(tmp_path / "ok")
    with pytest.raises(CalcdetUserError, match=FILENAME):
        HaarExtractor().load_state(tmp_path / "empty")
