"""Named phantom families: what one generator fixes (tissue, noise, MCs, clusters, distractors), varied.

A setting tuned on one generator's images is a fact about that generator; a family is another
generator, so a benchmark can ask whether a setting holds across them. ``default`` holds exactly the
values the synthesiser has always used (same seed, same bytes); the others change several of them.
Pure data: importing this module costs nothing (the command's option lists the names from here).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Texture:
    """Parenchyma: 1/f^beta fields soft-thresholded into gland per ACR class; pectoral muscle attenuation."""

    beta: float = 3.0
    strand_beta: float = 2.9
    strand_weight: float = 0.5
    strand_stretch: float = 3.0
    softness: float = 0.85  # width of the fat/gland transition (larger: more mixed tissue)
    muscle: float = 3.3  # attenuation of the pectoral muscle over a full compressed thickness
    acr_probabilities: tuple[float, float, float, float] = (0.3, 0.35, 0.25, 0.1)


@dataclass(frozen=True)
class Noise:
    """Detector and display: quanta behind fat (dose), electronic noise (quanta rms), MTF blur, presentation."""

    quanta: float = 4000.0
    electronic: float = 0.0
    correlation_px: float = 0.0  # noise blurred by this sigma (a vendor's processing), 0: white
    mtf_sigma_px: float = 0.75
    gamma: float = 1.7


@dataclass(frozen=True)
class Calcifications:
    """MC size (log-normal, mm), contrast (share of a calcium grain's attenuation) and shape."""

    median_mm: float = 0.3
    sigma: float = 0.45
    low_mm: float = 0.1
    high_mm: float = 0.95
    isolated_mm: tuple[float, float] = (0.15, 0.7)
    contrast: tuple[float, float] = (0.45, 1.0)
    elongated_share: float = 0.2
    elongation: tuple[float, float] = (1.4, 2.2)
    roughness: float = 0.18


@dataclass(frozen=True)
class Clusters:
    """How many clusters an abnormal image has, how spread (mm), how many MCs, how often they run in a line."""

    counts: tuple[int, ...] = (0, 1, 1, 2)
    spread_mm: tuple[float, float] = (0.8, 2.2)
    members: tuple[int, int] = (4, 19)  # integers(low, high): high exclusive
    linear_share: float = 0.0


@dataclass(frozen=True)
class Distractors:
    """Per-image rates of structures that fool MC detectors (expected counts; 0 draws nothing)."""

    benign_counts: tuple[int, ...] = (0, 0, 1, 1, 2)  # large benign calcifications (ignore regions)
    tram_track: float = 0.35  # chance of a tram-track vessel calcification
    speck_lines: float = 0.0  # vascular calcification as lines of separate specks
    skin_folds: float = 0.0
    dust: float = 0.0
    clips: float = 0.0  # surgical clips: metal, far brighter than tissue
    markers: float = 0.0  # skin markers (metal beads or rings) near the skin line


@dataclass(frozen=True)
class Family:
    name: str
    summary: str
    texture: Texture = field(default_factory=Texture)
    noise: Noise = field(default_factory=Noise)
    mcs: Calcifications = field(default_factory=Calcifications)
    clusters: Clusters = field(default_factory=Clusters)
    distractors: Distractors = field(default_factory=Distractors)


DEFAULT = "default"
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family(DEFAULT, "the original generator: 1/f^3 tissue, quantum noise, 0.1-0.95 mm MCs in round clusters, "
                    "tram-track vessel and large benign calcifications"),
    Family("dense-lowdose",
           "denser breasts with finer, more mixed texture; low dose with electronic noise, correlated noise, a "
           "softer MTF and flatter presentation (another vendor); a brighter pectoral muscle",
           texture=Texture(beta=2.6, strand_beta=2.5, strand_weight=0.8, strand_stretch=4.0, softness=1.2,
                           muscle=3.8, acr_probabilities=(0.05, 0.2, 0.4, 0.35)),
           noise=Noise(quanta=1200.0, electronic=8.0, correlation_px=0.6, mtf_sigma_px=1.0, gamma=1.3)),
    Family("faint-linear",
           "smaller, fainter MCs (many sub-visible), more irregular and elongated, in tight clusters that often "
           "run in a line (ductal); mostly fatty tissue, higher dose",
           texture=Texture(acr_probabilities=(0.45, 0.35, 0.15, 0.05)),
           noise=Noise(quanta=6000.0, mtf_sigma_px=0.6, gamma=1.9),
           mcs=Calcifications(median_mm=0.2, sigma=0.5, high_mm=0.7, isolated_mm=(0.1, 0.4), contrast=(0.15, 0.6),
                              elongated_share=0.45, elongation=(1.6, 3.0), roughness=0.3),
           clusters=Clusters(counts=(1, 1, 2, 3), spread_mm=(0.4, 1.2), members=(6, 30), linear_share=0.6)),
    Family("cluttered",
           "the default tissue and MCs among many things that fool MC detectors: vascular calcifications as lines "
           "of specks, more large benign calcifications, skin folds, dust specks, surgical clips and skin markers",
           distractors=Distractors(benign_counts=(0, 1, 1, 2, 3), tram_track=0.5, speck_lines=1.0, skin_folds=0.6,
                                   dust=4.0, clips=0.5, markers=0.5)),
)}


def get_family(name: str) -> Family:
    """The family called ``name``; a clear error naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown phantom family {name!r}; known: {', '.join(FAMILIES)}") from None
