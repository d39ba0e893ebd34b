"""AIA-ML learns: on held-out phantoms its trained classifier ranks the candidates far better than its proposer.

The baseline is the pipeline's own proposer alone (the GM candidates ranked by their top-hat contrast); the
trained pipelines rank the very same candidates by their classifier's score. Both are scored with the core's
FROC on the test split, up to 5 false positives per normal image, where a classifier earns its keep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from calcdet_phantom.release import generate_release

import calcdet
from calcdet_core.api import Candidates, ImageResult, build_component, froc_data, froc_point_estimate

SEED = 3
DEMO = {"features[3].params.n_selected": 40, "features[3].params.cv_folds": 2}  # as the end-to-end test
MAX_FPPI = 5.0
FACTOR = 1.5


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """24 phantoms of 512 x 416 px (about 12 of them in the test split, a third of those normal)."""
    return generate_release(tmp_path_factory.mktemp("learning") / "release", 24, seed=SEED, height=512, width=416)


def froc_auc(model: calcdet.Model, release: Path) -> float:
    """FROC AUC to MAX_FPPI of every detection on the test split (the study's matching, all scores)."""
    truth = {r.image_id: r.annotation for r in build_component("datasets", "inbreast").index(release).select("test")}
    found = model.detect_many(dataset="inbreast", root=release, split="test", min_score="all", progress=False)
    assert {d.image_id for d in found} == set(truth)
    results = [ImageResult(d.image_id, Candidates(np.column_stack([d.x, d.y, d.radius]), d.score), truth[d.image_id])
               for d in found]
    return froc_point_estimate(froc_data(results), max_fppi=MAX_FPPI)["auc"]


@pytest.fixture(scope="module")
def proposer_auc(release) -> float:
    demo = calcdet.Pipeline.from_yaml("aia-ml-demo", DEMO).resolved()
    alone = calcdet.Pipeline.from_dict({"name": "gm-alone", "preprocess": demo["preprocess"],
                                        "proposer": demo["proposer"]})
    return froc_auc(alone.fit("inbreast", release, progress=False), release)


@pytest.mark.parametrize("classifier", [None, {"plugin": "random-forest"}], ids=["svm-cascade", "random-forest"])
def test_the_trained_classifier_ranks_candidates_better_than_the_proposer(release, proposer_auc, classifier):
    settings = DEMO if classifier is None else {**DEMO, "classifier": classifier}
    learned = froc_auc(calcdet.Pipeline.from_yaml("aia-ml-demo", settings).fit("inbreast", release, progress=False),
                       release)
    assert learned >= FACTOR * proposer_auc > 0, (f"FROC AUC to {MAX_FPPI:g} FP/normal image: trained "
                                                  f"{learned:.3f}, proposer alone {proposer_auc:.3f}")
