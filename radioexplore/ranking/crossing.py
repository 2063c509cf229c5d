"""X-shaped sources: a pair of lobes crossed through its middle by a fainter, elongated pair of wings.

An X-shaped radio galaxy has two pairs of lobes: the active ones, with hotspots, and a second pair
of wings without hotspots, at a large angle to the first, through the same host (Leahy & Williams
1984; Cheung 2007, whose sample asks the wings to be long and at a clear angle to the active
lobes). At the depth of a survey the three often come apart into three islands: two lobes, and the
wings as one elongated island through the middle (the host between them), none of which looks
peculiar alone (benchmarks/README.md, issue 24: X-shaped galaxies were the peculiar kind the shape
forest missed most on new skies). The geometry, in beams and angles so that it holds for any survey:

- the wings are an elongated island (axis ratio at least ``min_wing_axis_ratio``);
- the lobes are two other islands whose midpoint lies within ``midpoint_tolerance`` of their
  separation from the wings' centroid, that separation between ``separation_span`` times the wings'
  extent, each lobe elongated along the line joining them (the lobe test of
  :mod:`radioexplore.ranking.sources`: axis ratio at least ``SourceConfig.min_axis_ratio``, major
  axis within ``SourceConfig.max_misalignment_deg`` of that line), their fluxes within
  ``SourceConfig.max_flux_ratio``;
- the line joining the lobes crosses the wings' major axis at ``min_crossing_deg`` or more (the
  second axis of :func:`radioexplore.ranking.object_shape.cross_contrast` is as far apart);
- the wings peak no brighter than either lobe (the active lobes carry the hotspots).

Each of the three islands gets ``x_crossing`` = the sine of the crossing angle (1 for a right
angle, 0 for an island in no such triple), which the object forest sees beside the shape features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radioexplore.ranking.sources import SourceConfig

#: The column :func:`crossings` fills (one value per object).
X_CROSSING = "x_crossing"


@dataclass(frozen=True)
class CrossConfig:
    """When three islands are one X-shaped source; the lobe test is :class:`SourceConfig`'s."""

    min_wing_axis_ratio: float = 2.0  # the wings are drawn out: clearly longer than wide
    min_crossing_deg: float = 45.0  # the lobe line crosses the wings' axis at least this much
    midpoint_tolerance: float = 0.15  # the lobes' midpoint within this fraction of their separation of the wings
    separation_span: tuple[float, float] = (0.5, 2.5)  # lobe separation over the wings' extent

    def __post_init__(self) -> None:
        if not self.min_wing_axis_ratio >= 1:
            raise ValueError(f"CrossConfig.min_wing_axis_ratio must be at least 1, not {self.min_wing_axis_ratio}")
        if not 0 < self.min_crossing_deg <= 90:
            raise ValueError(f"CrossConfig.min_crossing_deg must be in (0, 90], not {self.min_crossing_deg}")
        if not self.midpoint_tolerance > 0:
            raise ValueError(f"CrossConfig.midpoint_tolerance must be positive, not {self.midpoint_tolerance}")
        lo, hi = self.separation_span
        if not 0 < lo < hi:
            raise ValueError(f"CrossConfig.separation_span must satisfy 0 < lo < hi, not {self.separation_span}")


def crossings(
    table: pd.DataFrame,
    fwhm_px: float,
    config: CrossConfig | None = None,
    lobes: SourceConfig | None = None,
) -> np.ndarray:
    """``x_crossing`` for the objects of one image (``x, y, axis_angle_deg, axis_ratio, extent_beams,
    flux_jy, peak_snr``; pixels of a beam ``fwhm_px`` wide): the sine of the angle at which the best
    lobe pair crosses an island as its wings, for the wings and both lobes; 0 elsewhere. The lobe test
    is ``lobes``' (:class:`SourceConfig`, as :func:`radioexplore.ranking.sources.associate` pairs lobes)."""
    config = config or CrossConfig()
    lobes = lobes or SourceConfig()
    n = len(table)
    out = np.zeros(n, dtype=np.float32)
    if n < 3:
        return out
    x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
    angle = table["axis_angle_deg"].to_numpy(float)
    ratio = table["axis_ratio"].to_numpy(float)
    extent = table["extent_beams"].to_numpy(float) * fwhm_px
    flux = np.maximum(np.nan_to_num(table["flux_jy"].to_numpy(float)), 1e-30)
    peak = table["peak_snr"].to_numpy(float)
    lo, hi = config.separation_span
    lobe = np.flatnonzero(ratio >= lobes.min_axis_ratio)
    for w in np.flatnonzero(ratio >= config.min_wing_axis_ratio):
        reach = hi * extent[w] / 2 * (1 + config.midpoint_tolerance)
        near = lobe[(lobe != w) & (np.hypot(x[lobe] - x[w], y[lobe] - y[w]) <= reach) & (peak[lobe] >= peak[w])]
        if len(near) < 2:
            continue
        a, b = np.triu_indices(len(near), 1)
        a, b = near[a], near[b]
        sep = np.hypot(x[b] - x[a], y[b] - y[a])
        mid = np.hypot((x[a] + x[b]) / 2 - x[w], (y[a] + y[b]) / 2 - y[w])
        line = np.degrees(np.arctan2(y[b] - y[a], x[b] - x[a])) % 180.0
        cross = _apart(angle[w], line)
        ok = (sep >= lo * extent[w]) & (sep <= hi * extent[w]) & (mid <= config.midpoint_tolerance * sep)
        ok &= cross >= config.min_crossing_deg
        ok &= np.maximum(flux[a], flux[b]) <= lobes.max_flux_ratio * np.minimum(flux[a], flux[b])
        ok &= np.maximum(_apart(angle[a], line), _apart(angle[b], line)) <= lobes.max_misalignment_deg
        if not ok.any():
            continue
        best = np.flatnonzero(ok)[np.argmax(cross[ok])]
        s = float(np.sin(np.radians(cross[best])))
        for i in (w, a[best], b[best]):
            out[i] = max(out[i], s)
    return out


def _apart(axis_deg: np.ndarray | float, line_deg: np.ndarray) -> np.ndarray:
    """Angle (deg, 0..90) between undirected axes and lines, elementwise."""
    d = np.abs((np.asarray(axis_deg, float) - np.asarray(line_deg, float)) % 180.0)
    return np.minimum(d, 180.0 - d)
