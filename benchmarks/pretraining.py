"""Pretraining benchmark: point-heatmap pretrained on MCs inserted into normal phantoms, fine-tuned on 11 images.

Why: issue 24 asks whether weights learned without one MC annotation (``calcdet insert
--normals-only`` on normal images of every phantom family) make a better start for a user with
few annotated images than random weights. Steps:

* releases: ``--train-family``'s ``--images`` release (seed ``--seed``) to fine-tune on (its patient
  split: 11 training, 8 validation images of 40) and every family's test release (that release for
  the training family; ``--reuse DIR/FAMILY`` when present, else generated alike; with
  ``--test-images N``, a new N-image release of every family, seed + 3, the training family's too:
  63 test images of a 120-image release against the 21 of a 40-image one narrow the intervals);
* a pretraining release: whole patients, about ``--pretrain-per-family`` images from each family's
  inserted release (``--reuse DIR/FAMILY-inserted`` when present, else a ``--source-images``
  release of seed + 1 through ``insert_release(normals_only=True)``, seed + 2), merged into one
  INbreast-layout release (ids prefixed by the family's index so none collide); with
  ``--on-the-fly``, the source releases themselves (``--reuse DIR/FAMILY-source``, else seed + 1),
  whose normal images receive new MCs every epoch through the pipeline's ``training.transform``
  (``mc-insertion``, ``images: normal``);
* ``--pipeline`` (with ``--pretrain-set`` settings) trained on it: the pretrained weights;
* ``--pipeline`` trained on the fine-tuning release from those weights (``initial_weights``) and,
  the same way, from random weights (``scratch``);
* with ``--baseline``, that pipeline (AIA-ML, say) trained on the fine-tuning release the same way;
* all tested on every family's test split: FROC AUC (0-50 FP per normal image) with its 95 %
  image-bootstrap interval and the paired differences fine-tuned minus scratch, and fine-tuned and
  scratch minus the baseline (same images, same draws).

Prints JSON. Releases are read from ``--reuse`` only, never written there.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pretraining.py --reuse /tmp/tr/big --work /tmp/pretraining
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from calcdet_phantom import generate_release
from calcdet_phantom.families import FAMILIES
from calcdet_phantom.insert_release import insert_release
from transfer import TRANSFORMS, auc_with_interval, paired_difference, test, train

from calcdet_core.evaluation.froc import FrocData
from pipelines import ROOT

PLUGIN = "point-heatmap"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def release(root: Path, images: int, seed: int, args: argparse.Namespace, family: str) -> Path:
    """A phantom release at ``root`` (written unless one is there already)."""
    if (root / "INbreast.csv").is_file():
        return root
    return generate_release(root, images, seed, args.height, args.width, family=family)


def inserted(family: str, work: Path, args: argparse.Namespace) -> Path:
    """``family``'s release of MCs inserted into normal phantoms: reused read-only, else written under ``work``."""
    if args.reuse and (args.reuse / f"{family}-inserted" / "INbreast.csv").is_file():
        return args.reuse / f"{family}-inserted"
    target = work / f"{family}-inserted"
    if not (target / "INbreast.csv").is_file():
        source = release(work / f"{family}-source", args.source_images, args.seed + 1, args, family)
        insert_release(source, target, seed=args.seed + 2, normals_only=True)
    return target


def patient(file_name: str) -> str:
    """The patient part of an INbreast DICOM name (``ID_PATIENT_MG_...``)."""
    return file_name.split("_")[1]


def merge(sources: list[Path], per_source: int, out: Path) -> dict[str, Any]:
    """One INbreast-layout release of whole patients, at least ``per_source`` images from each source."""
    if (out / "INbreast.csv").is_file():
        shutil.rmtree(out)
    (out / "AllDICOMs").mkdir(parents=True)
    (out / "AllXML").mkdir()
    rows: list[list[str]] = []
    header: list[str] = []
    taken: dict[str, int] = {}
    for index, source in enumerate(sources, 1):
        with open(source / "INbreast.csv", newline="") as f:
            reader = csv.reader(f, delimiter=";")
            header, table = next(reader), list(reader)
        dicoms = {p.name.split("_")[0]: p for p in (source / "AllDICOMs").glob("*.dcm")}
        by_patient: dict[str, list[list[str]]] = {}
        for row in table:
            by_patient.setdefault(patient(dicoms[row[5]].name), []).append(row)
        count = 0
        for group in by_patient.values():
            if count >= per_source:
                break
            for row in group:
                old = dicoms[row[5]]
                new_id = f"{index}{row[5]}"
                parts = old.name.split("_")
                parts[0], parts[1] = new_id, f"{index}{parts[1][1:]}"
                shutil.copyfile(old, out / "AllDICOMs" / "_".join(parts))
                xml = source / "AllXML" / f"{row[5]}.xml"
                if xml.is_file():
                    shutil.copyfile(xml, out / "AllXML" / f"{new_id}.xml")
                rows.append([*row[:5], new_id, *row[6:]])
                count += 1
        taken[source.name] = count
    with open(out / "INbreast.csv", "w", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    return {"images": len(rows), "from": taken}


def training_facts(model: Path) -> dict[str, Any]:
    """What the model's training metrics say about its run (best epoch, figures, initial weights)."""
    found = sorted(model.rglob("training_metrics.json"))
    if not found:
        return {}
    metrics = json.loads(found[0].read_text())
    keys = ("best_epoch", "best_val_froc_auc", "learned", "initial_weights", "epochs", "seconds")
    flat = {k: v for k, v in metrics.items() if k in keys}
    for value in metrics.values():
        if isinstance(value, dict):
            flat.update({k: v for k, v in value.items() if k in keys})
    return flat


def weights_of(model: Path) -> Path:
    """The model directory's ``point_net.safetensors``."""
    (found,) = sorted(model.rglob("point_net.safetensors"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40, help="Images of the fine-tuning release (and test releases).")
    parser.add_argument("--source-images", type=int, default=60, help="Images of each insertion source written here.")
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-family", default="default")
    parser.add_argument("--families", default=",".join(FAMILIES), help="Test families and pretraining sources.")
    parser.add_argument("--pretrain-per-family", type=int, default=15, help="Images (whole patients) per family.")
    parser.add_argument("--pretrain-set", action="append", default=[], metavar="PLUGIN.PARAM=VALUE",
                        help="Settings of the pretraining run only (repeatable).")
    parser.add_argument("--finetune-set", action="append", default=[], metavar="PLUGIN.PARAM=VALUE",
                        help="Settings of the fine-tuning run only (repeatable; its model is named after them).")
    parser.add_argument("--pipeline", type=Path, default=ROOT / "pipelines" / "point-heatmap.yaml")
    parser.add_argument("--baseline", type=Path, help="A pipeline trained on the fine-tuning release to compare with.")
    parser.add_argument("--on-the-fly", action="store_true",
                        help="Pretrain on normal phantoms with MCs inserted every epoch, not on written insertions.")
    parser.add_argument("--test-images", type=int, default=0,
                        help="Test on the test split of a new release of this many images per family (seed + 3, "
                             "written under --work) instead of the --images releases: tighter intervals.")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--reuse", type=Path, help="Folder of releases FAMILY, FAMILY-inserted (read only).")
    parser.add_argument("--work", type=Path, required=True, help="Folder for releases and models.")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    if args.train_family not in families or set(families) - set(FAMILIES):
        parser.error(f"--families must be known ({', '.join(FAMILIES)}) and hold --train-family")
    if args.reuse and args.work.resolve().is_relative_to(args.reuse.resolve()):
        parser.error("--work inside --reuse: --reuse is read only")
    work, start = args.work, time.perf_counter()

    def test_release(family: str) -> Path:
        if args.test_images:
            return release(work / f"{family}-test", args.test_images, args.seed + 3, args, family)
        reused = args.reuse / family if args.reuse else None
        if family != args.train_family and reused and (reused / "INbreast.csv").is_file():
            return reused
        return release(work / family, args.images, args.seed, args, family)

    fine_tuning = release(work / args.train_family, args.images, args.seed, args, args.train_family)
    tests = {family: test_release(family) for family in families}
    log(f"test releases: {tests}")
    if args.on_the_fly:
        sources = [args.reuse / f"{f}-source" if args.reuse and (args.reuse / f"{f}-source" / "INbreast.csv").is_file()
                   else release(work / f"{f}-source", args.source_images, args.seed + 1, args, f) for f in families]
    else:
        sources = [inserted(f, work, args) for f in families]
    pretraining = merge(sources, args.pretrain_per_family, work / "pretrain")
    log(f"pretraining release: {pretraining}")
    pretrained = work / "model-pretrained"
    seconds = {"pretrained": train(args.pipeline, work / "pretrain", pretrained, args.pretrain_set, args,
                                   TRANSFORMS["on-the-fly"] if args.on_the_fly else None)}
    initial = weights_of(pretrained)
    log(f"pretrained in {seconds['pretrained']:.0f} s: {initial}")
    tuned = "fine-tuned" + "".join(f"-{s.partition('.')[2]}" for s in args.finetune_set)
    runs = {tuned: [f"{PLUGIN}.initial_weights={initial}", *args.finetune_set], "scratch": []}
    events: dict[str, dict[str, FrocData]] = {}
    for name, settings in runs.items():
        model = work / f"model-{name}"
        seconds[name] = train(args.pipeline, fine_tuning, model, settings, args)
        events[name] = test(model, tests, args.seed)
        log(f"{name} ({seconds[name]:.0f} s): " + ", ".join(
            f"{f} {auc_with_interval(d, 200, args.seed)['auc']}" for f, d in events[name].items()))
    if args.baseline:
        seconds["baseline"] = train(args.baseline, fine_tuning, work / "model-baseline", [], args)
        events["baseline"] = test(work / "model-baseline", tests, args.seed)
    events["pretrained only"] = test(pretrained, tests, args.seed)
    tested = {name: {f: auc_with_interval(d, args.resamples, args.seed) for f, d in by_family.items()}
              for name, by_family in events.items()}
    pairs = [(tuned, "scratch")] + [(name, "baseline") for name in (tuned, "scratch") if "baseline" in events]
    paired = {f"{a} minus {b}": {family: paired_difference(events[a][family], events[b][family], args.resamples,
                                                           args.seed)
                                 for family in families} for a, b in pairs}
    report = {"benchmark": "pretraining", "pipeline": str(args.pipeline), "on_the_fly": args.on_the_fly,
              "pretrain_set": args.pretrain_set,
              "finetune_set": args.finetune_set,
              "release": {"images": args.images, "height": args.height, "width": args.width, "seed": args.seed,
                          "train_family": args.train_family, "test_images": args.test_images,
                          "tests": {f: str(p) for f, p in tests.items()}},
              "pretraining_release": pretraining,
              "baseline": str(args.baseline) if args.baseline else None,
              "training": {name: {"seconds": round(seconds.get(name, 0.0), 1),
                                  **training_facts(work / f"model-{name}")}
                           for name in ("pretrained", tuned, "scratch", "baseline") if name in seconds},
              "tested_on": tested, "paired": paired,
              "total_seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
