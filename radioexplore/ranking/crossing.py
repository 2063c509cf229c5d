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
from scipy import ndimage

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


#: The column :func:`single_island_x` fills: one island that is an X by itself (its arms), 0..1.
X_ARMS = "x_arms"


@dataclass(frozen=True)
class ArmConfig:
    """When one island is an X-shaped source by itself: four arms from its centre pairing into two crossed axes.

    Lengths in beams (FWHM), angles in degrees, so the test holds for any survey."""

    directions: int = 72  # rays cast from the centre, evenly round the circle
    gap_beams: float = 1.0  # a ray crosses a gap in the island this long (a beam: noise dips inside an arm)
    min_arm_beams: float = 2.0  # an arm reaches at least this far from the centre (beyond the beam round the host)
    valley: float = 0.5  # two neighbouring arms are distinct when the reach between them falls below this share
    straight_deg: float = 30.0  # the two arms of an axis are at most this far from opposite (180 deg)
    min_crossing_deg: float = 30.0  # the two axes cross at least this much (Cheung 2007: at a clear angle)
    # a crossing at this angle or more reads full evidence (below it, the sine over this angle's sine):
    # :class:`CrossConfig`'s least crossing for three islands
    full_crossing_deg: float = 45.0
    full_wing_ratio: float = 0.8  # the shorter axis at this share of the longer reads full evidence (Cheung 2007)
    # the host is sought within this share of the island's half-extent from the flux centroid (lobes of a
    # flux ratio up to (1 + s) / (1 - s) move the centroid that far), on a grid of this many beams
    centre_search: float = 0.15
    centre_step_beams: float = 0.5

    def __post_init__(self) -> None:
        if not self.directions >= 16:
            raise ValueError(f"ArmConfig.directions must be at least 16, not {self.directions}")
        if not self.gap_beams >= 0 or not self.min_arm_beams > 0:
            raise ValueError(
                f"ArmConfig.gap_beams must be >= 0 and min_arm_beams > 0, not {self.gap_beams}, {self.min_arm_beams}"
            )
        if not 0 < self.valley < 1:
            raise ValueError(f"ArmConfig.valley must lie in (0, 1), not {self.valley}")
        if not 0 <= self.straight_deg < 90 or not 0 < self.min_crossing_deg <= 90:
            raise ValueError(
                f"ArmConfig.straight_deg must lie in [0, 90) and min_crossing_deg in (0, 90], not "
                f"{self.straight_deg}, {self.min_crossing_deg}"
            )
        if not 0 <= self.centre_search < 1 or not self.centre_step_beams > 0:
            raise ValueError(
                f"ArmConfig.centre_search must lie in [0, 1) and centre_step_beams be positive, not "
                f"{self.centre_search}, {self.centre_step_beams}"
            )
        if not self.min_crossing_deg <= self.full_crossing_deg <= 90:
            raise ValueError(
                f"ArmConfig.full_crossing_deg must lie in [min_crossing_deg, 90], not {self.full_crossing_deg}"
            )
        if not 0 < self.full_wing_ratio <= 1:
            raise ValueError(f"ArmConfig.full_wing_ratio must lie in (0, 1], not {self.full_wing_ratio}")


def _island_mask(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The island's pixels as a boolean image over their box, and the box's corner (x0, y0)."""
    xs, ys = np.asarray(xs, np.int64), np.asarray(ys, np.int64)
    x0, y0 = int(xs.min()), int(ys.min())
    mask = np.zeros((int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1), bool)
    mask[ys - y0, xs - x0] = True
    return mask, x0, y0


def arm_reach(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, fwhm: float, config: ArmConfig) -> np.ndarray:
    """How far (beams) the island of pixels ``(xs, ys)`` reaches from ``(cx, cy)`` along each of
    ``config.directions`` rays, walking outwards and crossing gaps of up to ``config.gap_beams``."""
    if len(xs) == 0:
        return np.zeros(config.directions)
    mask, x0, y0 = _island_mask(xs, ys)
    return _reach(mask, cx - x0, cy - y0, fwhm, config)


def _reach(mask: np.ndarray, cx: float, cy: float, fwhm: float, config: ArmConfig) -> np.ndarray:
    """:func:`arm_reach` on a boolean island image, centre in its pixel frame."""
    step = 0.5
    longest = float(np.hypot(max(cx, mask.shape[1] - cx), max(cy, mask.shape[0] - cy)))
    r = np.arange(0.0, longest + step, step)
    theta = np.arange(config.directions) * (2 * np.pi / config.directions)
    px = np.rint(cx + np.cos(theta)[:, None] * r[None, :]).astype(np.int64)
    py = np.rint(cy + np.sin(theta)[:, None] * r[None, :]).astype(np.int64)
    inside = (px >= 0) & (py >= 0) & (px < mask.shape[1]) & (py < mask.shape[0])
    hit = np.zeros(px.shape, bool)
    hit[inside] = mask[py[inside], px[inside]]
    gap = max(1, int(np.ceil(config.gap_beams * fwhm / step)))
    # the centre counts as on the island; the walk goes on while the last island sample lies within the gap
    padded = np.concatenate([np.ones((hit.shape[0], 1), bool), hit], axis=1)
    alive = ndimage.maximum_filter1d(padded.view(np.uint8), gap + 1, axis=1, origin=-((gap + 1) // 2) + gap)
    alive = alive.astype(bool)[:, 1:]
    stop = np.where(alive.all(axis=1), hit.shape[1], np.argmin(alive, axis=1))
    idx = np.arange(hit.shape[1])[None, :]
    last = np.where(hit & (idx < stop[:, None]), idx, -1).max(axis=1)
    return np.where(last >= 0, r[np.maximum(last, 0)], 0.0) / fwhm


def arms(reach: np.ndarray, config: ArmConfig) -> np.ndarray:
    """Indices of the distinct arms of a reach profile (one value per direction, round the circle): local
    maxima at least ``config.min_arm_beams`` long, merged with a neighbour unless the reach between them
    falls below ``config.valley`` of the shorter."""
    n = reach.size
    peaks = [
        k
        for k in range(n)
        if reach[k] >= config.min_arm_beams and reach[k] >= reach[(k - 1) % n] and reach[k] > reach[(k + 1) % n]
    ]
    merged = True
    while merged and len(peaks) > 1:
        merged = False
        for i in range(len(peaks)):
            a, b = peaks[i], peaks[(i + 1) % len(peaks)]
            between = [(a + j) % n for j in range(1, (b - a) % n or n)]
            low = min(reach[between]) if between else reach[a]
            if low >= config.valley * min(reach[a], reach[b]):
                peaks.remove(a if reach[a] < reach[b] else b)
                merged = True
                break
    return np.asarray(peaks, dtype=np.int64)


def single_island_x(
    xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, fwhm: float, config: ArmConfig | None = None
) -> float:
    """How X-shaped one island is by itself (pixels ``(xs, ys)``, flux centroid ``(cx, cy)``, beam ``fwhm``
    px): two axes, each a pair of near-opposite arms from one centre, crossing at ``config.full_crossing_deg``
    or more read 1 (less: the sine over that angle's sine), times the shorter axis's length over
    ``config.full_wing_ratio`` of the longer (at most 1); the best
    over centres on the island within ``config.centre_search`` of its half-extent from the centroid; 0
    without four such arms. An FR II (one axis), a bent tail (a V: arms on one side), a ring (no reach from
    a hollow centre) or a compact blend (arms shorter than ``config.min_arm_beams``) reads 0."""
    config = config or ArmConfig()
    if len(xs) == 0:
        return 0.0
    mask, x0, y0 = _island_mask(xs, ys)
    cx, cy = cx - x0, cy - y0
    half = float(np.hypot(np.asarray(xs) - x0 - cx, np.asarray(ys) - y0 - cy).max())
    if half < 2 * config.min_arm_beams * fwhm / 2 + fwhm:  # no two axes of two arms each fit
        return 0.0
    radius = config.centre_search * half
    step = config.centre_step_beams * fwhm
    grid = np.arange(-int(radius // step), int(radius // step) + 1) * step  # holds 0: the centroid
    dx, dy = np.meshgrid(grid, grid)
    near = dx**2 + dy**2 <= radius**2 + 1e-9
    px, py = cx + dx[near], cy + dy[near]
    ix, iy = np.rint(px).astype(np.int64), np.rint(py).astype(np.int64)
    on = (ix >= 0) & (iy >= 0) & (ix < mask.shape[1]) & (iy < mask.shape[0])
    on[on] = mask[iy[on], ix[on]]
    on |= (dx[near] == 0) & (dy[near] == 0)  # the centroid itself is always tried
    return max(_crossed_axes(_reach(mask, x, y, fwhm, config), config) for x, y in zip(px[on], py[on], strict=True))


def _crossed_axes(reach: np.ndarray, config: ArmConfig) -> float:
    """The X reading of one reach profile (:func:`single_island_x` at one centre)."""
    found = arms(reach, config)
    if found.size < 4:
        return 0.0
    deg = found * (360.0 / reach.size)
    axes = []  # (axis direction mod 180, its length in beams, its two arms)
    for i in range(found.size):
        for j in range(i + 1, found.size):
            if abs(((deg[j] - deg[i]) % 360.0) - 180.0) <= config.straight_deg:
                two = np.radians(2.0 * deg[[i, j]])  # the axis: the mean of the two directions mod 180
                mid = float(np.degrees(0.5 * np.arctan2(np.sin(two).sum(), np.cos(two).sum())) % 180.0)
                axes.append((mid, reach[found[i]] + reach[found[j]], {i, j}))
    best = 0.0
    for a in range(len(axes)):
        for b in range(a + 1, len(axes)):
            if axes[a][2] & axes[b][2]:
                continue
            cross = float(_apart(axes[a][0], np.asarray([axes[b][0]]))[0])
            if cross < config.min_crossing_deg:
                continue
            short, long_ = sorted((axes[a][1], axes[b][1]))
            angle = min(1.0, np.sin(np.radians(cross)) / np.sin(np.radians(config.full_crossing_deg)))
            best = max(best, float(angle) * min(1.0, short / (config.full_wing_ratio * long_)))
    return best
