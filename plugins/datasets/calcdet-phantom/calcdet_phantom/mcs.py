"""The one microcalcification model of calcdet: how many MCs an image holds, their size, shape and layout.

``calcdet phantom`` draws from it into a synthetic breast and ``calcdet insert`` into a real
mammogram; only where an MC may go (:class:`Placement`) and how it is imprinted differ. Sizes are
physical (mm), turned into pixels with the image's own spacing. The values behind the defaults
(:class:`~calcdet_phantom.families.Calcifications`, :class:`~calcdet_phantom.families.Clusters`)
and the literature they come from are in the plugin's README.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calcdet_core.api import ellipse_polygon
from calcdet_phantom.families import Calcifications, Clusters
from calcdet_phantom.lesions import Shape, random_shape, shape_centre

Zone = str
"""Where a point is asked for: ``"centre"`` (a cluster's centre), ``"member"`` (an MC of a cluster) or
``"isolated"`` (an MC on its own); a placement may keep each further from the skin line."""
CLUSTER_CENTRE_GAP_MM = 15.0
"""Two clusters of one image are at least this far apart, so each is read as one cluster."""
CLUSTER_MARGIN_MM = 1.2
"""The margin a radiologist leaves around a cluster's MCs when outlining it."""
MIN_CLUSTER_AXIS_MM = 2.0
MC_GAP_PX = 3.0
"""Neighbouring MCs keep this many pixels between their outlines, so each stays one object."""
EDGE_PX = 8


@dataclass(frozen=True)
class Placement:
    """Where MCs may go in one image: its size, its pixel spacing and a test of each candidate point."""

    height: int
    width: int
    pixel_mm: float
    allowed: Callable[[int, int, Zone], bool]


@dataclass
class McLayout:
    """Sampled MCs (outline, and whether the truth records it as a point) and the outline of each cluster."""

    mcs: list[tuple[Shape, bool]] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    contrasts: list[float] = field(default_factory=list)  # share of a calcium grain's attenuation, per MC
    unplaced: int = 0  # MCs and cluster centres drawn for which the image had no room


def random_spot(height: int, width: int, rng: np.random.Generator, allowed: Callable[[int, int], bool],
                near: tuple[float, float, float] | None = None) -> tuple[float, float] | None:
    """A random point at least ``EDGE_PX`` from the border where ``allowed``; normal around ``near`` (x, y, sd)."""
    for _ in range(200):
        if near is None:
            x, y = rng.uniform(EDGE_PX, width - EDGE_PX - 1), rng.uniform(EDGE_PX, height - EDGE_PX - 1)
        else:
            x, y = rng.normal(near[0], near[2]), rng.normal(near[1], near[2])
        if not (EDGE_PX <= x < width - EDGE_PX and EDGE_PX <= y < height - EDGE_PX):
            continue
        if allowed(int(x), int(y)):
            return float(x), float(y)
    return None


def _diameter_px(rng: np.random.Generator, mcs: Calcifications, low: float, high: float, pixel_mm: float) -> float:
    return float(np.clip(rng.lognormal(np.log(mcs.median_mm), mcs.sigma), low, high)) / pixel_mm


def _place(where: Placement, rng: np.random.Generator, layout: McLayout, diameter: float,
           near: tuple[float, float, float] | None, zone: Zone, mcs: Calcifications) -> Shape | None:
    def allowed(x: int, y: int) -> bool:
        return where.allowed(x, y, zone)

    for _ in range(30):
        spot = random_spot(where.height, where.width, rng, allowed, near)
        if spot is None:
            return None
        gap = [np.hypot(spot[0] - s.cx, spot[1] - s.cy) - (diameter + s.radius * 2 * s.elongation) / 2
               for s, _ in layout.mcs]
        if not gap or min(gap) > MC_GAP_PX:
            elongation = rng.uniform(*mcs.elongation) if diameter > 5 and rng.random() < mcs.elongated_share else 1.0
            return random_shape(spot[0], spot[1], diameter, rng, roughness=mcs.roughness, elongation=elongation)
    return None


def cluster_outline(shapes: list[Shape], pixel_mm: float) -> np.ndarray:
    """An ellipse around a cluster's MCs with a margin, as a radiologist would draw it."""
    pts = np.array([shape_centre(s) for s in shapes])
    centre = pts.mean(axis=0)
    cov = np.cov((pts - centre).T) if len(pts) > 2 else np.eye(2)
    _, vecs = np.linalg.eigh(cov + 1e-6 * np.eye(2))
    proj = np.abs((pts - centre) @ vecs)
    a, b = np.maximum(proj.max(axis=0) + CLUSTER_MARGIN_MM / pixel_mm, MIN_CLUSTER_AXIS_MM / pixel_mm)
    angle = float(np.arctan2(vecs[1, 0], vecs[0, 0]))
    return ellipse_polygon(float(centre[0]), float(centre[1]), float(a), float(b), angle)


def _member_near(rng: np.random.Generator, centre: tuple[float, float], spread: float,
                 line: tuple[float, float] | None) -> tuple[float, float, float]:
    """Where a cluster's next MC is drawn around: the centre, or a point along the cluster's line (ductal)."""
    if line is None:
        return (*centre, spread)
    t = rng.uniform(-1.5, 1.5) * spread
    return centre[0] + t * line[0], centre[1] + t * line[1], spread * 0.2


def sample_mcs(where: Placement, rng: np.random.Generator, mcs: Calcifications, clusters: Clusters) -> McLayout:
    """Clusters and isolated MCs for one abnormal image, with a contrast per MC.

    The number of clusters is drawn from ``clusters.counts``; an image without a cluster has 1-3
    isolated MCs, one with clusters 0-3 more. Members are drawn around the cluster centre (or along a
    line: ductal clusters), never closer than ``MC_GAP_PX`` to another MC.
    """
    px = where.pixel_mm
    layout = McLayout()
    n_clusters = int(rng.choice(list(clusters.counts)))
    n_isolated = int(rng.integers(0, 4)) if n_clusters else int(rng.integers(1, 4))
    centres: list[tuple[float, float]] = []
    for _ in range(n_clusters):
        centre = random_spot(where.height, where.width, rng, lambda x, y: where.allowed(x, y, "centre"))
        if centre is None or any(np.hypot(centre[0] - x, centre[1] - y) < CLUSTER_CENTRE_GAP_MM / px
                                 for x, y in centres):
            layout.unplaced += 1
            continue
        centres.append(centre)
        spread = rng.uniform(*clusters.spread_mm) / px
        members = []
        n_members = int(rng.integers(*clusters.members))
        line = None
        if clusters.linear_share and rng.random() < clusters.linear_share:
            angle = rng.uniform(0, np.pi)
            line = (float(np.cos(angle)), float(np.sin(angle)))
        for _ in range(n_members):
            near = _member_near(rng, centre, spread, line)
            diameter = _diameter_px(rng, mcs, mcs.low_mm, mcs.high_mm, px)
            shape = _place(where, rng, layout, diameter, near, "member", mcs)
            if shape is None:
                layout.unplaced += 1
            else:
                layout.mcs.append((shape, bool(rng.random() < 0.4)))
                members.append(shape)
        if members:
            layout.clusters.append(cluster_outline(members, px))
    for _ in range(n_isolated):
        shape = _place(where, rng, layout, _diameter_px(rng, mcs, *mcs.isolated_mm, px), None, "isolated", mcs)
        if shape is None:
            layout.unplaced += 1
        else:
            layout.mcs.append((shape, bool(rng.random() < 0.4)))
    layout.contrasts = [float(rng.uniform(*mcs.contrast)) for _ in layout.mcs]
    return layout
