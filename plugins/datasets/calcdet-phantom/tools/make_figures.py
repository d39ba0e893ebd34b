"""Draw docs/phantoms.png (four phantoms side by side) and docs/phantom_cluster_zoom.png.

    .venv/bin/python plugins/datasets/calcdet-phantom/tools/make_figures.py --out docs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from calcdet_phantom import synthesize
from PIL import Image, ImageDraw

CASES = [  # (seed, laterality, view, density): one of each ACR class, both views and sides
    (21, "L", "CC", 1), (22, "R", "MLO", 2), (23, "L", "MLO", 3), (24, "R", "CC", 4)]


def _to_8bit(image: np.ndarray, low: float, high: float) -> np.ndarray:
    return (np.clip((image.astype(np.float64) - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def overview(out: Path, height: int, width: int) -> list:
    tiles, phantoms = [], []
    for seed, lat, view, density in CASES:
        p = synthesize(height, width, seed, laterality=lat, view=view, density=density, normal=False)
        phantoms.append(p)
        tile = Image.fromarray(_to_8bit(p.image, 0, 2**14 - 1)).resize((400, round(400 * height / width)),
                                                                        Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(tile)
        draw.text((8, 8), f"{lat} {view}  ACR {density}  {len(p.annotation.targets)} MCs", fill=255)
        tiles.append(tile)
    sheet = Image.new("L", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), tiles[0].height), 40)
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * (tile.width + 8), 0))
    sheet.save(out / "phantoms.png", optimize=True)
    return phantoms


def cluster_zoom(out: Path, phantoms: list, size: int = 200, scale: int = 3) -> None:
    """A cluster in a fatty CC view: raw pixels (left) and the same with the truth drawn on (right)."""
    best = max((p for p in phantoms if p.view == "CC" and p.density <= 2), key=lambda p: len(p.annotation.targets))
    cluster = next(r for r in best.annotation.ignore if r.label == "Cluster")
    cx, cy = cluster.contour.mean(axis=0)
    h, w = best.image.shape
    x0 = int(np.clip(cx - size / 2, 0, w - size))
    y0 = int(np.clip(cy - size / 2, 0, h - size))
    crop = best.image[y0 : y0 + size, x0 : x0 + size]
    low, high = np.percentile(crop[crop > 0], [0.5, 99.5])
    raw = Image.fromarray(_to_8bit(crop, low, high)).resize((size * scale, size * scale), Image.Resampling.BICUBIC)
    marked = raw.convert("RGB")
    draw = ImageDraw.Draw(marked)

    def xy(points: np.ndarray) -> list[tuple[float, float]]:
        return [((x - x0 + 0.5) * scale, (y - y0 + 0.5) * scale) for x, y in points]

    for region in best.annotation.ignore:
        draw.polygon(xy(region.contour), outline=(255, 200, 0))
    for t in best.annotation.targets:
        if t.contour is not None:
            draw.polygon(xy(t.contour), outline=(0, 255, 80))
        else:
            (px, py), = xy(np.array([[t.x, t.y]]))
            r = max(t.diameter / 2 + 3, 4) * scale
            draw.ellipse((px - r, py - r, px + r, py + r), outline=(0, 200, 255))
    sheet = Image.new("RGB", (raw.width * 2 + 8, raw.height + 24), (40, 40, 40))
    sheet.paste(raw.convert("RGB"), (0, 24))
    sheet.paste(marked, (raw.width + 8, 24))
    label = ImageDraw.Draw(sheet)
    label.text((6, 6), f"{size}x{size} px = {size * 0.07:.0f} mm, {scale}x enlarged", fill=(230, 230, 230))
    label.text((raw.width + 14, 6), "truth: contour MCs (green), point MCs (blue), ignore regions (yellow)",
               fill=(230, 230, 230))
    sheet.save(out / "phantom_cluster_zoom.png", optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--height", type=int, default=1664)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cluster_zoom(args.out, overview(args.out, args.height, args.width))


if __name__ == "__main__":
    main()
