"""Can inserted MCs be told from a phantom's own? A classifier on patch statistics, per phantom family.

For each family, ``--images`` abnormal phantoms give the family's own MCs and as many normal
phantoms receive MCs from ``calcdet insert``'s model (with the family's own MC and cluster
settings, so only the insertion differs: local gain, MTF, noise). Around each MC a patch gives
statistics a detector could key on (peak contrast, contrast to noise, background level and
noise, centre sharpness, residual moments, the Laplacian at the centre); a gradient-boosting
classifier, cross-validated with images as groups, tries to tell inserted from native. Its
AUROC (out-of-fold, 95 % image-bootstrap interval) is the artefact measure: 0.5 means the
statistics give insertion away no more than chance. A control inserts the same MCs without the
detector's blur (``mtf_sigma_mm: 0``): the classifier should find those. Prints JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/insertion_artefacts.py --images 20
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from typing import Any

import numpy as np
from calcdet_phantom import synthesize
from calcdet_phantom.families import FAMILIES, get_family
from calcdet_phantom.imprint import ImprintSettings
from calcdet_phantom.insertion import InsertSettings, insert_mcs
from scipy import ndimage, stats

from calcdet_core.evaluation.bootstrap import percentile_interval

FEATURES = ["peak_contrast", "cnr", "background", "noise", "centre_sharpness", "residual_skew",
            "residual_kurtosis", "laplacian", "ring_contrast"]


def patch_features(image: np.ndarray, x: float, y: float) -> list[float] | None:
    """Statistics of the 41x41 neighbourhood of (x, y); ``None`` too near the border."""
    xi, yi = round(x), round(y)
    if not (20 <= xi < image.shape[1] - 20 and 20 <= yi < image.shape[0] - 20):
        return None
    window = image[yi - 20: yi + 21, xi - 20: xi + 21].astype(np.float64)
    residual = window - ndimage.gaussian_filter(window, 1.5, mode="nearest")
    background = float(np.median(window))
    noise = float(1.4826 * np.median(np.abs(residual - np.median(residual)))) + 1e-6
    centre = window[18:23, 18:23]
    ring = np.concatenate([window[14:27, 14:17].ravel(), window[14:27, 24:27].ravel()])
    peak = float(centre.max() - background)
    laplacian = ndimage.gaussian_laplace(window, 1.5)[20, 20]
    core = residual[16:25, 16:25].ravel()
    return [peak, peak / noise, background, noise, float(centre.max() - centre.mean()) / noise,
            float(stats.skew(core)), float(stats.kurtosis(core)), float(-laplacian) / noise,
            float(ring.mean() - background) / noise]


def collect(family: str, images: int, seed: int, size: tuple[int, int], imprint: ImprintSettings
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels (1 inserted, 0 native) and image groups of both kinds of MC."""
    spec = get_family(family)
    settings = InsertSettings(mcs=spec.mcs, clusters=spec.clusters, imprint=imprint)
    rows, labels, groups = [], [], []
    for i in range(images):
        native = synthesize(*size, seed + 2 * i, normal=False, family=family)
        background = synthesize(*size, seed + 2 * i + 1, normal=True, family=family)
        inserted = insert_mcs(background.image, 0.07, background.annotation, settings,
                              np.random.default_rng(seed + i), abnormal=True, max_value=(1 << 14) - 1)
        new = inserted.annotation.targets[len(background.annotation.targets):]
        for label, image, targets in ((0, native.image, native.annotation.targets), (1, inserted.pixels, new)):
            for t in targets:
                f = patch_features(image, t.x, t.y)
                if f is not None:
                    rows.append(f)
                    labels.append(label)
                    groups.append(2 * i + label)
    return np.array(rows), np.array(labels), np.array(groups)


def auroc(x: np.ndarray, y: np.ndarray, groups: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    """Out-of-fold AUROC of a gradient-boosting classifier (images as groups) with an image-bootstrap interval."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    score = cross_val_predict(model, x, y, groups=groups, cv=GroupKFold(5), method="predict_proba")[:, 1]
    rng = np.random.default_rng(seed)
    images = np.unique(groups)
    boot = []
    for _ in range(resamples):
        pick = np.concatenate([np.flatnonzero(groups == g) for g in rng.choice(images, len(images))])
        if len(np.unique(y[pick])) == 2:
            boot.append(roc_auc_score(y[pick], score[pick]))
    lo, hi = percentile_interval(np.array(boot), 0.95)
    return {"auroc": round(float(roc_auc_score(y, score)), 3), "ci95": [round(float(lo), 3), round(float(hi), 3)],
            "native_mcs": int((y == 0).sum()), "inserted_mcs": int((y == 1).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20, help="Abnormal phantoms (and as many normal) per family.")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--resamples", type=int, default=500)
    args = parser.parse_args()
    start = time.perf_counter()
    size = (args.height, args.width)
    variants = {"insertion": ImprintSettings(), "control_without_mtf_blur": ImprintSettings(mtf_sigma_mm=0.0)}
    report: dict[str, Any] = {"benchmark": "insertion-artefacts", "features": FEATURES,
                              "images_per_kind": args.images, "size": list(size), "seed": args.seed,
                              "imprint": {k: dataclasses.asdict(v) for k, v in variants.items()}, "families": {}}
    for family in [f for f in args.families.split(",") if f]:
        report["families"][family] = {name: auroc(*collect(family, args.images, args.seed, size, imprint),
                                                  args.resamples, args.seed)
                                      for name, imprint in variants.items()}
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
