"""The contract's edition: declared by every plugin, checked at registration, with what to change when it differs."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

from calcdet_core.api import CONTRACT_EDITION
from calcdet_core.plugins.registry import FIRST_PARTY, build_registry, canonical_distribution
from tests.fake_dists import write_dist

ROOT = Path(__file__).resolve().parents[1]

FIRST_EDITION = """
    from calcdet_core.api import Detections, Detector, hookimpl

    class OldPeaks(Detector):
        name = "old-peaks"

        def fit(self, train, validation=()):
            return self

        def detect(self, image, mask=None):
            return Detections.empty()

    @hookimpl
    def calcdet_register_detectors():
        return [OldPeaks]
"""


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def errors_of(dist: str) -> list[str]:
    return [e.error for e in build_registry().errors() if e.distribution == dist]


def test_a_plugin_that_declares_no_edition_is_an_error_row_pointing_to_the_migration_guide(fake_site):
    write_dist(fake_site, "old-dist", "old_calcdet_mod", FIRST_EDITION)
    (error,) = errors_of("old-dist")
    assert "declares no contract edition" in error and "docs/migrating.md" in error
    assert f"calcdet_contract = {CONTRACT_EDITION}" in error


def test_an_edition_1_signature_declared_as_edition_2_is_refused_naming_the_method(fake_site):
    write_dist(fake_site, "half-ported-dist", "half_calcdet_mod",
               FIRST_EDITION.replace("from calcdet_core.api", f"calcdet_contract = {CONTRACT_EDITION}\n    from "
                                                              "calcdet_core.api"))
    (error,) = errors_of("half-ported-dist")
    assert "OldPeaks fit(self, train, validation=())" in error
    assert "cannot be called as fit(train, validation, context)" in error and "docs/migrating.md" in error
    registry = build_registry()
    assert "old-peaks" not in registry.components("detectors"), "never loaded, so never a TypeError mid-run"


def test_renamed_methods_are_named_with_their_new_names(fake_site):
    write_dist(fake_site, "renamed-dist", "renamed_calcdet_mod", f"""
        calcdet_contract = {CONTRACT_EDITION}
        from calcdet_core.api import Candidates, Proposer, hookimpl

        class Saver(Proposer):
            name = "saver"

            def propose(self, image, mask=None):
                return Candidates.empty()

            def save(self, directory):
                return []

        @hookimpl
        def calcdet_register_proposers():
            return [Saver]
    """)
    (error,) = errors_of("renamed-dist")
    assert "save() is edition 1's; edition 2 calls save_state(directory)" in error


def test_a_newer_edition_asks_for_a_newer_calcdet(fake_site):
    write_dist(fake_site, "future-dist", "future_calcdet_mod", f"calcdet_contract = {CONTRACT_EDITION + 1}\n")
    (error,) = errors_of("future-dist")
    assert f"follows contract edition {CONTRACT_EDITION + 1}" in error and "upgrade calcdet" in error


def test_list_plugins_strict_fails_on_an_edition_error(fake_site):
    write_dist(fake_site, "old-dist", "old_calcdet_mod", FIRST_EDITION)
    run = subprocess.run([sys.executable, "-m", "calcdet_core", "list-plugins", "--strict", "--json"],
                         capture_output=True, text=True, env={"PYTHONPATH": str(fake_site), "PATH": ""}, timeout=120)
    assert run.returncode == 1
    (row,) = [r for r in json.loads(run.stdout) if r["distribution"] == "old-dist"]
    assert "declares no contract edition" in row["error"]


def test_a_first_edition_import_warns_once_with_the_new_import():
    import calcdet_core

    calcdet_core._warned.discard("Candidates")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from calcdet_core import Candidates  # noqa: F401
        from calcdet_core import Candidates as Again  # noqa: F401
    messages = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert messages == ["'from calcdet_core import Candidates' is the first edition's import; write "
                        "'from calcdet_core.api import Candidates' (docs/migrating.md)"]


def test_every_distribution_under_plugins_is_first_party_and_declares_the_edition():
    names = {canonical_distribution(tomllib.loads(p.read_text())["project"]["name"])
             for p in ROOT.glob("plugins/*/*/pyproject.toml")}
    assert names == FIRST_PARTY
    registry = build_registry()
    assert not [e.error for e in registry.errors() if canonical_distribution(e.distribution) in FIRST_PARTY]
    assert {canonical_distribution(s.distribution) for _, s in registry.plugins} >= FIRST_PARTY


CAPABILITIES = f"""
    calcdet_contract = {CONTRACT_EDITION}
    import numpy as np
    from pydantic import Field
    from calcdet_core.api import ComponentConfig, Detections, Detector, Evaluator, FeatureExtractor, hookimpl

    class SideConfig(ComponentConfig):
        side: int = Field(9, ge=3, le=64)

    class Learner(FeatureExtractor):
        name = "learner"
        trainable = True
        Config = SideConfig

        def feature_names(self):
            return ["mean"]

        def extract(self, image, candidates):
            return np.zeros((len(candidates), 1))

    class Drawer(Evaluator):
        name = "drawer"
        seed_setting = "seed"

        def metrics(self, computed):
            return {{}}

    class TrainsInBatches(Detector):
        name = "trains-in-batches"

        class Config(ComponentConfig):
            batch_size: int = Field(64, ge=1, le=512, description="Training images per step.")

        def fit(self, train, validation, context):
            return self

        def detect(self, image, mask=None):
            return Detections.empty()

    @hookimpl
    def calcdet_register_features():
        return [Learner]

    @hookimpl
    def calcdet_register_evaluators():
        return [Drawer]

    @hookimpl
    def calcdet_register_detectors():
        return [TrainsInBatches]
"""


def test_capabilities_are_declared_so_a_renamed_setting_never_falls_back_silently(fake_site):
    write_dist(fake_site, "capable-dist", "capable_calcdet_mod", CAPABILITIES)
    registry = build_registry()
    errors = {e.name: e.error for e in registry.errors() if e.distribution == "capable-dist"}
    assert "declares no patch size" in errors["learner"], "no silent 14 px patch for a setting named 'side'"
    assert "seed_setting names 'seed', which its Config does not have" in errors["drawer"]
    detector = registry.get("detectors", "trains-in-batches")()
    assert detector.batch_size == 1, "a training batch_size is never taken for the detection batch"
