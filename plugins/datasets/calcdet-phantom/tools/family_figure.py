"""Draw docs/families.png: one phantom per family (top) and a 14 mm crop around its first cluster (bottom).

    .venv/bin/python plugins/datasets/calcdet-phantom/tools/family_figure.py \\
        --out plugins/datasets/calcdet-phantom/docs/families.png

Top: the image as stored, cluster ellipses (yellow) and distractors (red: vascular specks, skin folds,
dust, clips, markers). Bottom: the crop at full resolution, contrast stretched, MCs circled (green).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from calcdet_phantom import synthesize
from calcdet_phantom.families import FAMILIES

SEED = 4
CROP = 200


def draw(out: Path, height: int, width: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(FAMILIES), figsize=(3 * len(FAMILIES), 7), dpi=64,
                             gridspec_kw={"height_ratios": [height / width, 1]})
    for column, name in enumerate(FAMILIES):
        p = synthesize(height, width, SEED, laterality="R", view="MLO", normal=False, family=name)
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(p.image, cmap="gray", vmin=0, vmax=2**14 - 1)
        top.set_title(f"{name}\n{len(p.annotation.targets)} MCs, {len(p.distractors)} distractors", fontsize=9)
        for region in p.annotation.ignore:
            if region.label == "Cluster":
                top.plot(*np.vstack([region.contour, region.contour[:1]]).T, color="yellow", lw=0.8)
        for d in p.distractors:
            top.plot(d.points[:, 0], d.points[:, 1], ".", color="red", ms=2)
        cluster = next((r for r in p.annotation.ignore if r.label == "Cluster"), None)
        cx, cy = (cluster.contour.mean(axis=0) if cluster is not None
                  else (p.annotation.targets[0].x, p.annotation.targets[0].y))
        x0 = int(np.clip(cx - CROP / 2, 0, width - CROP))
        y0 = int(np.clip(cy - CROP / 2, 0, height - CROP))
        crop = p.image[y0 : y0 + CROP, x0 : x0 + CROP].astype(float)
        low, high = np.percentile(crop[crop > 0], [0.5, 99.5]) if (crop > 0).any() else (0, 1)
        bottom.imshow(crop, cmap="gray", vmin=low, vmax=high)
        for t in p.annotation.targets:
            if x0 <= t.x < x0 + CROP and y0 <= t.y < y0 + CROP:
                bottom.add_patch(plt.Circle((t.x - x0, t.y - y0), t.diameter / 2 + 4, fill=False, color="lime",
                                            lw=0.6))
        bottom.set_title(f"{CROP * 0.07:.0f} mm crop, MCs circled", fontsize=8)
        for ax in (top, bottom):
            ax.set_axis_off()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, pil_kwargs={"optimize": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "families.png")
    parser.add_argument("--height", type=int, default=1600)
    parser.add_argument("--width", type=int, default=1200)
    args = parser.parse_args()
    draw(args.out, args.height, args.width)


if __name__ == "__main__":
    main()
