"""Speed of every installed feature extractor against a per-patch loop, in one process (JSON to stdout).

How an extractor is included
----------------------------
Every feature plugin in the registry (``calcdet list-plugins``, kind ``features``) is benchmarked
automatically. Its per-patch reference lives in ``benchmarks/references/features_<name>.py``
(``-`` in the plugin name becomes ``_``), or, for a plugin of this repository whose tests use it as
their oracle, beside those tests in ``plugins/features/calcdet-<name>/tests/per_patch_reference.py``
(context, fos, gabor, wavelet). It defines::

    def reference(extractor, image, candidates) -> np.ndarray:
        '''(N, F) float64: the same features as extractor.extract(image, candidates), computed one
        patch at a time with plain numpy / scipy / scikit-image / pywt calls.'''

and, for a trainable extractor only, optionally::

    def prepare(extractor, image, candidates) -> FeatureExtractor:
        '''Fit the extractor (e.g. Haar-like selection) before timing; return the fitted one.'''

(without ``prepare`` a trainable extractor is fitted on random patches the way the conformance kit does).
The benchmark checks that reference and ``extract`` agree (``max_abs_diff``, ``agree``), times both on
the same image and candidates, and reports ``speedup = reference_seconds / seconds``. A plugin without
a reference module is timed alone (``reference_seconds: null``).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/features.py                 # 2,000 candidates, 1600x1200
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/features.py --only fos,gabor --candidates 500

The image is a power-law textured background (``calcdet_core.testing.textured_background``) with bright
disks; candidates are uniform over the image, a few of them on the border (padded, never dropped).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from calcdet_core.contracts.components import FeatureExtractor
from calcdet_core.contracts.data import Candidates
from calcdet_core.plugins.registry import build_registry
from calcdet_core.testing import add_disks, textured_background

REFERENCES = Path(__file__).parent / "references"
PLUGINS = Path(__file__).resolve().parents[1] / "plugins" / "features"
GOALS: dict[str, tuple[tuple[str, ...], float]] = {
    "fos+gabor+wavelet": (("fos", "gabor", "wavelet"), 2.0),
    "haar": (("haar",), 1.0),
}
"""The issue's goals for 2,000 candidates: each group under its seconds, each extractor >= 10x its loop."""
GOAL_SPEEDUP = 10.0


def load_reference(name: str) -> ModuleType | None:
    """The reference module for extractor ``name`` (see the module docstring), or ``None`` when there is none."""
    places = [REFERENCES / f"features_{name.replace('-', '_')}.py",
              PLUGINS / f"calcdet-{name}" / "tests" / "per_patch_reference.py"]
    path = next((p for p in places if p.exists()), None)
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location(f"calcdet_bench_ref_{name.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_scene(height: int, width: int, n: int, seed: int = 0) -> tuple[np.ndarray, Candidates]:
    """A textured image with bright disks, and ``n`` candidates (some on the border)."""
    rng = np.random.default_rng(seed)
    disks = [(x, y, r, 0.3) for x, y, r in zip(rng.uniform(0, width, 200), rng.uniform(0, height, 200),
                                                 rng.uniform(1, 5, 200), strict=True)]
    image = add_disks(textured_background((height, width), seed), disks)
    x = np.concatenate([[0, width - 1, 0, width - 1], rng.uniform(0, width - 1, n - 4)])
    y = np.concatenate([[0, 0, height - 1, height - 1], rng.uniform(0, height - 1, n - 4)])
    score = rng.uniform(0.05, 1.0, n)  # positive, as proposers score (the context features use it)
    return image, Candidates.from_columns(np.rint(x), np.rint(y), np.full(n, 3.0), score)


def fitted(cls: type[FeatureExtractor], ref: ModuleType | None, image: np.ndarray,
           candidates: Candidates) -> FeatureExtractor:
    extractor = cls()
    if not extractor.trainable:
        return extractor
    if ref is not None and hasattr(ref, "prepare"):
        return ref.prepare(extractor, image, candidates)
    from calcdet_core.testing.features import fitted_extractor

    return fitted_extractor(extractor)


def best_of(fn: Any, repeats: int) -> tuple[float, Any]:
    """Fastest wall time of ``repeats`` calls, and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_one(name: str, extractor: FeatureExtractor, ref: ModuleType | None, image: np.ndarray,
              candidates: Candidates, repeats: int) -> dict[str, Any]:
    seconds, fast = best_of(lambda: extractor.extract(image, candidates), repeats)
    row: dict[str, Any] = {"features": len(extractor.feature_names()), "seconds": round(seconds, 4),
                           "reference_seconds": None, "speedup": None}
    if ref is not None:
        ref_seconds, slow = best_of(lambda: ref.reference(extractor, image, candidates), 1)
        diff = np.abs(np.asarray(slow, np.float64) - fast)
        scale = np.maximum(np.abs(slow), 1.0)
        row.update(reference_seconds=round(ref_seconds, 4), speedup=round(ref_seconds / seconds, 1),
                   max_abs_diff=float(diff.max(initial=0.0)),
                   agree=bool(np.all(diff <= 1e-6 * scale)))
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timed runs (reference: 1)")
    parser.add_argument("--only", default="", help="comma-separated extractor names (default: all installed)")
    args = parser.parse_args(argv)

    image, candidates = make_scene(args.height, args.width, args.candidates)
    registry = build_registry()
    classes = registry.components("features")
    wanted = [n for n in args.only.split(",") if n] or sorted(classes)
    missing = [n for n in wanted if n not in classes]
    if missing:
        raise SystemExit(f"not installed feature plugins: {missing}; installed: {sorted(classes)}")

    rows: dict[str, dict[str, Any]] = {}
    extractors: dict[str, FeatureExtractor] = {}
    for name in wanted:
        ref = load_reference(name)
        extractors[name] = fitted(classes[name], ref, image, candidates)
        rows[name] = bench_one(name, extractors[name], ref, image, candidates, args.repeats)

    def run(names: list[str]) -> dict[str, Any]:
        return together(rows, names, [extractors[n] for n in names], image, candidates, args.repeats)

    result: dict[str, Any] = {
        "benchmark": "features",
        "image": [args.height, args.width],
        "candidates": args.candidates,
        "python": platform.python_version(),
        "extractors": rows,
        "together": run(list(rows)),
    }
    result["goals"] = {}
    for label, (names, limit) in GOALS.items():
        group = [n for n in names if n in rows]
        if group:
            goal = run(group)
            goal["goal"] = f"under {limit:g} s for {args.candidates} candidates, each >= {GOAL_SPEEDUP:g}x its loop"
            goal["goal_met"] = bool(goal["seconds"] < limit
                                    and all((rows[n]["speedup"] or 0) >= GOAL_SPEEDUP for n in group))
            result["goals"][label] = goal
    return result


def together(rows: dict[str, dict[str, Any]], names: list[str], extractors: list[FeatureExtractor],
             image: np.ndarray, candidates: Candidates, repeats: int) -> dict[str, Any]:
    """``names`` run back to back on the image (as a pipeline does), against their summed references."""
    seconds, _ = best_of(lambda: [e.extract(image, candidates) for e in extractors], repeats)
    refs = [rows[n]["reference_seconds"] for n in names]
    ref = sum(refs) if refs and all(r is not None for r in refs) else None
    return {"extractors": names, "features": sum(rows[n]["features"] for n in names), "seconds": round(seconds, 4),
            "reference_seconds": None if ref is None else round(ref, 4),
            "speedup": None if ref is None else round(ref / seconds, 1)}


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    sys.stdout.write("\n")
