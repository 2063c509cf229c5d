"""Artefact evidence from the geometry of a bright source's error pattern: is an island aligned with it?

A residual calibration or deconvolution error convolves a bright source with an error pattern
centred on that source: rings concentric on it, spokes radial from it (Taylor, Carilli & Perley
1999, "Synthesis Imaging in Radio Astronomy II", ch. 13 and 15; Perley 1999, ch. 13 there;
Grobler et al. 2014, MNRAS 439, 4030). So an elongated island that is a piece of the pattern has
its major axis tangential to the direction from the source (a ring crest) or radial (a spoke),
while a real source beside it is oriented at random: the angle ``psi`` between its major axis and
that direction is uniform on 0-90 degrees. And a ring-shaped island centred on a bright source is
a ripple ring; one centred elsewhere is not.

:func:`orientation_likelihood_ratio` is the likelihood ratio of the observed ``psi`` under "piece
of a pattern centred on the source" against "random": a von Mises density in ``4 psi`` (peaks at 0
and 90 degrees) over the uniform one, ``exp(kappa cos 4 psi) / I0(kappa)``, with ``kappa`` growing
with the island's elongation (a round blob has no orientation: ``kappa = 0``, ratio 1). Averaged
over the field's bright sources, each weighted by the level its errors are expected to reach at the
island (the artefact axis's model, :func:`radioexplore.ranking.artefacts._nearest_bright`: the peak
over the square root of the distance in beams). :func:`object_pattern_evidence` maps it to
``tanh(ln LR / 2) = (LR - 1) / (LR + 1)`` in (-1, 1): positive for an island aligned with its source,
negative for one across it, 0 for a round one; a ring-shaped island (a hole of at least a beam)
centred within about a beam of a source reads up to 1. Per tile, the evidence of its top object
(:func:`tile_pattern_evidence`), which the labels' logistic regression can read
(:func:`radioexplore.ranking.active_features.teach_block`, ``ActiveConfig.pattern_geometry``).

Measured (benchmarks/README.md, issue 24, branch pattern-geometry): on the simulated development
surveys the alignment is there only within ~10 beams of the source; beyond, where most of the
queue's artefacts and the lost peculiar tiles lie, the top objects of artefact tiles are as randomly
oriented as real ones (the tiles are crossed by ripples below the island threshold, their top object a
real source). With the option, on 28 held-out survey-seeds: peculiar tiles found -0.003 +- 0.045,
ARTEFACT tiles in rounds 2-5 +0.32 +- 0.77: off by default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from radioexplore.ranking.peculiar import tile_best_objects

#: Largest orientation concentration: the pattern's own curvature and lopsidedness (an arc's chord is
#: tangential only at its middle) keep even a long crest within a few degrees of tangential, not exactly on it.
KAPPA_MAX = 8.0
#: A bright source's own island: within this many beams of it the direction to it is undefined.
SELF_BEAMS = 1.0
#: An island reaching the source (its centroid nearer the source than this share of its ``extent_beams``,
#: twice its largest radius) holds the source itself: the offset of its centroid from the source's peak lies
#: along its own major axis by construction, so it would read as radial whatever it is (a bright double).
SELF_EXTENT = 0.5


def orientation_kappa(axis_ratio: np.ndarray) -> np.ndarray:
    """Concentration of ``4 psi`` for an island of major / minor ``axis_ratio`` q: ``(q^2 - 1) / 2``, up to
    :data:`KAPPA_MAX`; 0 for a round island. ``(q^2 - 1) / (q^2 + 1)`` is the second-moment ellipticity ``e``
    and ``e / (1 - e) = (q^2 - 1) / 2``: no orientation at e = 0, as sharp as a line as e -> 1."""
    q = np.clip(np.nan_to_num(np.asarray(axis_ratio, dtype=np.float64), nan=1.0), 1.0, None)
    return np.minimum((q * q - 1.0) / 2.0, KAPPA_MAX)


def orientation_likelihood_ratio(psi_deg: np.ndarray, axis_ratio: np.ndarray) -> np.ndarray:
    """``exp(kappa cos 4 psi) / I0(kappa)``: how much more likely an island's angle ``psi`` (degrees between its
    major axis and the direction to the source, 0..90) is for a piece of a pattern centred on the source
    (radial or tangential) than for a randomly oriented source; 1 for a round island."""
    kappa = orientation_kappa(axis_ratio)
    c = np.cos(np.radians(4.0 * np.asarray(psi_deg, dtype=np.float64)))
    # exp(k c) / I0(k) = exp(k (c - 1)) / i0e(k), stable for large k
    return np.exp(kappa * (c - 1.0)) / special.i0e(kappa)


def field_sources(scores: pd.DataFrame, fields: np.ndarray) -> dict[str, np.ndarray]:
    """Per field, the bright sources the artefact axis implicated (``[K, 4]``: x, y, peak in the image's units,
    the field's beam FWHM in px), from ``scores`` (tile order, with the ``artefact_bright_*`` and
    ``artefact_beam_px`` columns) and each tile's ``fields``."""
    need = ("artefact_bright_x", "artefact_bright_y", "artefact_bright_snr", "artefact_local_sigma", "artefact_beam_px")
    if any(c not in scores for c in need):
        return {}
    frame = pd.DataFrame(
        {
            "field": np.asarray(fields).astype(str),
            "x": scores["artefact_bright_x"].to_numpy(dtype=float),
            "y": scores["artefact_bright_y"].to_numpy(dtype=float),
            "peak": scores["artefact_bright_snr"].to_numpy(dtype=float)
            * scores["artefact_local_sigma"].to_numpy(dtype=float),
            "beam": scores["artefact_beam_px"].to_numpy(dtype=float),
        }
    ).dropna()
    frame = frame[(frame["peak"] > 0) & (frame["beam"] > 0)]
    return {
        str(f): g.groupby(["x", "y"], sort=False)[["peak", "beam"]].max().reset_index().to_numpy(dtype=np.float64)
        for f, g in frame.groupby("field", sort=False)
    }


def object_pattern_evidence(objects: pd.DataFrame, sources: dict[str, np.ndarray]) -> np.ndarray:
    """Per object, ``(LR - 1) / (LR + 1)`` in (-1, 1) of its orientation (module docstring), or, for a ring-shaped
    island (a hole of at least one beam) centred near a source, towards 1 by ``exp(-d^2 / 2)`` (``d``: centroid to
    source in beams); 0 where the field has no bright source or the island reaches the source (holds it). ``sources``:
    :func:`field_sources` (x, y, peak, beam FWHM in px per source)."""
    n = len(objects)
    out = np.zeros(n)
    if n == 0 or not sources:
        return out
    x = objects["x"].to_numpy(dtype=float)
    y = objects["y"].to_numpy(dtype=float)
    angle = objects["axis_angle_deg"].to_numpy(dtype=float) if "axis_angle_deg" in objects else np.full(n, np.nan)
    q = objects["axis_ratio"].to_numpy(dtype=float)
    reach = (
        SELF_EXTENT * np.nan_to_num(objects["extent_beams"].to_numpy(dtype=float)) if "extent_beams" in objects else 0
    )
    reach = np.maximum(reach, SELF_BEAMS) * np.ones(n)
    hole = np.nan_to_num(objects["hole_fraction"].to_numpy(dtype=float)) * np.nan_to_num(
        objects["filled_beams"].to_numpy(dtype=float)
    )
    field = objects["field"].astype(str).to_numpy()
    for f in np.unique(field):
        src = sources.get(f)
        if src is None or not len(src):
            continue
        rows = np.flatnonzero(field == f)
        dx = x[rows, None] - src[None, :, 0]
        dy = y[rows, None] - src[None, :, 1]
        d = np.hypot(dx, dy) / src[None, :, 3]
        weight = src[None, :, 2] / np.sqrt(np.maximum(d, 1.0))  # the level its errors reach (the axis's model)
        phi = np.degrees(np.arctan2(dy, dx))
        psi = np.abs((angle[rows, None] - phi + 90.0) % 180.0 - 90.0)
        lr = orientation_likelihood_ratio(np.nan_to_num(psi, nan=45.0), np.broadcast_to(q[rows, None], psi.shape))
        lr = np.where(np.isfinite(psi) & (d >= reach[rows, None]), lr, 1.0)
        mix = (weight * lr).sum(1) / weight.sum(1)
        aligned = (mix - 1.0) / (mix + 1.0)
        ring = np.minimum(1.0, hole[rows]) * np.exp(-0.5 * d.min(1) ** 2)
        out[rows] = aligned + (1.0 - aligned) * ring  # a ring on the source pulls towards 1
    return out


def tile_pattern_evidence(
    objects: pd.DataFrame | None, scores: pd.DataFrame, fields: np.ndarray, column: str = "score"
) -> np.ndarray | None:
    """Each tile's top object's (by ``column``, :func:`radioexplore.ranking.peculiar.tile_best_objects`)
    :func:`object_pattern_evidence`, 0 for a tile without an object; None without objects or bright sources."""
    if objects is None or objects.empty or "tile_ids" not in objects or column not in objects:
        return None
    sources = field_sources(scores, fields)
    if not sources:
        return None
    evidence = object_pattern_evidence(objects, sources)
    best = tile_best_objects(objects, len(scores), column)
    return np.where(best >= 0, evidence[np.maximum(best, 0)], 0.0).astype(np.float32)
