"""The one join of the tile table with a run's map, scores, active ranking and current labels.

The app's explorer and the candidate export both call :func:`join_tiles` and :func:`with_labels`,
so a tile shows the same scores and labels in the map, the tables and an exported list. Label
text columns carry the marker strings named here where a tile has no label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.run.labels.values import SEPARATOR

#: ``user_labels`` of a tile with no current label.
UNLABELLED = "unlabelled"
#: ``user_labels`` of a tile given an interest score but no label.
INTEREST_ONLY = "(interest only)"
#: The markers above: text that means "no label" to whoever reads ``user_labels``.
LABEL_MARKERS = frozenset({UNLABELLED, INTEREST_ONLY})
#: Columns of an active ranking (``scores/active/<name>``) the join adds, and those it adds when
#: present (re-rankings written before issue 24 lack them).
ACTIVE_JOINED = ("active_score", "active_rank", "predicted_interest", "touches_liked")
ACTIVE_OPTIONAL = ("why", "artefact_probability")


def _aligned(part: pd.DataFrame, tile_ids: np.ndarray) -> pd.DataFrame:
    """``part``'s rows in the order of ``tile_ids`` (as it is when it is in that order already, the usual case)."""
    ids = part["tile_id"].to_numpy()
    if len(ids) == len(tile_ids) and np.array_equal(ids, tile_ids):
        return part
    return part.set_index("tile_id").reindex(tile_ids).reset_index()


def join_tiles(tiles: pd.DataFrame, *parts: pd.DataFrame | None, active: pd.DataFrame | None = None) -> pd.DataFrame:
    """``tiles`` with every column but ``tile_id`` of each of ``parts`` (a map, scores; a later one's
    column replaces an earlier one's) and the ranking columns of ``active``, row for row by tile id."""
    out = tiles.copy(deep=False)
    tile_ids = out["tile_id"].to_numpy()
    for part in parts:
        if part is None:
            continue
        part = _aligned(part, tile_ids)
        for col in part.columns:
            if col != "tile_id":
                out[col] = part[col].to_numpy()
    if active is not None:
        active = _aligned(active, tile_ids)
        for col in ACTIVE_JOINED + tuple(c for c in ACTIVE_OPTIONAL if c in active):
            out[col] = active[col].to_numpy()
    return out


def label_columns(current: pd.DataFrame, n_tiles: int) -> tuple[pd.Categorical, np.ndarray]:
    """``user_labels`` (categorical: "PECULIAR;EXTENDED", :data:`INTEREST_ONLY` or :data:`UNLABELLED`) and
    ``user_interest`` (NaN where unscored) of tiles ``0..n_tiles-1`` from ``labels.current()``; made
    from codes, so a label event costs O(labelled tiles), not a string per tile."""
    ids = current["tile_id"].to_numpy(dtype=np.int64)
    text = [SEPARATOR.join(labs) if len(labs) else INTEREST_ONLY for labs in current["labels"]]
    categories = [UNLABELLED, *sorted(set(text))]
    codes = np.zeros(n_tiles, dtype=np.int32)
    codes[ids] = pd.Index(categories).get_indexer(text)
    interest = np.full(n_tiles, np.nan)
    interest[ids] = pd.to_numeric(current["interest"], errors="coerce").to_numpy(dtype=float)
    return pd.Categorical.from_codes(codes, categories=categories), interest


def with_labels(
    frame: pd.DataFrame, current: pd.DataFrame | None, notes: bool = False, rows_are_ids: bool | None = None
) -> pd.DataFrame:
    """``frame`` with ``user_labels`` and ``user_interest`` (:func:`label_columns`) of its tiles, and with
    ``notes`` also ``user_tags`` (joined by ``;``), ``user_note`` and ``user_who`` ("" where none);
    no label columns when no tile has a label. New columns go on a shallow copy: ``frame``'s are shared.

    ``rows_are_ids``: row ``i`` holds tile ``i`` (the whole tiles table, as the app keeps it), which
    spares an O(tiles) check per label event; None: checked.
    """
    out = frame.copy(deep=False)
    if current is None or current.empty:
        return out
    tile_ids = out["tile_id"].to_numpy(dtype=np.int64)
    positional = np.array_equal(tile_ids, np.arange(len(out))) if rows_are_ids is None else rows_are_ids
    n = len(out) if positional else int(max(tile_ids.max(initial=-1), current["tile_id"].max())) + 1
    labels, interest = label_columns(current, n)
    out["user_labels"], out["user_interest"] = (
        (labels, interest) if positional else (labels[tile_ids], interest[tile_ids])
    )
    if notes:
        by_tile = current.set_index("tile_id").reindex(tile_ids)
        out["user_tags"] = by_tile["tags"].map(lambda v: SEPARATOR.join(v) if isinstance(v, tuple) else "").to_numpy()
        for col in ("note", "who"):
            out[f"user_{col}"] = by_tile[col].fillna("").astype(str).to_numpy()
    return out
