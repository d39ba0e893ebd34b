"""One synthetic mammogram with its exact truth.

Physics in one line: line integrals of attenuation (tissue + lesions) are turned into
detector quanta N = N0·exp(-A) with Poisson noise, logged back, and mapped to 14 bits
through a presentation curve; small objects are blurred by the system MTF first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from calcdet_core.api import Annotation, IgnoreRegion, Target, ellipse_polygon, feret_diameter, polygon_centroid
from calcdet_phantom.anatomy import Anatomy, build_anatomy
from calcdet_phantom.fields import smooth
from calcdet_phantom.lesions import Shape, random_shape, render, shape_centre, tram_track

PIXEL_MM = 0.07
MAX_VALUE = (1 << 14) - 1
MTF_SIGMA_PX = 0.75
"""Gaussian approximation of detector + focal-spot blur at 70 µm (MTF ≈ 0.5 at 3.6 lp/mm)."""
MU_CALCIUM_PER_PX = 12.0 * PIXEL_MM / 10  # effective attenuation of a calcium grain, per px of path
QUANTA_BEHIND_FAT = 4000.0
"""Mean detected quanta per pixel behind fully fatty, fully compressed tissue."""
ACR_PROBABILITIES = (0.3, 0.35, 0.25, 0.1)
PRESENTATION_GAMMA = 1.7
"""Presentation curve: fat dark, dense tissue bright, as processed mammograms are shown."""


@dataclass(frozen=True)
class Roi:
    """An annotated region as the release's XML holds it: a name and its points (stored grid)."""

    name: str
    points: np.ndarray


@dataclass
class Phantom:
    """A synthetic mammogram as stored (uint16, 14-bit, right breasts mirrored) and its truth."""

    image: np.ndarray
    laterality: str
    view: str
    density: int
    annotation: Annotation
    rois: list[Roi] = field(default_factory=list)
    spacing_mm: tuple[float, float] = (PIXEL_MM, PIXEL_MM)


@dataclass
class _Findings:
    """Lesions in the left frame before they are mirrored and rounded into the truth."""

    mcs: list[tuple[Shape, bool]] = field(default_factory=list)  # (shape, annotated as a point)
    clusters: list[np.ndarray] = field(default_factory=list)
    benign: list[Shape] = field(default_factory=list)
    masses: list[Shape] = field(default_factory=list)


def _spot(anatomy: Anatomy, rng: np.random.Generator, max_radius: float,
          near: tuple[float, float, float] | None = None) -> tuple[float, float] | None:
    """A random point inside the breast (normalised radius < ``max_radius``), off the pectoral muscle."""
    h, w = anatomy.mask.shape
    for _ in range(200):
        if near is None:
            x, y = rng.uniform(8, w - 9), rng.uniform(8, h - 9)
        else:
            x, y = rng.normal(near[0], near[2]), rng.normal(near[1], near[2])
        if not (8 <= x < w - 8 and 8 <= y < h - 8):
            continue
        xi, yi = int(x), int(y)
        if anatomy.radius[yi, xi] < max_radius and not anatomy.pectoral[yi, xi]:
            return float(x), float(y)
    return None


def _mc_diameter_px(rng: np.random.Generator, low: float = 0.1, high: float = 0.95) -> float:
    return float(np.clip(rng.lognormal(np.log(0.3), 0.45), low, high)) / PIXEL_MM


def _place_mc(anatomy: Anatomy, rng: np.random.Generator, findings: _Findings, diameter: float,
              near: tuple[float, float, float] | None, max_radius: float) -> Shape | None:
    for _ in range(30):
        spot = _spot(anatomy, rng, max_radius, near)
        if spot is None:
            return None
        gap = [np.hypot(spot[0] - s.cx, spot[1] - s.cy) - (diameter + s.radius * 2 * s.elongation) / 2
               for s, _ in findings.mcs]
        if not gap or min(gap) > 3:
            elongation = rng.uniform(1.4, 2.2) if diameter > 5 and rng.random() < 0.2 else 1.0
            return random_shape(spot[0], spot[1], diameter, rng, elongation=elongation)
    return None


def _cluster_ellipse(shapes: list[Shape]) -> np.ndarray:
    """An ellipse around a cluster's MCs with a margin, as a radiologist would draw it."""
    pts = np.array([shape_centre(s) for s in shapes])
    centre = pts.mean(axis=0)
    cov = np.cov((pts - centre).T) if len(pts) > 2 else np.eye(2)
    _, vecs = np.linalg.eigh(cov + 1e-6 * np.eye(2))
    proj = np.abs((pts - centre) @ vecs)
    margin = 1.2 / PIXEL_MM
    a, b = np.maximum(proj.max(axis=0) + margin, 2.0 / PIXEL_MM)
    angle = float(np.arctan2(vecs[1, 0], vecs[0, 0]))
    return ellipse_polygon(float(centre[0]), float(centre[1]), float(a), float(b), angle)


def _add_mcs(anatomy: Anatomy, rng: np.random.Generator, findings: _Findings, sharp: np.ndarray) -> None:
    n_clusters = int(rng.choice([0, 1, 1, 2]))
    n_isolated = int(rng.integers(0, 4)) if n_clusters else int(rng.integers(1, 4))
    centres: list[tuple[float, float]] = []
    for _ in range(n_clusters):
        centre = _spot(anatomy, rng, 0.75)
        if centre is None or any(np.hypot(centre[0] - x, centre[1] - y) < 15 / PIXEL_MM for x, y in centres):
            continue
        centres.append(centre)
        spread = rng.uniform(0.8, 2.2) / PIXEL_MM  # a cluster spans about 0.5-1.5 cm
        members = []
        for _ in range(int(rng.integers(4, 19))):
            shape = _place_mc(anatomy, rng, findings, _mc_diameter_px(rng), (*centre, spread), 0.88)
            if shape is not None:
                findings.mcs.append((shape, bool(rng.random() < 0.4)))
                members.append(shape)
        if members:
            findings.clusters.append(_cluster_ellipse(members))
    for _ in range(n_isolated):
        shape = _place_mc(anatomy, rng, findings, _mc_diameter_px(rng, 0.15, 0.7), None, 0.85)
        if shape is not None:
            findings.mcs.append((shape, bool(rng.random() < 0.4)))
    for shape, _ in findings.mcs:
        render(sharp, shape, MU_CALCIUM_PER_PX * rng.uniform(0.45, 1.0))


def _add_benign(anatomy: Anatomy, rng: np.random.Generator, findings: _Findings, sharp: np.ndarray) -> None:
    """Large (> 1 mm) benign calcifications, some egg-shell (lucent centre), some popcorn-like."""
    for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
        spot = _spot(anatomy, rng, 0.9)
        if spot is None:
            continue
        kind = rng.choice(["eggshell", "popcorn", "oval"], p=[0.4, 0.3, 0.3])
        diameter = rng.uniform(1.3, 4.0) / PIXEL_MM
        if kind == "popcorn":
            shape = random_shape(*spot, diameter, rng, roughness=0.35, orders=6)
        else:
            shape = random_shape(*spot, diameter, rng, roughness=0.06, elongation=rng.uniform(1.0, 1.5))
        render(sharp, shape, MU_CALCIUM_PER_PX * rng.uniform(0.7, 1.0), supersample=2,
               lucent=0.85 if kind == "eggshell" else 0.0)
        findings.benign.append(shape)


def _add_vessel_calcification(anatomy: Anatomy, rng: np.random.Generator, sharp: np.ndarray) -> None:
    """Tram-track calcification along part of a vessel (not annotated: a realistic false-positive source)."""
    if not anatomy.vessels or rng.random() > 0.35:
        return
    path, radius = anatomy.vessels[int(rng.integers(len(anatomy.vessels)))]
    n = len(path)
    start = int(rng.integers(0, max(n // 2, 1)))
    stop = min(n, start + int(n * rng.uniform(0.25, 0.6)) + 2)
    tram_track(sharp, path[start:stop], max(radius * 0.5, 3.0), rng.uniform(0.15, 0.4), rng)


def _add_masses(anatomy: Anatomy, rng: np.random.Generator, findings: _Findings, tissue: np.ndarray) -> None:
    if rng.random() > 0.15:
        return
    spot = _spot(anatomy, rng, 0.7)
    if spot is None:
        return
    diameter = rng.uniform(8, 25) / PIXEL_MM
    shape = random_shape(*spot, diameter, rng, roughness=0.3, orders=8)
    layer = np.zeros_like(tissue)
    render(layer, shape, 0.3 / diameter, supersample=1)
    tissue += smooth(layer, 4.0)
    findings.masses.append(shape)


def _to_stored(points: np.ndarray, width: int, mirrored: bool) -> np.ndarray:
    out = np.asarray(points, np.float64).copy()
    if mirrored:
        out[:, 0] = width - 1 - out[:, 0]
    return np.round(out, 3)


def _truth(findings: _Findings, height: int, width: int, mirrored: bool,
           rng: np.random.Generator) -> tuple[Annotation, list[Roi]]:
    """Mirror and round every outline, then derive targets exactly as an adapter reading the XML would."""
    targets, ignore, rois = [], [], []
    for polygon in findings.clusters:
        contour = _to_stored(np.clip(polygon, 0, [width - 1, height - 1]), width, mirrored)
        ignore.append(IgnoreRegion(contour, "Cluster"))
        rois.append(Roi("Cluster", contour))
    for shape, as_point in findings.mcs:
        contour = _to_stored(shape.polygon(), width, mirrored)
        x, y = polygon_centroid(contour)
        diameter = feret_diameter(contour)
        name = "Calcifications" if rng.random() < 0.1 else "Calcification"
        if as_point:
            point = np.round([[x, y]], 3)
            targets.append(Target(float(point[0, 0]), float(point[0, 1]), diameter, None, name))
            rois.append(Roi(name, point))
        else:
            targets.append(Target(x, y, diameter, contour, name))
            rois.append(Roi(name, contour))
    for shape in findings.benign:
        contour = _to_stored(np.clip(shape.polygon(), 0, [width - 1, height - 1]), width, mirrored)
        ignore.append(IgnoreRegion(contour, "Calcification"))
        rois.append(Roi("Calcification", contour))
    for shape in findings.masses:
        rois.append(Roi("Mass", _to_stored(np.clip(shape.polygon(48), 0, [width - 1, height - 1]), width, mirrored)))
    return Annotation(tuple(targets), tuple(ignore)), rois


def _present(attenuation: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Quantum noise, logarithm and a presentation curve to 14 bits; background stays 0."""
    noise_std = np.exp((attenuation - np.float32(2.3)) / 2) / np.float32(np.sqrt(QUANTA_BEHIND_FAT))
    noisy = rng.standard_normal(attenuation.shape, np.float32)
    noisy *= noise_std
    noisy += attenuation
    inside = noisy[mask]
    low, high = np.percentile(inside[:: max(len(inside) // 200_000, 1)], [0.05, 99.8])
    t = noisy
    t -= np.float32(low)
    t *= np.float32(1 / max(high - low, 1e-6))
    np.clip(t, 0, None, out=t)
    t **= np.float32(PRESENTATION_GAMMA)
    knee = np.float32(0.85)
    over = t > knee
    t[over] = knee + (1 - knee) * np.tanh((t[over] - knee) / (1 - knee))
    floor = 256
    t *= np.float32(MAX_VALUE - floor)
    t += np.float32(floor)
    t[~mask] = 0
    return np.rint(t).astype(np.uint16)


def synthesize(height: int = 1664, width: int = 1280, seed: int = 0, *, laterality: str | None = None,
               view: str | None = None, density: int | None = None, normal: bool | None = None) -> Phantom:
    """A deterministic synthetic mammogram for ``seed``: 70 µm pixels, 14 bits, exact truth.

    Unset arguments are drawn from the seed: laterality L/R, view CC/MLO, ACR density 1-4 and
    whether the image is normal (about 40 % are: no microcalcification at all).
    """
    if height < 64 or width < 64:
        raise ValueError(f"a phantom needs at least 64x64 pixels, got {height}x{width}")
    rng = np.random.default_rng(seed)
    laterality = laterality or str(rng.choice(["L", "R"]))
    view = view or str(rng.choice(["CC", "MLO"]))
    density = density or int(rng.choice([1, 2, 3, 4], p=ACR_PROBABILITIES))
    normal = bool(rng.random() < 0.4) if normal is None else normal
    if laterality not in ("L", "R") or view not in ("CC", "MLO") or density not in (1, 2, 3, 4):
        raise ValueError(f"laterality must be L/R, view CC/MLO, density 1-4; got {laterality}, {view}, {density}")

    anatomy = build_anatomy(height, width, view, density, rng)
    findings = _Findings()
    sharp = np.zeros((height, width), np.float32)
    if not normal:
        _add_mcs(anatomy, rng, findings, sharp)
    _add_benign(anatomy, rng, findings, sharp)
    _add_vessel_calcification(anatomy, rng, sharp)
    tissue = anatomy.attenuation
    _add_masses(anatomy, rng, findings, tissue)
    attenuation = (tissue + smooth(sharp, MTF_SIGMA_PX)) * anatomy.mask
    image = _present(attenuation, anatomy.mask, rng)
    mirrored = laterality == "R"
    if mirrored:
        image = np.ascontiguousarray(image[:, ::-1])
    annotation, rois = _truth(findings, height, width, mirrored, rng)
    return Phantom(image, laterality, view, density, annotation, rois)
