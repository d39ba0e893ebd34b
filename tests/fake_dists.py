"""Real (uninstalled) distributions on a temporary sys.path entry, for discovery tests.

importlib.metadata finds a ``*.dist-info`` folder on ``sys.path`` exactly as it finds an
installed package, so these exercise the real entry-point machinery.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_dist(root: Path, dist: str, module: str, source: str, version: str = "1.0") -> None:
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[calcdet]\n{module} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


def trainable_test_env(site: Path) -> dict[str, str]:
    """An environment for ``python -m calcdet_core`` in which the test detector (``tests.trainable_detector``) is an
    installed distribution: its dist-info with the entry point in ``site``, on PYTHONPATH with this repository."""
    info = site / "calcdet_trainable_test-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: calcdet-trainable-test\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[calcdet]\ntrainable-test = tests.trainable_detector\n")
    path = os.pathsep.join(filter(None, [str(site), str(REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, COLUMNS="200")


BROKEN_IMPORT = """
    calcdet_contract = 2
    import no_such_module_for_calcdet_tests  # noqa: F401
"""

CLASHING = """
    calcdet_contract = 2
    import numpy as np
    from calcdet_core.api import Candidates, Proposer, hookimpl

    class Other(Proposer):
        name = "local-contrast"
        description = "Clashes with the example plugin's proposer."

        def propose(self, image, mask=None):
            return Candidates.empty()

    class Fine(Proposer):
        name = "always-centre"
        description = "Proposes the image centre."

        def propose(self, image, mask=None):
            h, w = np.asarray(image).shape
            return Candidates.from_columns([w // 2], [h // 2], [3.0], [1.0])

    @hookimpl
    def calcdet_register_proposers():
        return [Other, Fine]
"""

MISSPELLED_HOOK = """
    calcdet_contract = 2
    from calcdet_core.api import hookimpl

    @hookimpl
    def calcdet_register_proposer():
        return []
"""

WRONG_RETURN = """
    calcdet_contract = 2
    from calcdet_core.api import hookimpl

    class NotAComponent:
        name = "nothing"

    @hookimpl
    def calcdet_register_features():
        return [NotAComponent]
"""

THIRD_PARTY_FROC = """
    calcdet_contract = 2
    from calcdet_core.api import hookimpl
    from calcdet_core.evaluation.evaluators import BUILTIN_EVALUATORS

    (BuiltinFroc,) = [e for e in BUILTIN_EVALUATORS if e.name == "froc"]

    class ThirdPartyFroc(BuiltinFroc):
        description = "A third-party evaluator that reuses the built-in name."

    @hookimpl
    def calcdet_register_evaluators():
        return [ThirdPartyFroc]
"""

RAISING_HOOK = """
    calcdet_contract = 2
    from calcdet_core.api import hookimpl

    @hookimpl
    def calcdet_register_classifiers():
        raise RuntimeError("no licence file")
"""

GM_NAMED_OUTSIDE = """
    calcdet_contract = 2
    from calcdet_core.api import Candidates, Proposer, hookimpl

    class TopHat(Proposer):
        name = "gm"
        description = "An outside top-hat proposer that picked the name calcdet-gm uses."

        def propose(self, image, mask=None):
            return Candidates.empty()

    @hookimpl
    def calcdet_register_proposers():
        return [TopHat]
"""
