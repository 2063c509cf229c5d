"""The artefact axis in the app: the map's colour, the tile's line in words and the data-quality queue.

``rank`` writes ``artefact_score`` and its features (prefixed ``artefact_``) beside the anomaly
score (:mod:`radioexplore.ranking.artefacts`); a run ranked before the axis existed may still have
the cached ``artefacts.parquet``, which :func:`with_artefact_axis` joins in its place. The queue
either follows the peculiarity ranking (and says why a tile is there, from the ranking's or the
re-ranking's ``why``) or, for a data-quality review, the highest artefact scores first.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from radioexplore.display.units import display_unit, is_jy_per_beam
from radioexplore.ranking.artefact_run import add_artefact_columns, artefact_cache_problem
from radioexplore.ranking.peculiar import LIKELY_ARTEFACT, LOW_ARTEFACT
from radioexplore.run.rundir import RunDir

#: The column the map is coloured by and the data-quality queue sorts on.
ARTEFACT_SCORE = "artefact_score"
#: What the review queue follows: the peculiarity ranking, or the artefact axis (data-quality review).
REVIEW_MODES = ("peculiar", "artefacts")
#: Pixels below this many local sigma count as troughs (:class:`radioexplore.ranking.artefacts.ArtefactConfig`).
TROUGH_SIGMA = 5.0


@lru_cache(maxsize=4)
def _artefact_table(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path)


def with_artefact_axis(run: RunDir, tiles: pd.DataFrame) -> pd.DataFrame:
    """``tiles`` with ``artefact_score`` and its features from ``artefacts.parquet`` when it lacks them
    (a run ranked before the artefact axis) and the cache fits the run's tiles; else ``tiles`` as is."""
    path = run.artefact_features
    if ARTEFACT_SCORE in tiles.columns or "tile_id" not in tiles.columns or not path.is_file():
        return tiles
    if artefact_cache_problem(run) is not None:  # built from other tiles: not these tiles' scores
        return tiles
    table = _artefact_table(str(path), path.stat().st_mtime)
    return add_artefact_columns(tiles, table)


def _num(row: pd.Series, col: str) -> float:
    value = row.get(col, np.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _round(value: float) -> str:
    """A positive quantity to about three figures, without exponents (3340, 45, 1.2)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _flux(value: float, bunit: str) -> str:
    """A peak brightness as text: Jy/beam from 1 Jy/beam up, else the display unit (mJy/beam)."""
    if is_jy_per_beam(bunit) and abs(value) >= 1.0:
        return f"{value:.2g} Jy/beam"
    return display_unit(bunit).text(value, digits=2)


def artefact_level(score: float) -> str:
    """low / moderate / likely artefact, at the thresholds ``rank``'s ``why`` uses."""
    if not np.isfinite(score):
        return "unknown"
    if score < LOW_ARTEFACT:
        return "low"
    return "moderate" if score < LIKELY_ARTEFACT else "likely artefact"


def artefact_line(
    row: pd.Series,
    trough_sigma: float | None = None,
    beam_px: float | None = None,
    bunit: str = "JY/BEAM",
) -> str:
    """The tile's artefact score and its main evidence in one line of plain text, e.g.
    "artefact score 0.82 (likely artefact): 3.1 beams below -5σ, troughs to -9.2σ, 48% of the flux
    beyond 5σ negative, ring contrast 6.0σ around a 2.1 Jy/beam source (540σ) 12 beams (60 px)
    away, DQF 3, field dynamic range 2400". ``trough_sigma``: the tile's deepest pixel in local
    sigma, when the caller has read its pixels; ``beam_px``: the beam FWHM in pixels, for distances.
    """
    score = _num(row, ARTEFACT_SCORE)
    if ARTEFACT_SCORE not in row.index:
        return "no artefact score: run `radioexplore rank` again to add the artefact axis"
    if not np.isfinite(score):
        return "artefact score unknown: the tile's pixels could not be measured (blank, or its image unreadable)"
    parts = []
    beams = _num(row, "artefact_negative_beams")
    deepest = trough_sigma is not None and np.isfinite(trough_sigma) and trough_sigma < 0
    if np.isfinite(beams) and beams > 0:
        parts.append(
            f"{beams:.2g} beams below -{TROUGH_SIGMA:g}σ" + (f" (troughs to {trough_sigma:.1f}σ)" if deepest else "")
        )
    else:
        parts.append(f"no troughs below -{TROUGH_SIGMA:g}σ" + (f" (deepest {trough_sigma:.1f}σ)" if deepest else ""))
    share = _num(row, "artefact_negative_share")
    if np.isfinite(share) and share > 0:
        parts.append(f"{share:.0%} of the flux beyond {TROUGH_SIGMA:g}σ negative")
    ring = _num(row, "artefact_ring_contrast")
    snr = _num(row, "artefact_bright_snr")
    sigma = _num(row, "artefact_local_sigma")
    distance = _num(row, "artefact_bright_distance_beams")
    ring_text = f"ring contrast {ring:.1f}σ" if np.isfinite(ring) else ""
    if np.isfinite(snr) and snr > 0:
        peak = _flux(snr * sigma, bunit) if np.isfinite(sigma) else ""
        where = ""
        if np.isfinite(distance):
            px = f" ({distance * beam_px:.0f} px)" if beam_px else ""
            where = " in the tile" if distance == 0 else f" {_round(distance)} beams{px} away"
        source = f"a {peak} source{where}" if peak else f"a {_round(snr)}σ source{where}"
        parts.append(f"{ring_text} around {source}" if ring_text else f"bright source: {source}")
    else:
        parts.append(", ".join(p for p in (ring_text, "no bright source in the field") if p))
    ripple = _num(row, "artefact_ripple_sigma")  # radioexplore.ranking.ripples: said when it passes 5 sigma
    if np.isfinite(ripple) and ripple >= TROUGH_SIGMA:
        parts.append(f"periodic ripples {ripple:.0f}σ at 1-4 beams")
    dqf = _num(row, "dqf")
    if not np.isfinite(dqf):
        dqf = _num(row, "artefact_dqf")
    if np.isfinite(dqf):
        parts.append(f"DQF {dqf:.0f}")
    dynamic = _num(row, "artefact_field_dynamic_range")
    if np.isfinite(dynamic):
        parts.append(f"field dynamic range {_round(dynamic)}")
    return f"artefact score {score:.2f} ({artefact_level(score)}): " + ", ".join(parts)


def artefact_order(tiles: pd.DataFrame, exclude=(), n: int | None = None) -> list[int]:
    """Tile ids by artefact score, highest first (ties by tile id), skipping ``exclude`` (e.g. the
    labelled tiles) and tiles without a score; the first ``n`` (all when None)."""
    if ARTEFACT_SCORE not in tiles.columns:
        return []
    ids = tiles["tile_id"].to_numpy(dtype=np.int64)
    score = tiles[ARTEFACT_SCORE].to_numpy(dtype=float)
    keep = np.isfinite(score) & ~np.isin(ids, np.asarray(list(exclude), dtype=np.int64))
    ids, score = ids[keep], score[keep]
    if n is not None and n < len(ids):  # only what scores at least the n-th highest is sorted (10^6 tiles)
        cut = np.partition(score, len(score) - n)[len(score) - n]
        ids, score = ids[score >= cut], score[score >= cut]
    order = np.lexsort((ids, -score))
    return [int(t) for t in ids[order[:n] if n is not None else order]]


def queue_reason(row: pd.Series, mode: str = "peculiar") -> str:
    """Why the tile stands where it does in the queue, in words: in the artefact review its artefact
    level; else its ``why`` (the re-ranking's when it wrote one, which the state joins over the
    ranking's); "" if none."""
    if mode == "artefacts":
        score = _num(row, ARTEFACT_SCORE)
        return f"data-quality review: artefact score {score:.2f} ({artefact_level(score)})"
    value = row.get("why")
    return value.strip() if isinstance(value, str) else ""
