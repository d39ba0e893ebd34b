"""PNG overlays: an image windowed to 8 bits with its findings drawn on it, for a reader to judge (Pillow).

With the truth at hand each finding is a true positive (green) or a false positive (red) by the
evaluation's own matching rule, and every MC no finding reached is drawn in blue; each mark carries
its score, a legend says what the colours and the score cut-off are, and a bar gives the scale in mm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import Annotation, Candidates
from calcdet_core.evaluation.plots import FP_COLOUR, MISSED_COLOUR, TP_COLOUR

MIN_DRAWN_RADIUS = 4.0
"""Circles are drawn at least this large so that 1-2 px calcification detections stay visible."""


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """Window by the 0.5-99.5 percentiles of the non-background pixels to uint8."""
    p = np.asarray(pixels, dtype=np.float64)
    body = p[p > p.min()] if (p > p.min()).any() else p.ravel()
    low, high = np.percentile(body, [0.5, 99.5])
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((p - low) * scale, 0, 255).astype(np.uint8)


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 array as an 8-bit RGB PNG."""
    from PIL import Image  # imported here: `calcdet` start-up does not pay for Pillow

    pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"{path}: an RGB PNG needs an (H, W, 3) array, got shape {pixels.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


TP_RGB, FP_RGB, MISSED_RGB = _rgb(TP_COLOUR), _rgb(FP_COLOUR), _rgb(MISSED_COLOUR)
"""The evaluation report's colours (:mod:`calcdet_core.evaluation.plots`)."""
FINDING_RGB = (255, 200, 0)
"""Without truth every finding is drawn in yellow."""


def _canvas(pixels: np.ndarray):  # type: ignore[no-untyped-def]
    """The windowed image as RGB, a drawing context on it, and a text size and font that fit its size."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(np.repeat(to_8bit(pixels)[:, :, None], 3, axis=2))
    size = max(12, round(min(image.size) / 90))
    return image, ImageDraw.Draw(image), size, ImageFont.load_default(size=size)


def _finish(path: Path, image, draw, legend: list[tuple[tuple[int, int, int], str]],  # type: ignore[no-untyped-def]
            spacing_mm: tuple[float, float] | None, size: int, font) -> Path:
    """The legend and scale bar drawn, the picture written."""
    _legend(draw, image.size[0], legend, font, size)
    _scale_bar(draw, image.size[1], spacing_mm, font)
    return write_png(path, np.asarray(image))


def _scale_bar(draw, height: int, spacing_mm: tuple[float, float] | None, font) -> None:  # type: ignore[no-untyped-def]
    if spacing_mm is None:
        draw.text((10, height - 24), "no pixel spacing: no scale", fill=(255, 255, 255), font=font)
        return
    mm = 10.0 if 10.0 / spacing_mm[1] < height else 1.0
    length = round(mm / spacing_mm[1])
    y = height - 16
    draw.rectangle((10, y - 3, 10 + length, y + 3), fill=(255, 255, 255), outline=(0, 0, 0))
    draw.text((14 + length, y - 10), f"{mm:g} mm", fill=(255, 255, 255), font=font, stroke_width=2,
              stroke_fill=(0, 0, 0))


def write_findings_overlay(path: Path, pixels: np.ndarray, findings: Candidates, min_score: float,
                           annotation: Annotation | None = None, spacing_mm: tuple[float, float] | None = None
                           ) -> Path:
    """The stored image with its findings (detections scoring at least ``min_score``) circled and scored.

    With ``annotation`` (the truth, stored grid) findings are coloured TP / FP and missed MCs are drawn.
    """
    from calcdet_core.evaluation.matching import FP, TP, match_detections

    image, draw, size, font = _canvas(pixels)
    cut = f"score >= {min_score:.4g}" if np.isfinite(min_score) else "every detection"
    colours = [FINDING_RGB] * len(findings)
    legend = [(FINDING_RGB, f"finding ({cut})")]
    if annotation is not None:
        match = match_detections(findings, annotation)
        colours = [TP_RGB if s == TP else FP_RGB if s == FP else (160, 160, 160) for s in match.status]
        for target, hit in zip(annotation.targets, match.hit, strict=True):
            if not hit:
                r = max(target.diameter / 2 + 4, MIN_DRAWN_RADIUS + 2)
                draw.rectangle((target.x - r, target.y - r, target.x + r, target.y + r), outline=MISSED_RGB, width=2)
        legend = [(TP_RGB, f"true positive ({cut})"), (FP_RGB, "false positive"),
                  (MISSED_RGB, "MC no finding reached")]
    for (x, y, r), score, colour in zip(findings.xyr, findings.score, colours, strict=True):
        radius = max(float(r), MIN_DRAWN_RADIUS) + 3
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=2)
        draw.text((x + radius + 2, y - radius - size), f"{score:.3g}", fill=colour, font=font, stroke_width=1,
                  stroke_fill=(0, 0, 0))
    return _finish(path, image, draw, legend, spacing_mm, size, font)


def _legend(draw, width: int, legend: list[tuple[tuple[int, int, int], str]], font, size: int) -> None:  # type: ignore[no-untyped-def]
    box = max(draw.textlength(text, font=font) for _, text in legend) + 3 * size
    x0 = width - box - 10
    draw.rectangle((x0, 8, width - 8, 14 + len(legend) * (size + 6)), fill=(0, 0, 0))
    for i, (colour, text) in enumerate(legend):
        y = 12 + i * (size + 6)
        mark = draw.rectangle if colour == MISSED_RGB else draw.ellipse  # missed MCs are drawn as squares
        mark((x0 + 4, y + 2, x0 + 4 + size - 4, y + size - 2), outline=colour, width=2)
        draw.text((x0 + size + 6, y), text, fill=(255, 255, 255), font=font)


IGNORE_RGB, TRUTH_RGB = (255, 140, 0), (0, 190, 255)
"""Ignore regions (cluster outlines, calcifications over 1 mm) and MCs in the truth overlays."""


def write_truth_overlay(path: Path, pixels: np.ndarray, annotation: Annotation,
                        spacing_mm: tuple[float, float] | None = None) -> Path:
    """The stored image with its truth drawn: each MC (outline, or a circle for a point annotation) and each
    ignore region, with a legend counting them and a scale bar; what ``calcdet dataset browse`` writes."""
    image, draw, size, font = _canvas(pixels)
    for region in annotation.ignore:
        draw.polygon([tuple(p) for p in np.asarray(region.contour, float)], outline=IGNORE_RGB, width=2)
    for target in annotation.targets:
        r = max(target.diameter / 2, 1.0) + 4
        draw.ellipse((target.x - r, target.y - r, target.x + r, target.y + r), outline=TRUTH_RGB, width=2)
        if target.contour is not None and len(target.contour) > 2:
            draw.polygon([tuple(p) for p in np.asarray(target.contour, float)], outline=TP_RGB)
    legend = [(TRUTH_RGB, f"{len(annotation.targets)} MC(s) (green: outline where annotated)"),
              (IGNORE_RGB, f"{len(annotation.ignore)} ignore region(s): clusters, calcifications over 1 mm")]
    return _finish(path, image, draw, legend, spacing_mm, size, font)
