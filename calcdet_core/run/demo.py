"""The main job behind ``make demo``: the AIA-ML pipeline end to end on a phantom INbreast release.

1. ``calcdet phantom``: a synthetic release (DICOM + XML + table, INbreast layout) with exact truth;
2. ``calcdet.Pipeline.from_yaml("aia-ml-demo").fit(...)`` on its train split (validation split for the
   cascade's threshold and the operating point);
3. ``model.evaluate(...)`` on its test split: detections CSV, FROC with bootstrap interval, HTML report.

The release comes from the ``phantom`` command a plugin registers (calcdet-phantom), run as a
user runs it: the core reaches plugins only through the registry, never by importing one. Training
and evaluation go through the user API (:mod:`calcdet`), as a user's script would.

The release is smaller than INbreast (images and pixels) and the pipeline is the shipped
``aia-ml-demo`` (``aia-ml`` with its costliest fits capped), so the whole run takes minutes on a
2-core laptop.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from calcdet_core.errors import CalcdetUserError
from calcdet_core.run.executor import progress_console


def make_release(root: Path, images: int, seed: int, height: int | None, width: int | None,
                 inbreast_sizes: bool = False) -> Path:
    """The phantom release written by ``calcdet phantom``, reused when one with the same settings is there.

    ``inbreast_sizes`` puts each patient on one of INbreast's two detectors instead of ``height`` x ``width``.
    """
    stamp = root / "demo-release.json"
    size = {"inbreast_sizes": True} if inbreast_sizes else {"height": height, "width": width}
    settings = {"images": images, "seed": seed, **size}
    if stamp.is_file() and json.loads(stamp.read_text()) == settings:
        progress_console.print(f"reusing the phantom release in {root}")
        return root
    shutil.rmtree(root, ignore_errors=True)
    shape = "INbreast's two sizes" if inbreast_sizes else f"{height}x{width} px"
    progress_console.print(f"calcdet phantom: {images} images of {shape}")
    command = [sys.executable, "-m", "calcdet_core", "phantom", str(root), "--images", str(images),
               "--seed", str(seed), *(["--inbreast-sizes"] if inbreast_sizes else
                                      ["--height", str(height), "--width", str(width)])]
    if subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode != 0:  # its progress: stderr
        raise CalcdetUserError(f"`calcdet {' '.join(command[3:])}` failed (above); the demo's release comes from the "
                               "calcdet-phantom plugin: pip install -e plugins/datasets/calcdet-phantom")
    stamp.write_text(json.dumps(settings))
    return root


def trained_text(trained: dict[str, Any]) -> str:
    """What training found, figures rounded for people (``calcdet train``'s metrics keep full precision)."""
    from calcdet_core.cli.output import figure

    facts = ", ".join(f"{k} {figure(v) if isinstance(v, float) else v}" for k, v in trained.get("train", {}).items())
    return (f"train split: {facts}\nvalidation AUROC {figure(trained.get('validation_auroc'))}, "
            f"AUPRC {figure(trained.get('validation_auprc'))}")


def evaluated_text(metrics: dict[str, Any], evaluation: Path) -> str:
    """``FROC AUC 0.470 [0.381, 0.548] ...`` and the operating point's figures, rounded; ``metrics.json`` keeps
    full precision."""
    from calcdet_core.cli.output import figure, froc_auc

    text = (f"{froc_auc(metrics.get('froc', {}))} (0-50 FP per normal image; 95% interval); "
            f"{metrics.get('images')} test images, {metrics.get('targets')} targets "
            f"(full precision in {evaluation / 'metrics.json'})")
    point = metrics.get("operating_point") or {}
    if point.get("chosen") and isinstance(point.get("test"), dict):
        test, validation = point["test"], point["validation"]
        text += (f"\nat the model's operating point (score >= {figure(point['threshold'], 4)}): "
                 f"{figure(point['findings_per_image'], 1)} findings per test image, sensitivity "
                 f"{figure(test['sensitivity'])} at {figure(test['fppi'], 2)} FP per normal image (validation, where "
                 f"it was chosen: {figure(validation['sensitivity'])} at {figure(validation['fppi'], 2)})")
    return text


def run_demo(out: Path, images: int, seed: int, height: int, width: int, workers: int,
             pipeline: str | Path) -> dict[str, Any]:
    import calcdet

    start = time.perf_counter()
    chosen = calcdet.Pipeline.from_yaml(pipeline)  # a wrong pipeline is refused before the release is made
    out.mkdir(parents=True, exist_ok=True)
    root = make_release(out / "release", images, seed, height, width)
    model_dir, evaluation = out / "model", out / "evaluation"
    shutil.rmtree(model_dir, ignore_errors=True)
    shutil.rmtree(evaluation, ignore_errors=True)
    progress_console.rule(f"train {chosen.name}")
    model = chosen.fit("inbreast", root, out=model_dir, seed=seed, workers=workers)
    progress_console.print(trained_text(model.metrics), highlight=False)
    progress_console.rule("evaluate on the test split")
    metrics = model.evaluate("inbreast", root, evaluation, seed=seed, workers=workers).metrics
    progress_console.print(evaluated_text(metrics, evaluation), highlight=False)
    progress_console.print(f"done in {time.perf_counter() - start:.0f} s")
    progress_console.print(f"[bold green]report:[/bold green] {(evaluation / 'report.html').resolve()}")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo"), help="Folder for the demo's outputs.")
    parser.add_argument("--images", type=int, default=120, help="Phantom images in the release.")
    parser.add_argument("--height", type=int, default=1024, help="Phantom image height, px (70 um).")
    parser.add_argument("--width", type=int, default=800, help="Phantom image width, px.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the release, split and sampling.")
    parser.add_argument("--workers", type=int, default=2, help="Worker processes.")
    parser.add_argument("--pipeline", default="aia-ml-demo", help="Pipeline YAML, or a shipped pipeline's name.")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # worker processes inherit it: one BLAS thread per worker
    try:
        run_demo(args.out, args.images, args.seed, args.height, args.width, args.workers, args.pipeline)
    except CalcdetUserError as exc:  # a user's mistake is one line, as in every calcdet command
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
