"""Reading label events and deriving the current labels from them (an undo retracts, the latest counts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from radioexplore.run.labels.schema import CURRENT_COLUMNS, EVENT_COLUMNS, typed_events
from radioexplore.run.labels.storefile import StoreFile
from radioexplore.run.labels.values import normalise_labels


def active_mask(ev: pd.DataFrame) -> np.ndarray:
    """Which events count: an event is retracted by a later undo event that itself counts.

    Undo events always point backwards, so walking from the newest event to the oldest settles
    each undo before the event it targets.
    """
    ids = ev["event_id"].to_numpy(dtype=np.int64)
    active = np.ones(len(ids), dtype=bool)
    undo_pos = np.flatnonzero(ev["kind"].to_numpy() == "undo")
    targets = ev["target"].to_numpy()
    for pos in undo_pos[::-1]:
        if active[pos]:
            t = np.searchsorted(ids, int(targets[pos]))
            if t < len(ids) and ids[t] == int(targets[pos]):
                active[t] = False
    return active


class LabelReading(StoreFile):
    """Reading the store: every event, and the current labels derived from them."""

    def events(self, tile_id: int | None = None) -> pd.DataFrame:
        """Every event in order, with a boolean ``active`` column (False: retracted by an undo)."""
        with self._connect() as con:
            ev = pd.read_sql_query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY event_id", con)
        ev = typed_events(ev)
        ev["active"] = active_mask(ev)
        if tile_id is not None:
            ev = ev[ev["tile_id"] == int(tile_id)].reset_index(drop=True)
        return ev

    def current(self, per: str = "tile") -> pd.DataFrame:
        """The current labels: the latest counting label event per tile (``per="tile"``) or per tile
        and annotator (``per="annotator"``), sorted by tile id. ``labels`` and ``tags`` are tuples.
        """
        keys = {"tile": ["tile_id"], "annotator": ["tile_id", "who"]}
        if per not in keys:
            raise ValueError(f"per must be 'tile' or 'annotator', not {per!r}")
        ev = self.events()
        live = ev[ev["active"] & (ev["kind"] == "label")].sort_values(["at", "event_id"], kind="stable")
        cur = live.drop_duplicates(keys[per], keep="last").sort_values(keys[per])
        return cur[CURRENT_COLUMNS].reset_index(drop=True)

    def labels_of(self, tile_id: int) -> dict[str, Any] | None:
        """The current judgement of one tile as a dict, or None if it has none."""
        cur = self.current()
        row = cur[cur["tile_id"] == int(tile_id)]
        return None if row.empty else row.iloc[0].to_dict()

    def interest_scores(self) -> pd.Series:
        """Current interest score per tile (index ``tile_id``), for tiles whose current event has one."""
        cur = self.current()
        cur = cur[cur["interest"].notna()]
        return pd.Series(cur["interest"].astype(int).to_numpy(), index=cur["tile_id"].to_numpy(), name="interest")

    def tiles_with(self, label: str) -> np.ndarray:
        """Ids of tiles whose current labels include ``label``."""
        (name,) = normalise_labels([label]) or (None,)
        cur = self.current()
        return cur.loc[cur["labels"].map(lambda labs: name in labs), "tile_id"].to_numpy(dtype=np.int64)
