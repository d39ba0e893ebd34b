"""``calcdet insert --settings FILE``: a YAML of changes to the insertion model, checked before any image is read.

Keys mirror :class:`~calcdet_phantom.insertion.InsertSettings`::

    mcs: {median_mm: 0.25, contrast: [0.3, 0.9]}
    clusters: {members: [4, 12]}
    imprint: {mtf_sigma_mm: 0.08}
    skin_clearance_mm: {centre: 12}
    abnormal_share: 0.6

Every error names the key at fault, e.g. ``mcs.high_mm``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from calcdet_core.api import MC_MAX_DIAMETER_MM
from calcdet_phantom.insertion import InsertSettings
from calcdet_phantom.mcs import MC_GAP_PX

CLUSTER_REACH = 2.5
"""Members are drawn normally around the centre: nearly all within this many spreads of it."""


class SettingsError(ValueError):
    """A setting that cannot be used, with the key at fault."""


def _number(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or (len(value) != len(default) and key != "clusters.counts"):
            raise SettingsError(f"{key}: expected a list of {len(default)} numbers, got {value!r}")
        return tuple(_number(f"{key}[{i}]", v, default[0]) for i, v in enumerate(value))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(f"{key}: expected a number, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        if value != int(value):
            raise SettingsError(f"{key}: expected a whole number, got {value!r}")
        return int(value)
    return float(value)


def merged(obj: Any, changes: Any, prefix: str) -> Any:
    if not isinstance(changes, dict):
        raise SettingsError(f"{prefix or 'settings'}: expected a mapping, got {changes!r}")
    if isinstance(obj, dict):
        unknown = set(changes) - set(obj)
        if unknown:
            raise SettingsError(f"{prefix}.{sorted(unknown)[0]}: unknown key; known: {', '.join(obj)}")
        return {k: _number(f"{prefix}.{k}", changes[k], v) if k in changes else v for k, v in obj.items()}
    names = {f.name for f in dataclasses.fields(obj)}
    updates = {}
    for key, value in changes.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise SettingsError(f"{path}: unknown key; known: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        nested = dataclasses.is_dataclass(current) or isinstance(current, dict)
        updates[key] = merged(current, value, path) if nested else _number(path, value, current)
    return dataclasses.replace(obj, **updates)


def check(settings: InsertSettings) -> InsertSettings:
    """Refuse settings no image can meet: non-MC sizes, ranges upside down, more MCs than a cluster holds."""
    m, c = settings.mcs, settings.clusters
    if not 0 < m.low_mm <= m.high_mm:
        raise SettingsError(f"mcs.low_mm / mcs.high_mm: need 0 < low_mm <= high_mm, got {m.low_mm}, {m.high_mm}")
    if m.high_mm > MC_MAX_DIAMETER_MM:
        raise SettingsError(f"mcs.high_mm: {m.high_mm} mm is no microcalcification (at most "
                            f"{MC_MAX_DIAMETER_MM} mm; larger calcifications are ignore regions)")
    for key, (low, high) in (("mcs.isolated_mm", m.isolated_mm), ("mcs.contrast", m.contrast),
                             ("mcs.elongation", m.elongation), ("clusters.spread_mm", c.spread_mm)):
        if not 0 < low <= high:
            raise SettingsError(f"{key}: need 0 < low <= high, got [{low}, {high}]")
    if m.median_mm <= 0 or m.sigma < 0:
        raise SettingsError("mcs.median_mm / mcs.sigma: need median_mm > 0 and sigma >= 0")
    if not c.counts or min(c.counts) < 0 or not 1 <= c.members[0] < c.members[1]:
        raise SettingsError(f"clusters.counts / clusters.members: need counts >= 0 and 1 <= members[0] < members[1], "
                            f"got {list(c.counts)}, {list(c.members)}")
    # Each MC keeps its own disc (its diameter plus the gap); the cluster holds about pi (reach x spread)^2.
    gap_mm = MC_GAP_PX * 0.1  # the gap in pixels at a coarse 100 µm: the most room any detector gives
    need = (c.members[1] - 1) * (m.low_mm + gap_mm) ** 2
    room = (CLUSTER_REACH * c.spread_mm[1]) ** 2
    if need > room:
        raise SettingsError(f"clusters.members: up to {c.members[1] - 1} MCs of at least {m.low_mm} mm do not fit "
                            f"in a cluster of spread {c.spread_mm[1]} mm at their minimum spacing; lower members "
                            "or raise clusters.spread_mm")
    if not 0 <= settings.abnormal_share <= 1:
        raise SettingsError(f"abnormal_share: a share in [0, 1], got {settings.abnormal_share}")
    if min(settings.skin_clearance_mm.values()) < 0 or settings.finding_clearance_mm < 0:
        raise SettingsError("skin_clearance_mm / finding_clearance_mm: distances cannot be negative")
    if settings.imprint.attenuation_span <= 0 or settings.imprint.mtf_sigma_mm < 0:
        raise SettingsError("imprint.attenuation_span / imprint.mtf_sigma_mm: need a span > 0 and a sigma >= 0")
    return settings


def read_settings(path: Path | None, base: InsertSettings) -> InsertSettings:
    """``base`` with the changes in the YAML file at ``path`` (none: ``base``), checked."""
    if path is None:
        return check(base)
    import yaml

    try:
        changes = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read the settings ({exc})") from exc
    return check(merged(base, changes, ""))
