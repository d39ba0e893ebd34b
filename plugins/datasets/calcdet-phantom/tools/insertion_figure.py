"""Draw docs/insertion.png: a family's own MC cluster beside MCs inserted into a normal image of that family.

    .venv/bin/python plugins/datasets/calcdet-phantom/tools/insertion_figure.py

One column per phantom family. Rows 1-2: an 8 mm crop around one of the phantom's own clusters, raw
and with its MCs circled (green). Rows 3-4: the same around a cluster that ``calcdet insert`` (the
literature MC model, default settings) put into a normal phantom of that family. Can you tell the
raw crops apart? Each crop is contrast-stretched on its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from calcdet_phantom import synthesize
from calcdet_phantom.families import FAMILIES
from calcdet_phantom.insertion import InsertSettings, insert_mcs

CROP = 120


def _cluster_crop(image: np.ndarray, ignore) -> tuple[np.ndarray, int, int]:
    cluster = next(r for r in ignore if r.label == "Cluster")
    cx, cy = cluster.contour.mean(axis=0)
    x0 = int(np.clip(cx - CROP / 2, 0, image.shape[1] - CROP))
    y0 = int(np.clip(cy - CROP / 2, 0, image.shape[0] - CROP))
    return image[y0: y0 + CROP, x0: x0 + CROP].astype(float), x0, y0


def _circle(ax, targets, x0: int, y0: int) -> None:
    from matplotlib.patches import Circle

    for t in targets:
        if x0 <= t.x < x0 + CROP and y0 <= t.y < y0 + CROP:
            ax.add_patch(Circle((t.x - x0, t.y - y0), t.diameter / 2 + 4, fill=False, color="lime", lw=0.7))


def _has_cluster(annotation) -> bool:
    return any(r.label == "Cluster" for r in annotation.ignore)


def _show(ax, crop: np.ndarray, title: str) -> None:
    low, high = np.percentile(crop[crop > 0], [0.5, 99.5]) if (crop > 0).any() else (0, 1)
    ax.imshow(crop, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def draw(out: Path, height: int, width: int, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, len(FAMILIES), figsize=(3.2 * len(FAMILIES), 13.4), dpi=80)
    for column, name in enumerate(FAMILIES):
        phantoms = (synthesize(height, width, seed + k, laterality="L", view="CC", normal=False, family=name)
                    for k in range(50))
        own = next(p for p in phantoms if _has_cluster(p.annotation))
        crop, x0, y0 = _cluster_crop(own.image, own.annotation.ignore)
        _show(axes[0, column], crop, f"{name}\nits own cluster")
        _show(axes[1, column], crop, "its own MCs circled")
        _circle(axes[1, column], own.annotation.targets, x0, y0)
        for attempt in range(50):  # the first normal phantom whose breast has room for a cluster
            normal = synthesize(height, width, seed + 100 + attempt, laterality="L", view="CC", normal=True,
                                family=name)
            done = insert_mcs(normal.image, 0.07, normal.annotation, InsertSettings(),
                              np.random.default_rng(seed + attempt), abnormal=True, max_value=2**14 - 1)
            if _has_cluster(done.annotation):
                break
        crop, x0, y0 = _cluster_crop(done.pixels, done.annotation.ignore)
        _show(axes[2, column], crop, "a normal image, a cluster inserted")
        _show(axes[3, column], crop, "inserted MCs circled")
        _circle(axes[3, column], done.annotation.targets, x0, y0)
    fig.suptitle(f"{CROP * 0.07:.0f} mm crops: each family's own cluster (rows 1-2) and one inserted by "
                 "calcdet insert into a normal image of the family (rows 3-4)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, pil_kwargs={"optimize": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "insertion.png")
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    draw(args.out, args.height, args.width, args.seed)


if __name__ == "__main__":
    main()
