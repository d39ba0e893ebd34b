"""One synthetic mammogram with its exact truth.

Physics in one line: line integrals of attenuation (tissue + lesions) are turned into
detector quanta N = N0·exp(-A) with Poisson noise, logged back, and mapped to 14 bits
through a presentation curve; small objects are blurred by the system MTF first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from calcdet_core.api import Annotation, IgnoreRegion, Target, feret_diameter, polygon_centroid
from calcdet_phantom.anatomy import Anatomy, build_anatomy
from calcdet_phantom.distractors import Distractor, add_distractors
from calcdet_phantom.families import DEFAULT, Calcifications, Clusters, Family, Noise, get_family
from calcdet_phantom.fields import smooth
from calcdet_phantom.lesions import Shape, random_shape, render, shape_centre, tram_track
from calcdet_phantom.mcs import Placement, random_spot, sample_mcs

PIXEL_MM = 0.07
MAX_VALUE = (1 << 14) - 1
MU_CALCIUM_PER_PX = 12.0 * PIXEL_MM / 10  # effective attenuation of a calcium grain, per px of path
DISTRACTOR_CLEARANCE_MM = 2.0
"""Distractors keep this far from every MC, so a detection near one is never credited to the other."""


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
    distractors: list[Distractor] = field(default_factory=list)  # not targets, stored grid
    family: str = DEFAULT


@dataclass
class _Findings:
    """Lesions in the left frame before they are mirrored and rounded into the truth."""

    mcs: list[tuple[Shape, bool]] = field(default_factory=list)  # (shape, annotated as a point)
    clusters: list[np.ndarray] = field(default_factory=list)
    benign: list[Shape] = field(default_factory=list)
    masses: list[Shape] = field(default_factory=list)


ZONE_RADIUS = {"centre": 0.75, "member": 0.88, "isolated": 0.85}
"""How far out (normalised breast radius) each kind of MC point may lie: clear of the skin line."""


def _spot(anatomy: Anatomy, rng: np.random.Generator, max_radius: float) -> tuple[float, float] | None:
    """A random point inside the breast (normalised radius < ``max_radius``), off the pectoral muscle."""
    return random_spot(*anatomy.mask.shape, rng, partial(_inside, anatomy, max_radius))


def _inside(anatomy: Anatomy, max_radius: float, x: int, y: int) -> bool:
    return bool(anatomy.radius[y, x] < max_radius and not anatomy.pectoral[y, x])


def _add_mcs(anatomy: Anatomy, rng: np.random.Generator, findings: _Findings, sharp: np.ndarray,
             mcs: Calcifications, clusters: Clusters) -> None:
    where = Placement(*anatomy.mask.shape, PIXEL_MM, lambda x, y, zone: _inside(anatomy, ZONE_RADIUS[zone], x, y))
    layout = sample_mcs(where, rng, mcs, clusters)
    findings.mcs, findings.clusters = layout.mcs, layout.clusters
    for (shape, _), contrast in zip(layout.mcs, layout.contrasts, strict=True):
        render(sharp, shape, MU_CALCIUM_PER_PX * contrast)


def _add_benign(anatomy: Anatomy, rng: np.random.Generator, findings: _Findings, sharp: np.ndarray,
                counts: tuple[int, ...]) -> None:
    """Large (> 1 mm) benign calcifications, some egg-shell (lucent centre), some popcorn-like."""
    for _ in range(int(rng.choice(list(counts)))):
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


def _add_vessel_calcification(anatomy: Anatomy, rng: np.random.Generator, sharp: np.ndarray, chance: float) -> None:
    """Tram-track calcification along part of a vessel (not annotated: a realistic false-positive source)."""
    if not anatomy.vessels or rng.random() > chance:
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


def _noise_std(attenuation: np.ndarray, noise: Noise) -> np.ndarray:
    """Std of the log signal: quantum (Poisson, variance N) plus electronic (variance e²) over N quanta."""
    if not noise.electronic:
        return np.exp((attenuation - np.float32(2.3)) / 2) / np.float32(np.sqrt(noise.quanta))
    quanta = np.float32(noise.quanta) * np.exp(np.float32(2.3) - attenuation)
    return np.sqrt(quanta + np.float32(noise.electronic**2)) / quanta


def _present(attenuation: np.ndarray, mask: np.ndarray, rng: np.random.Generator, noise: Noise,
             window: np.ndarray | None = None) -> np.ndarray:
    """Detector noise, logarithm and a presentation curve to 14 bits; background stays 0.

    The display window comes from the pixels in ``window`` (default: the breast), so a clip that
    saturates does not darken the tissue around it.
    """
    noise_std = _noise_std(attenuation, noise)
    noisy = rng.standard_normal(attenuation.shape, np.float32)
    if noise.correlation_px:  # blurred white noise, rescaled to unit variance again
        noisy = smooth(noisy, noise.correlation_px) * np.float32(2 * noise.correlation_px * np.sqrt(np.pi))
    noisy *= noise_std
    noisy += attenuation
    inside = noisy[mask if window is None else window]
    low, high = np.percentile(inside[:: max(len(inside) // 200_000, 1)], [0.05, 99.8])
    t = noisy
    t -= np.float32(low)
    t *= np.float32(1 / max(high - low, 1e-6))
    np.clip(t, 0, None, out=t)
    t **= np.float32(noise.gamma)
    knee = np.float32(0.85)
    over = t > knee
    t[over] = knee + (1 - knee) * np.tanh((t[over] - knee) / (1 - knee))
    floor = 256
    t *= np.float32(MAX_VALUE - floor)
    t += np.float32(floor)
    t[~mask] = 0
    return np.rint(t).astype(np.uint16)


def synthesize(height: int = 1664, width: int = 1280, seed: int = 0, *, laterality: str | None = None,
               view: str | None = None, density: int | None = None, normal: bool | None = None,
               family: str = DEFAULT) -> Phantom:
    """A deterministic synthetic mammogram for ``seed``: 70 µm pixels, 14 bits, exact truth.

    Unset arguments are drawn from the seed: laterality L/R, view CC/MLO, ACR density 1-4 and
    whether the image is normal (about 40 % are: no microcalcification at all). ``family``
    names the generator's settings (:data:`calcdet_phantom.families.FAMILIES`).
    """
    spec = get_family(family)
    if height < 64 or width < 64:
        raise ValueError(f"a phantom needs at least 64x64 pixels, got {height}x{width}")
    rng = np.random.default_rng(seed)
    laterality = laterality or str(rng.choice(["L", "R"]))
    view = view or str(rng.choice(["CC", "MLO"]))
    density = density or int(rng.choice([1, 2, 3, 4], p=spec.texture.acr_probabilities))
    normal = bool(rng.random() < 0.4) if normal is None else normal
    if laterality not in ("L", "R") or view not in ("CC", "MLO") or density not in (1, 2, 3, 4):
        raise ValueError(f"laterality must be L/R, view CC/MLO, density 1-4; got {laterality}, {view}, {density}")

    anatomy = build_anatomy(height, width, view, density, rng, spec.texture)
    findings = _Findings()
    sharp = np.zeros((height, width), np.float32)
    if not normal:
        _add_mcs(anatomy, rng, findings, sharp, spec.mcs, spec.clusters)
    _add_benign(anatomy, rng, findings, sharp, spec.distractors.benign_counts)
    _add_vessel_calcification(anatomy, rng, sharp, spec.distractors.tram_track)
    distractors, drawn = _distractors(anatomy, rng, spec, findings)
    window = None
    if drawn is not None:
        sharp += drawn
        window = anatomy.mask & (smooth((drawn > 0).astype(np.float32), 2.0) < 0.01)
    tissue = anatomy.attenuation
    _add_masses(anatomy, rng, findings, tissue)
    attenuation = (tissue + smooth(sharp, spec.noise.mtf_sigma_px)) * anatomy.mask
    image = _present(attenuation, anatomy.mask, rng, spec.noise, window)
    mirrored = laterality == "R"
    if mirrored:
        image = np.ascontiguousarray(image[:, ::-1])
    annotation, rois = _truth(findings, height, width, mirrored, rng)
    stored = [Distractor(d.kind, _to_stored(d.points, width, mirrored)) for d in distractors]
    return Phantom(image, laterality, view, density, annotation, rois, distractors=stored, family=spec.name)


def _distractors(anatomy: Anatomy, rng: np.random.Generator, spec: Family,
                 findings: _Findings) -> tuple[list[Distractor], np.ndarray | None]:
    """The family's distractors, kept clear of the MCs, and the layer they are drawn in (``None``, and no random
    number used, when the family has none)."""
    rates = spec.distractors
    if not any((rates.speck_lines, rates.skin_folds, rates.dust, rates.clips, rates.markers)):
        return [], None
    centres = np.array([shape_centre(s) for s, _ in findings.mcs]).reshape(-1, 2)
    reach = np.array([s.radius * s.elongation for s, _ in findings.mcs]) + DISTRACTOR_CLEARANCE_MM / PIXEL_MM

    def clear(x: float, y: float) -> bool:
        return not len(centres) or bool((np.hypot(centres[:, 0] - x, centres[:, 1] - y) > reach).all())

    layer = np.zeros(anatomy.mask.shape, np.float32)
    return add_distractors(anatomy, rng, rates, layer, PIXEL_MM, MU_CALCIUM_PER_PX, clear), layer
