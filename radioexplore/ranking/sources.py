"""Islands into sources: the lobes of a double radio source, found as separate islands, joined into one source.

A giant radio galaxy is two faint lobes tens of beams apart with a faint core between them: three
islands, none of which looks peculiar alone. Radio catalogues join such components into sources
(FIRST: Magliocchetti et al. 1998, Proctor 2011; LoTSS DR1/DR2: Williams et al. 2019, Mostert et al.
2022's lobe association for giant radio galaxies; Dabhade et al. 2020's giant radio galaxies: two
lobes on either side of a host, the source's size the distance between its lobes' far ends). We
follow the geometry those pairings rest on, in beams so that it holds for any survey:

- a lobe is resolved (integrated over peak flux at least ``resolved_ratio``, the catalogues' test
  of an unresolved source) and elongated (``min_axis_ratio``: a lobe is drawn out along its jet,
  Leahy & Williams 1984); a core is unresolved;
- two lobes pair when they lie at most ``max_separation_beams`` apart, their fluxes within a factor
  ``max_flux_ratio`` (the lobes of one jet pair carry comparable flux), and each one's major axis
  points at the other or, in a bent double, at the core (within ``max_misalignment_deg``);
- a core is an unresolved object in the middle third of the line joining the lobes (arm-length
  ratio at most 2, as nearly all giants of Dabhade et al. 2020), within ``core_offset`` of their
  distance off it; the nearest to the line is taken;
- a pair is kept only where chance alone would give fewer than ``max_chance`` pairs as good
  (``association_chance``): the lobes within that distance of either lobe in the same image, times
  the chance that random axes point as well (m / 90 deg each), times, with a core, the chance that
  one of the field's unresolved objects falls as near the line's middle third. The field's own
  density sets it, so a crowded cluster field needs better alignment than an empty one (the
  reliability of a cross-match, as for the likelihood ratio of Sutherland & Saunders 1992);
- each island joins at most one partner: the pairs least likely by chance are taken first;
- a lobe is sky emission, which is positive: an island flanked by troughs of a third of its own flux or
  more (``max_negative_ratio``: the objects' likely-artefact line) is a calibration error's crest, not a
  lobe (Taylor et al. 1999, ch. 15). On simulated surveys these were most of the pairs matching no
  simulated source: thin stripes and spokes pointing at each other;
- a faint lobe breaks into two or three islands along its jet (``lobe_pieces``): a free resolved island
  beyond the middle third, drawn out along the double's axis, joins the lobe on its side when chance
  would put fewer than ``max_chance`` islands as near that lobe along the axis and as near the axis,
  pointing as well; the source's extent is then its members' far end to far end.

Three further pieces of evidence are options, off by default: measured on simulated surveys each joined
more giants and, at the margin, more pairs of unrelated sources (benchmarks/README.md, issue 24,
"giant-join"): ``round_lobes`` (a relaxed lobe without an axis joins beside a core, bringing no
alignment), ``core_chance="observed"`` (the core's chance is that of a random unresolved object as
near the midpoint as it, along and across, rather than anywhere in the middle third) and
``flux_chance`` (the neighbours counted against a pair are only those as comparable in flux).
A fourth, ``one_sided_lobes`` (off), takes no island with emission on both sides of its own brightest
beam as a lobe: a lobe is one end of a jet pair (Fanaroff & Riley 1974; Leahy & Williams 1984), a
galaxy with a jet and a counter-jet round its own core is not (Laing & Bridle 2014: the two within a
factor of a few); such galaxies then neither make false doubles nor count against a giant's pair.

Per source the features astronomers describe a double by: its extent (far end to far end, in
beams), the lobes' worst misalignment, the arm-length ratio (core to each lobe; NaN without a core)
and the lobes' flux ratio; a single island is its own source (extent its own, the others NaN).
Measured on simulated surveys (benchmarks/README.md, issue 24): the rankings do not use the
sources (a tile taking its best source's score did not find more peculiar tiles there); the
table and the queue's words do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radioexplore.ranking.lobe_cores import two_sided

#: Columns :func:`associate` adds (one row per object still): the source each object belongs to (the
#: row index of its first lobe within the table given, or its own), its partner lobe (for a piece of a
#: lobe, the opposite lobe) and the source's core (row index, -1 for none), the number of islands in
#: the source and its features.
SOURCE_COLUMNS = (
    "source_id",
    "partner",
    "core",
    "source_components",
    "source_extent_beams",
    "lobe_misalignment_deg",
    "arm_ratio",
    "lobe_flux_ratio",
    "association_chance",
)


@dataclass(frozen=True)
class SourceConfig:
    """When islands are one source; recorded with the objects' configuration."""

    max_separation_beams: float = 120.0  # lobe centroids at most this many beam FWHM apart
    max_misalignment_deg: float = 25.0  # each lobe's major axis within this of the line to its partner
    min_axis_ratio: float = 1.3  # below, an island has no axis: no lobe (with round_lobes, one bringing no alignment)
    max_flux_ratio: float = 10.0  # the lobes' fluxes within this factor
    resolved_ratio: float = 1.5  # integrated / peak flux: at least this is resolved (a lobe), below a core
    core_offset: float = 0.1  # a core lies within this fraction of the lobe separation off the line
    core_span: tuple[float, float] = (1 / 3, 2 / 3)  # ... and in its middle third (arm-length ratio <= 2)
    angle_floor_deg: float = 5.0  # an axis is known no better than this
    max_chance: float = 0.01  # keep a pair when chance alone would give fewer than this many as good
    # a resolved island without an axis (a relaxed, round lobe) may be a lobe; it then brings no
    # alignment evidence, so only a core (and its partner's alignment) can make the pair unlikely by chance
    round_lobes: bool = False
    # the core's chance: a random unresolved object as near the midpoint as this one ("observed"), or
    # anywhere in the corridor's middle third ("span", as before)
    core_chance: str = "span"
    # the chance counts only the neighbours whose flux is as comparable with the lobe's as its partner's
    # (ratio at most the pair's, or flux_floor: a faint lobe's flux is known no better than this)
    flux_chance: bool = False
    flux_floor: float = 1.25
    # a lobe is sky emission, which is positive: an island whose surroundings carry troughs of at least
    # this share of its own flux (negative_ratio; an object artefact score 2r / (1 + r) of 0.5, the
    # objects' likely-artefact line) is a calibration pattern, not a lobe (Taylor et al. 1999, ch. 15)
    max_negative_ratio: float = 1.0 / 3.0
    # a lobe may be two or three islands along its jet: join a double's other pieces (_add_pieces)
    lobe_pieces: bool = True
    # a lobe is one end of a jet pair: an island with emission on both sides of its brightest beam (the
    # fainter side at least 1 / lobe_sidedness of the brighter and at least lobe_min_side of its flux; the
    # peak_profile columns, lobe_cores.two_sided) is a galaxy of its own, no lobe candidate
    one_sided_lobes: bool = False
    lobe_sidedness: float = 3.0  # jet / counter-jet within a factor of a few (Laing & Bridle 2014)
    lobe_min_side: float = 0.1

    def __post_init__(self) -> None:
        if self.core_chance not in ("observed", "span"):
            raise ValueError(f"SourceConfig.core_chance must be 'observed' or 'span', not {self.core_chance!r}")
        for name in ("max_separation_beams", "max_misalignment_deg", "max_flux_ratio", "resolved_ratio"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SourceConfig.{name} must be positive, not {getattr(self, name)}")
        if not self.flux_floor >= 1:
            raise ValueError(f"SourceConfig.flux_floor must be at least 1, not {self.flux_floor}")
        if not self.lobe_sidedness >= 1:
            raise ValueError(f"SourceConfig.lobe_sidedness must be at least 1, not {self.lobe_sidedness}")
        if not 0 <= self.lobe_min_side < 0.5:
            raise ValueError(f"SourceConfig.lobe_min_side must lie in [0, 0.5), not {self.lobe_min_side}")
        if not self.max_negative_ratio > 0:
            raise ValueError(f"SourceConfig.max_negative_ratio must be positive, not {self.max_negative_ratio}")
        lo, hi = self.core_span
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"SourceConfig.core_span must satisfy 0 <= lo < hi <= 1, not {self.core_span}")


def _misalignment(axis_deg: np.ndarray, line_deg: float) -> np.ndarray:
    """Angle (deg, 0..90) between undirected axes ``axis_deg`` and a line at ``line_deg``."""
    d = np.abs((np.asarray(axis_deg, float) - line_deg) % 180.0)
    return np.minimum(d, 180.0 - d)


def associate(table: pd.DataFrame, fwhm_px: float, config: SourceConfig = SourceConfig()) -> pd.DataFrame:
    """:data:`SOURCE_COLUMNS` for the objects of one image (``x, y, axis_angle_deg, axis_ratio,
    extent_beams, flux_jy, peak_snr, noise_rms``, and ``negative_ratio`` where known; pixels of a beam
    ``fwhm_px`` wide), aligned with its rows; ``source_id``, ``partner`` and ``core`` are row positions
    in ``table`` (a lobe's piece has the opposite lobe as its partner)."""
    n = len(table)
    out = pd.DataFrame(
        {
            "source_id": np.arange(n, dtype=np.int64),
            "partner": np.full(n, -1, dtype=np.int64),
            "core": np.full(n, -1, dtype=np.int64),
            "source_components": np.ones(n, dtype=np.int64),
            "source_extent_beams": table["extent_beams"].to_numpy(float) if n else np.zeros(0),
            "lobe_misalignment_deg": np.full(n, np.nan),
            "arm_ratio": np.full(n, np.nan),
            "lobe_flux_ratio": np.full(n, np.nan),
            "association_chance": np.full(n, np.nan),
        },
        index=table.index,
    )
    if n < 2:
        return out
    x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
    angle = table["axis_angle_deg"].to_numpy(float)
    extent = table["extent_beams"].to_numpy(float)
    flux = np.clip(table["flux_jy"].to_numpy(float), 1e-30, None)
    peak = table["peak_snr"].to_numpy(float) * table["noise_rms"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        resolved = np.where(peak > 0, flux / peak, np.inf) >= config.resolved_ratio
    elongated = table["axis_ratio"].to_numpy(float) >= config.min_axis_ratio
    sky = np.ones(n, dtype=bool)
    if "negative_ratio" in table.columns:
        sky = ~(np.nan_to_num(table["negative_ratio"].to_numpy(float)) >= config.max_negative_ratio)
    lobe_like = sky.copy()  # a lobe pair's candidates (a lobe's further pieces are not asked)
    if config.one_sided_lobes:  # a galaxy with jets on both sides of its own peak is no lobe
        lobe_like &= ~two_sided(table, config.lobe_sidedness, config.lobe_min_side)
    lobes = np.flatnonzero(resolved & lobe_like & (elongated | config.round_lobes))
    cores = np.flatnonzero(~resolved)
    # candidate pairs: within the largest separation, fluxes comparable
    dist = np.hypot(x[lobes, None] - x[None, lobes], y[lobes, None] - y[None, lobes])
    fl = flux[lobes]
    close = (dist > 0) & (dist <= config.max_separation_beams * fwhm_px)
    close &= np.maximum(fl[:, None], fl[None, :]) <= config.max_flux_ratio * np.minimum(fl[:, None], fl[None, :])
    pairs = []  # (expected chance pairs, separation, i, j, core, worst misalignment)
    for a, b in zip(*np.nonzero(np.triu(close, 1)), strict=True):
        i, j, d = int(lobes[a]), int(lobes[b]), float(dist[a, b])
        line = float(np.degrees(np.arctan2(y[j] - y[i], x[j] - x[i])) % 180.0)
        mis = _misalignment(angle[[i, j]], line)
        core, offset, along = _core_between(x, y, cores, i, j, d, config)
        if core >= 0:  # a bent double: each lobe may point at the core rather than at the other lobe
            for m, k in enumerate((i, j)):
                to_core = float(np.degrees(np.arctan2(y[core] - y[k], x[core] - x[k])) % 180.0)
                mis[m] = min(mis[m], float(_misalignment(angle[[k]], to_core)[0]))
        axis = elongated[[i, j]]
        if (mis[axis] > config.max_misalignment_deg).any() or (not axis.all() and core < 0):
            continue
        mis[~axis] = 90.0  # a lobe without an axis: any direction, no evidence
        # how many pairs as good chance alone would give: the lobes within d of either end, each
        # pointing as well as these (a random axis lies within m deg of a line with chance m / 90) ...
        within = (dist[a] <= d, dist[b] <= d)
        if config.flux_chance:  # ... as comparable in flux with it as the partner is ...
            within = _as_like(within, fl, a, b, config.flux_floor)
        near = 0.5 * (np.count_nonzero(within[0]) - 1 + np.count_nonzero(within[1]) - 1)
        chance = max(near, 1.0) * float(np.prod(np.maximum(mis, config.angle_floor_deg) / 90.0))
        if core >= 0:  # ... times the chance of an unresolved object as near the line's middle
            mx, my = (x[i] + x[j]) / 2, (y[i] + y[j]) / 2
            n_cores = max(np.count_nonzero(np.hypot(x[cores] - mx, y[cores] - my) <= d / 2), 1)
            if config.core_chance == "observed":  # as near the midpoint, along and across, as this core
                box = 4.0 * max(abs(along - 0.5) * d, fwhm_px) * max(offset * d, fwhm_px)
            else:  # anywhere in the middle third, as near the line
                box = (config.core_span[1] - config.core_span[0]) * d * 2.0 * max(offset * d, fwhm_px)
            chance *= min(1.0, n_cores * box / (np.pi * (d / 2) ** 2))
        if chance <= config.max_chance:
            pairs.append((chance, d, i, j, core, float(mis.max())))
    taken = np.zeros(n, dtype=bool)
    col = {c: out.columns.get_loc(c) for c in out.columns}
    joined = []  # (i, j, core, d) of each double taken
    for chance, d, i, j, core, worst in sorted(pairs):  # the least likely by chance first
        if taken[i] or taken[j] or (core >= 0 and taken[core]):
            continue
        members = [i, j] + ([core] if core >= 0 else [])
        taken[members] = True
        joined.append((i, j, core, d))
        out.iloc[members, col["source_id"]] = i
        out.iloc[[i, j], col["partner"]] = [j, i]
        out.iloc[members, col["core"]] = core
        out.iloc[members, col["source_components"]] = len(members)
        # far end to far end: the lobes' centroid distance and half of each one's own extent beyond it
        out.iloc[members, col["source_extent_beams"]] = d / fwhm_px + (extent[i] + extent[j]) / 2.0
        out.iloc[members, col["lobe_misalignment_deg"]] = worst
        if core >= 0:
            arms = np.hypot(x[[i, j]] - x[core], y[[i, j]] - y[core])
            out.iloc[members, col["arm_ratio"]] = float(arms.max() / max(arms.min(), 1e-6))
        out.iloc[members, col["lobe_flux_ratio"]] = float(max(flux[i], flux[j]) / min(flux[i], flux[j]))
        out.iloc[members, col["association_chance"]] = chance
    if config.lobe_pieces and joined:
        _add_pieces(out, table, joined, taken, sky & resolved, elongated, fwhm_px, config)
    return out


def _as_like(within: tuple[np.ndarray, np.ndarray], value: np.ndarray, a: int, b: int, floor: float):
    """``within`` (lobes near ``a``, near ``b``) narrowed to those whose ``value`` is within the pair's
    own ratio (at least ``floor``) of the end they are near."""
    ratio = max(value[a] / value[b], value[b] / value[a], floor)
    return tuple(
        w & (np.maximum(value, value[e]) <= ratio * np.minimum(value, value[e]))
        for w, e in zip(within, (a, b), strict=True)
    )


def _add_pieces(
    out: pd.DataFrame,
    table: pd.DataFrame,
    joined: list[tuple[int, int, int, float]],
    taken: np.ndarray,
    candidate: np.ndarray,
    elongated: np.ndarray,
    fwhm_px: float,
    config: SourceConfig,
) -> None:
    """Join to each double the other islands of its lobes: a faint lobe breaks into two or three islands
    along its jet. A free resolved island beyond the double's middle third joins the lobe on its side
    when chance alone would put fewer than ``max_chance`` islands as near that lobe along the double's
    axis and as near the axis, pointing along it as well (m / 90 deg; no axis: any); each joins the
    double least likely by chance. The double's extent becomes its members' far end to far end."""
    x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
    angle = table["axis_angle_deg"].to_numpy(float)
    extent = table["extent_beams"].to_numpy(float)
    free = np.flatnonzero(candidate & ~taken)
    if not len(free):
        return
    offers = []  # (chance, piece, double)
    for s, (i, j, _, d) in enumerate(joined):
        ux, uy = (x[j] - x[i]) / d, (y[j] - y[i]) / d
        mx, my = (x[i] + x[j]) / 2, (y[i] + y[j]) / 2
        along = (x[free] - mx) * ux + (y[free] - my) * uy
        off = np.abs(-(x[free] - mx) * uy + (y[free] - my) * ux)
        beyond = np.abs(along) > d / 6  # outside the middle third, where the core and the inner jets lie
        # the islands that could fall there by chance: the free ones within d of the double's middle
        density = max(np.count_nonzero(np.hypot(x[free] - mx, y[free] - my) <= d), 1) / (np.pi * d * d)
        gap = np.maximum(np.abs(np.abs(along) - d / 2), fwhm_px)  # along the axis from its lobe's centroid
        box = 4.0 * gap * np.maximum(off, fwhm_px)
        line = float(np.degrees(np.arctan2(uy, ux)) % 180.0)
        mis = _misalignment(angle[free], line)
        pointing = np.maximum(mis, config.angle_floor_deg) / 90.0
        aligned = elongated[free] & (mis <= config.max_misalignment_deg)  # drawn out along the jet
        chance = density * box * pointing
        for k in np.flatnonzero(beyond & aligned & (chance <= config.max_chance)):
            offers.append((float(chance[k]), int(free[k]), s))
    col = {c: out.columns.get_loc(c) for c in out.columns}
    added: dict[int, list[int]] = {}
    for _, k, s in sorted(offers):
        if taken[k]:
            continue
        taken[k] = True
        added.setdefault(s, []).append(k)
    for s, pieces in added.items():
        i, j, core, d = joined[s]
        ux, uy = (x[j] - x[i]) / d, (y[j] - y[i]) / d
        members = [i, j] + ([core] if core >= 0 else []) + pieces
        along = (x[members] - x[i]) * ux + (y[members] - y[i]) * uy
        half = extent[members] * fwhm_px / 2.0
        for k in pieces:  # a piece is a part of the lobe on its side: the opposite lobe is its partner
            side = (x[k] - x[i]) * ux + (y[k] - y[i]) * uy > d / 2
            out.iloc[k, col["partner"]] = i if side else j
        out.iloc[pieces, [col[c] for c in ("source_id", "core")]] = [i, core]
        for c in ("lobe_misalignment_deg", "arm_ratio", "lobe_flux_ratio", "association_chance"):
            out.iloc[pieces, col[c]] = out.iloc[i, col[c]]
        out.iloc[members, col["source_components"]] = len(members)
        out.iloc[members, col["source_extent_beams"]] = float(np.max(along + half) - np.min(along - half)) / fwhm_px


def _core_between(
    x: np.ndarray, y: np.ndarray, cores: np.ndarray, i: int, j: int, d: float, config: SourceConfig
) -> tuple[int, float, float]:
    """The unresolved object nearest the line between lobes ``i`` and ``j`` within the corridor of
    ``config``, its offset from the line and its position along it (fractions of ``d`` from ``i``);
    (-1, nan, nan) when none."""
    if not len(cores):
        return -1, float("nan"), float("nan")
    ux, uy = (x[j] - x[i]) / d, (y[j] - y[i]) / d
    px, py = x[cores] - x[i], y[cores] - y[i]
    along = (px * ux + py * uy) / d
    off = np.abs(-px * uy + py * ux) / d
    lo, hi = config.core_span
    inside = (along >= lo) & (along <= hi) & (off <= config.core_offset)
    if not inside.any():
        return -1, float("nan"), float("nan")
    k = int(np.argmin(np.where(inside, off, np.inf)))
    return int(cores[k]), float(off[k]), float(along[k])


def by_source(objects: pd.DataFrame, columns: tuple[str, ...] = ("score", "shape_score")) -> pd.DataFrame:
    """``objects`` (a run's table, with ``source_id``) seen by source: each object's ``columns`` become
    its source's best and its ``tile_ids`` the tiles of all the source's islands (both lobes and the
    core), so that a tile takes its best source's score. A table without ``source_id`` is returned as is."""
    if "source_id" not in objects.columns or objects.empty:
        return objects
    out = objects.copy()
    group = out.groupby("source_id", sort=False)
    for column in columns:
        out[column] = group[column].transform("max")
    tiles = group["tile_ids"].agg(lambda ids: sorted({int(t) for each in ids for t in each}))
    out["tile_ids"] = out["source_id"].map(tiles)
    return out
