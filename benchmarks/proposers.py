"""Proposer benchmark: speed, peak memory and candidate quality, each proposer next to its textbook reference.

Interface for reference implementations (one module per proposer, named like the plugin):
``benchmarks/references/<plugin name>.py`` (e.g. ``gm.py`` for the plugin ``gm``) defines::

    def propose(image: np.ndarray, mask: np.ndarray | None) -> calcdet_core.Candidates:
        '''Same algorithm and parameters as the plugin's defaults, written the direct (slow) way.'''

``image`` is the preprocessed working-grid image (2-D float32 in [0, 1], breast cropped and flipped to the
left) and ``mask`` its breast mask (bool, same shape) or ``None``; candidates are in that grid (x = column,
y = row). The benchmark runs plugin and reference on the same phantom images in one process and reports
the speed ratio reference/plugin, so the figure is honest on any machine.

What it does
------------
Phantoms come from ``calcdet_phantom.synthesize`` (held-out seeds), go through
``calcdet_core.imaging.preprocess.preprocess`` (crop, flip, [0, 1]) and every proposer among gm, hdog and hough
that is installed runs on all of them with its default parameters; candidates are mapped back to the
stored grid and scored by ``calcdet_core.evaluation.candidates.candidate_metrics`` (the study's 14 px
rule via ``match_detections``): sensitivity, FP per image, FPpTPpI, seconds per image. The reference runs
on the first ``--reference-small`` / ``--reference-large`` images of each size (it is slow); the plugin's
figures on those same images sit next to it, with ``speedup`` = reference seconds / plugin seconds (wall
clock; ``cpu_speedup`` the same in process CPU time, steadier on a busy machine) and ``agreement`` = the
fraction of candidates whose centre the other implementation also reports (0.5 px). ``vs_study`` divides
the study's figures from issue 6 by the plugin's 1600x1200 ones (absolute times: read with care).

Peak memory is measured in a fresh child process per (proposer, size): after a warm-up (numba compiles)
the kernel's peak-RSS counter is reset (``/proc/self/clear_refs``), the proposer runs once on the image,
and ``peak_rss_mb`` = VmHWM - RSS before the run. This counts every allocation (numpy, OpenCV's internal
buffers, numba), which ``tracemalloc`` does not; ``tracemalloc_peak_mb`` (numpy/Python only) is reported
beside it. The reference's memory is measured on the first size only (a direct reference can take many
minutes on a 3328x2560 image).

Run (2 cores, shared: ratios are what to read; the full run takes several minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/proposers.py --out benchmarks/results/proposers.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/proposers.py --small 2 --large 0 --reference-small 1 \\
        --small-size 800x600 --proposers gm          # quick check
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from calcdet_core.api import Annotation, Candidates, GridTransform, ImageResult, Mammogram
from calcdet_core.evaluation.candidates import candidate_metrics
from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.plugins.registry import get_registry

REFERENCES = Path(__file__).resolve().parent / "references"
PROPOSERS = ("gm", "hdog", "hough")
STUDY = {  # the study's public code on 1600x1200 phantoms, as measured in issue 6
    "gm": {"seconds_per_image": 0.28, "sensitivity": 0.51, "fp_per_image": 297},
    "hdog": {"seconds_per_image": 1.88, "sensitivity": 0.57, "fp_per_image": 2527},
    "hough": {"seconds_per_image": 8.5, "sensitivity": 0.22, "fp_per_image": 311},
}
SEED_BASE = 900_000
"""Phantom seeds far from those tests and demos use: held-out images."""

Propose = Callable[[np.ndarray, np.ndarray | None], Candidates]


@dataclass
class Case:
    """One preprocessed phantom: what a proposer sees, and the truth in the stored grid."""

    image_id: str
    pixels: np.ndarray
    mask: np.ndarray
    transform: GridTransform
    annotation: Annotation


def phantoms(n: int, height: int, width: int, seed: int) -> list[Case]:
    from calcdet_phantom import synthesize

    cases = []
    for i in range(n):
        phantom = synthesize(height, width, seed=seed + i)
        image = preprocess(Mammogram(pixels=phantom.image, image_id=f"{height}x{width}-{seed + i}",
                                     laterality=phantom.laterality, view=phantom.view))
        cases.append(Case(image.image_id, image.pixels, image.mask, image.transform, phantom.annotation))
    return cases


def reference(name: str) -> ModuleType | None:
    path = REFERENCES / f"{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"reference_{name}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def run(propose: Propose, cases: list[Case]) -> tuple[list[ImageResult], list[Candidates], float]:
    """Results in the stored grid (for scoring), raw working-grid candidates (for agreement) and the
    process CPU seconds per image (all threads; on a busy machine wall time can be several times more)."""
    results, raw = [], []
    cpu = time.process_time()
    for case in cases:
        start = time.perf_counter()
        found = propose(case.pixels, case.mask)
        seconds = time.perf_counter() - start
        stored = case.transform.to_stored(found.xyr[:, :2])
        results.append(ImageResult(case.image_id, Candidates(np.column_stack([stored, found.radius]), found.score,
                                                             case.image_id), case.annotation, seconds))
        raw.append(found)
    return results, raw, (time.process_time() - cpu) / max(len(cases), 1)


def summary(results: list[ImageResult], cpu_seconds: float) -> dict[str, Any]:
    m = candidate_metrics(results)
    keys = ("images", "targets", "detected", "sensitivity", "fp_per_image", "fp_per_tp_per_image",
            "candidates", "seconds_per_image")
    return {**{k: m[k] for k in keys}, "cpu_seconds_per_image": cpu_seconds}


def agreement(a: list[Candidates], b: list[Candidates], tolerance: float = 0.5) -> float | None:
    """Fraction of all candidates (of both) whose centre the other side also reports within ``tolerance``."""
    from scipy.spatial import cKDTree

    shared = total = 0
    for x, y in zip(a, b, strict=True):
        for one, other in ((x, y), (y, x)):
            total += len(one)
            if len(one) and len(other):
                d, _ = cKDTree(other.xyr[:, :2]).query(one.xyr[:, :2])
                shared += int(np.count_nonzero(d <= tolerance))
    return shared / total if total else None


def _status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _proposer(name: str, kind: str) -> Propose:
    if kind == "reference":
        module = reference(name)
        assert module is not None
        return module.propose
    return get_registry().get("proposers", name)().propose


def memory_probe(name: str, kind: str, npz: str) -> dict[str, float]:
    """Child-process side: peak memory of one run, after a warm-up."""
    data = np.load(npz)
    pixels, mask = data["pixels"], data["mask"]
    propose = _proposer(name, kind)
    propose(np.ascontiguousarray(pixels[:128, :128]), np.ascontiguousarray(mask[:128, :128]))  # compile, caches
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS")
    tracemalloc.start()
    propose(pixels, mask)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kb("VmHWM") - before
    return {"peak_rss_mb": round(peak / 1024, 1), "tracemalloc_peak_mb": round(traced / 2**20, 1)}


def peak_memory(name: str, kind: str, case: Case) -> dict[str, float] | str:
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "image.npz")
        np.savez(npz, pixels=case.pixels, mask=case.mask)
        done = subprocess.run([sys.executable, __file__, "--memory-probe", name, kind, npz],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return json.loads(done.stdout)


def benchmark_size(name: str, propose: Propose, ref: ModuleType | None, cases: list[Case], n_reference: int,
                   measure_memory: bool, reference_memory: bool) -> dict[str, Any]:
    results, raw, cpu = run(propose, cases)
    out: dict[str, Any] = {"plugin": summary(results, cpu)}
    if ref is not None and n_reference > 0:
        subset = cases[:n_reference]
        ref_results, ref_raw, ref_cpu = run(ref.propose, subset)
        mine = summary(results[:n_reference], run(propose, subset)[2])
        theirs = summary(ref_results, ref_cpu)
        out["plugin_on_reference_images"] = mine
        out["reference"] = theirs
        out["speedup"] = round(theirs["seconds_per_image"] / mine["seconds_per_image"], 2)
        out["cpu_speedup"] = round(theirs["cpu_seconds_per_image"] / mine["cpu_seconds_per_image"], 2)
        out["agreement"] = agreement(raw[:n_reference], ref_raw)
    if measure_memory and cases:
        out["memory_plugin"] = peak_memory(name, "plugin", cases[0])
        if ref is not None and n_reference > 0 and reference_memory:
            out["memory_reference"] = peak_memory(name, "reference", cases[0])
    return out


def size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w)



def print_report(report: dict[str, Any], out: Path | None) -> None:
    """Print the benchmark's JSON report, and keep a copy in ``out`` when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=20, help="Phantoms of --small-size (default 20).")
    parser.add_argument("--small-size", type=size, default=(1600, 1200), help="HEIGHTxWIDTH (default 1600x1200).")
    parser.add_argument("--large", type=int, default=3, help="Phantoms of --large-size (default 3).")
    parser.add_argument("--large-size", type=size, default=(3328, 2560), help="HEIGHTxWIDTH (default 3328x2560).")
    parser.add_argument("--reference-small", type=int, default=3, help="Small phantoms the reference runs on.")
    parser.add_argument("--reference-large", type=int, default=1, help="Large phantoms the reference runs on.")
    parser.add_argument("--proposers", default=",".join(PROPOSERS), help="Comma-separated names (default: all).")
    parser.add_argument("--no-memory", action="store_true", help="Skip the peak-memory child processes.")
    parser.add_argument("--seed", type=int, default=SEED_BASE, help="First phantom seed.")
    parser.add_argument("--out", type=Path, help="Also write the JSON here.")
    parser.add_argument("--memory-probe", nargs=3, metavar=("NAME", "KIND", "NPZ"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe)))
        return

    registry = get_registry()
    installed = {e.name for e in registry.entries if e.kind == "proposers" and not e.error}
    wanted = [n for n in args.proposers.split(",") if n]
    start = time.perf_counter()
    sizes = {f"{h}x{w}": (phantoms(n, h, w, args.seed + 10_000 * i), n_ref)
             for i, ((h, w), n, n_ref) in enumerate(((args.small_size, args.small, args.reference_small),
                                                      (args.large_size, args.large, args.reference_large)))
             if n > 0}
    report: dict[str, Any] = {
        "benchmark": "proposers",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "phantom_seconds": round(time.perf_counter() - start, 1),
        "proposers": {},
        "skipped": [n for n in wanted if n not in installed],
    }
    for name in wanted:
        if name not in installed:
            continue
        propose = registry.get("proposers", name)().propose
        warm = next(iter(sizes.values()))[0][0]
        propose(np.ascontiguousarray(warm.pixels[:128, :128]), np.ascontiguousarray(warm.mask[:128, :128]))
        ref = reference(name)
        entry: dict[str, Any] = {"reference": None if ref is None else f"benchmarks/references/{name}.py"}
        for i, (label, (cases, n_ref)) in enumerate(sizes.items()):
            entry[label] = benchmark_size(name, propose, ref, cases, n_ref, not args.no_memory, i == 0)
            print(f"{name} {label}: {json.dumps(entry[label]['plugin'])}", file=sys.stderr, flush=True)
        small = entry.get(f"{args.small_size[0]}x{args.small_size[1]}")
        if name in STUDY and small is not None and tuple(args.small_size) == (1600, 1200):
            mine, study = small["plugin"], STUDY[name]
            entry["study"] = study
            entry["vs_study"] = {
                "speedup": round(study["seconds_per_image"] / mine["seconds_per_image"], 2),
                "speedup_cpu_time": round(study["seconds_per_image"] / mine["cpu_seconds_per_image"], 2),
                "sensitivity_delta": None if mine["sensitivity"] is None
                else round(mine["sensitivity"] - study["sensitivity"], 3),
                "fp_per_image_ratio": round(mine["fp_per_image"] / study["fp_per_image"], 3),
            }
        report["proposers"][name] = entry
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    print_report(report, args.out)


if __name__ == "__main__":
    main()
