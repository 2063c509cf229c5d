"""A lobe holds no core of its own: where an island's brightest beam lies along its axis.

A double radio source's lobe is one end of a jet pair. An FR II lobe is brightest at its outer end, the
hotspot where the jet stops, and fades back towards the core; an FR I lobe is brightest on the core's
side and fades outwards (Fanaroff & Riley 1974; Leahy & Williams 1984 for the lobes' shapes). Either way
its emission lies on one side of its brightest beam. An unrelated radio galaxy read as a "lobe" of a
joined double carries its own core: its brightest beam sits near its own middle with two-sided jets
(FR I), or it is itself a double (two peaks at its two ends). Per island, along its own major axis:

- ``peak_frac``: where the island's brightest pixel lies between the island's two ends along its major
  axis (0 at the end towards ``-axis``, 1 towards ``+axis``; the axis is ``axis_angle_deg``);
- ``flux_below_peak`` / ``flux_above_peak``: the island's flux more than a beam FWHM before / beyond its
  peak along that axis, as shares of the island's flux (a beam round the peak is the peak's own).

:func:`complete_lobes` reads them for each joined double, oriented away from the double's centre.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The per-island columns :func:`peak_profile` returns, in order.
PEAK_COLUMNS = ("peak_frac", "flux_below_peak", "flux_above_peak")


def peak_profile(
    xs: np.ndarray, ys: np.ndarray, flux: np.ndarray, px: float, py: float, angle_deg: float, fwhm: float
) -> dict[str, float]:
    """:data:`PEAK_COLUMNS` of an island of pixels ``xs, ys`` carrying ``flux`` (negative counts 0), its
    brightest pixel at ``px, py``, its major axis at ``angle_deg`` (from +x towards +y) and a beam
    ``fwhm`` pixels wide."""
    a = np.radians(angle_deg)
    along = (np.asarray(xs, float) - px) * np.cos(a) + (np.asarray(ys, float) - py) * np.sin(a)
    w = np.clip(np.nan_to_num(np.asarray(flux, float)), 0, None)
    total = float(w.sum())
    lo, hi = float(along.min()), float(along.max())
    frac = -lo / (hi - lo) if hi > lo else 0.5
    if not total > 0:
        return dict(peak_frac=frac, flux_below_peak=0.0, flux_above_peak=0.0)
    return dict(
        peak_frac=frac,
        flux_below_peak=float(w[along < -fwhm].sum() / total),
        flux_above_peak=float(w[along > fwhm].sum() / total),
    )


def lobe_orientation(objects: pd.DataFrame) -> pd.DataFrame:
    """Per lobe island of a joined double (``partner`` >= 0) the :data:`PEAK_COLUMNS` turned to point away
    from the double's centre (its core, else the midpoint of its two lobes' centroids): ``peak_out`` (0 at
    the island's inner end, 1 at its outer end), ``flux_out`` / ``flux_in`` (beyond a beam of the peak on
    the outer / inner side); NaN for other objects and where the columns are lacking. ``source_id``,
    ``partner`` and ``core`` are ``object_id`` values where the table has them, else row positions."""
    n = len(objects)
    out = pd.DataFrame(
        {"peak_out": np.full(n, np.nan), "flux_out": np.full(n, np.nan), "flux_in": np.full(n, np.nan)},
        index=objects.index,
    )
    need = {"partner", "core", "source_id", "x", "y", "axis_angle_deg", *PEAK_COLUMNS}
    if not n or not need <= set(objects.columns):
        return out
    x, y = objects["x"].to_numpy(float), objects["y"].to_numpy(float)
    partner, core, source = _positions(objects)
    lobe = np.flatnonzero((partner >= 0) & (source >= 0) & (partner[np.maximum(source, 0)] >= 0))
    if not len(lobe):
        return out
    # the double's centre: its core, else the midpoint of its first lobe (source_id) and that one's partner
    first = source[lobe]
    cx = np.where(core[lobe] >= 0, x[np.maximum(core[lobe], 0)], (x[first] + x[partner[first]]) / 2)
    cy = np.where(core[lobe] >= 0, y[np.maximum(core[lobe], 0)], (y[first] + y[partner[first]]) / 2)
    a = np.radians(objects["axis_angle_deg"].to_numpy(float)[lobe])
    outward = (x[lobe] - cx) * np.cos(a) + (y[lobe] - cy) * np.sin(a) >= 0  # +axis points away from the centre
    frac = objects["peak_frac"].to_numpy(float)[lobe]
    below = objects["flux_below_peak"].to_numpy(float)[lobe]
    above = objects["flux_above_peak"].to_numpy(float)[lobe]
    out.iloc[lobe, 0] = np.where(outward, frac, 1 - frac)
    out.iloc[lobe, 1] = np.where(outward, above, below)
    out.iloc[lobe, 2] = np.where(outward, below, above)
    return out


def two_sided(objects: pd.DataFrame, sidedness: float = 3.0, min_side: float = 0.1) -> np.ndarray:
    """Per island, whether it carries emission on both sides of its own brightest beam along its axis: the
    fainter side at least ``1 / sidedness`` of the brighter and at least ``min_side`` of the island's flux
    (a jet and a counter-jet round a core of its own; Laing & Bridle 2014). False where the columns are
    lacking or NaN (the island is then taken as it was)."""
    n = len(objects)
    if not n or not {"flux_below_peak", "flux_above_peak"} <= set(objects.columns):
        return np.zeros(n, dtype=bool)
    below = objects["flux_below_peak"].to_numpy(float)
    above = objects["flux_above_peak"].to_numpy(float)
    lesser, greater = np.minimum(below, above), np.maximum(below, above)
    with np.errstate(invalid="ignore"):
        return (lesser * sidedness >= greater) & (lesser >= min_side)


def complete_lobes(objects: pd.DataFrame, sidedness: float = 3.0, min_side: float = 0.1) -> np.ndarray:
    """Per object, whether it belongs to a joined double one of whose two lobes (the pair, not a lobe's
    further pieces) looks like a complete source: emission on both sides of its brightest beam along its
    axis, the fainter side at least ``1 / sidedness`` of the brighter and at least ``min_side`` of the
    island's flux (two-sided jets round a core of its own).

    Why: a lobe is one end of a jet pair, its emission on one side of its peak (an FR II's hotspot at the
    outer end, an FR I's brightest part on the core's side; Fanaroff & Riley 1974, Leahy & Williams 1984);
    a radio galaxy's jet and counter-jet differ by a factor of a few at most in flux (Doppler boosting of
    mildly relativistic FR I jets, Laing & Bridle 2014), so an island carrying both, about a peak of its
    own, is a galaxy of its own joined to the double by chance. False for objects not in a joined double
    and where the columns are lacking."""
    n = len(objects)
    turned = lobe_orientation(objects)
    if not n or turned["peak_out"].isna().all():
        return np.zeros(n, dtype=bool)
    # the test is symmetric in the two sides, so the island's own (unturned) sides serve; lobes only
    lobe_two_sided = two_sided(objects, sidedness, min_side) & turned["flux_out"].notna().to_numpy()
    partner, _, source = _positions(objects)
    row = np.arange(n)
    pair = (partner >= 0) & ((row == source) | (partner[np.clip(source, 0, n - 1)] == row))
    flagged = np.unique(source[pair & lobe_two_sided & (source >= 0)])
    joined = objects["source_components"].fillna(1).to_numpy() > 1
    return joined & np.isin(source, flagged)


def _positions(objects: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``partner``, ``core`` and ``source_id`` as row positions (-1 for none or for one not in the table): a
    run's table names objects by ``object_id``, one field's table (``associate``) by row position."""
    n = len(objects)
    ids = objects["object_id"].to_numpy(np.int64) if "object_id" in objects.columns else np.arange(n)
    index = pd.Index(ids)
    return tuple(
        np.where(v >= 0, index.get_indexer(v), -1).astype(np.int64)
        for v in (objects[c].fillna(-1).to_numpy(np.int64) for c in ("partner", "core", "source_id"))
    )
