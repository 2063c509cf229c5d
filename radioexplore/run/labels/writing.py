"""Writing label events: one judgement, several in one transaction, and undo; every value checked first."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.run.labels.reading import active_mask
from radioexplore.run.labels.schema import LabelEvent, event_from_row, insert_event
from radioexplore.run.labels.storefile import StoreFile
from radioexplore.run.labels.values import (
    SEPARATOR,
    LabelError,
    check_interest,
    check_time,
    normalise_labels,
    normalise_tags,
    utc_now,
)


class LabelWriting(StoreFile):
    """Appending events to the store: :meth:`add`, :meth:`add_many` and :meth:`undo`."""

    def _label_row(
        self,
        tile_id: Any,
        labels: Any = None,
        interest: Any = None,
        tags: Any = None,
        note: Any = "",
        who: str | None = None,
        at: str | None = None,
        session: str | None = None,
    ) -> tuple:
        """A label event's row, every value checked; raises LabelError naming the first wrong one."""
        tile = self._check_tile(tile_id)
        labs = normalise_labels(labels)
        score = check_interest(interest)
        tag_list = normalise_tags(tags)
        note = "" if note is None or (isinstance(note, float) and np.isnan(note)) else str(note)
        if not labs and score is None and not tag_list and not note.strip():
            raise LabelError(f"tile {tile}: an event needs at least a label, an interest score, a tag or a note")
        return (
            "label",
            tile,
            SEPARATOR.join(labs),
            score,
            json.dumps(list(tag_list)),
            note,
            who or self.who,
            check_time(at) if at else utc_now(),
            session or self.session,
            None,
        )

    def _check_tile(self, tile_id: Any) -> int:
        """``tile_id`` as an int that is a tile of this run; raises LabelError otherwise."""
        try:
            value = float(tile_id)
        except (TypeError, ValueError):
            raise LabelError(f"tile id {tile_id!r} is not an integer") from None
        if value != int(value) or value < 0:
            raise LabelError(f"tile id {tile_id!r} must be a non-negative integer (a row of tiles.parquet)")
        tile = int(value)
        if self.n_tiles is not None and tile >= self.n_tiles:
            raise LabelError(f"tile {tile} does not exist: this run has tiles 0..{self.n_tiles - 1}")
        return tile

    def add(
        self,
        tile_id: int,
        labels: str | Iterable[str] | None = None,
        interest: int | None = None,
        tags: str | Iterable[str] | None = None,
        note: str = "",
        who: str | None = None,
        at: str | None = None,
        session: str | None = None,
    ) -> LabelEvent:
        """Append one label event: the whole current judgement of ``who`` on ``tile_id``.

        Raises LabelError (naming the value) for an unknown label, an interest outside 1-5, a tile
        that does not exist, or an event that says nothing.
        """
        row = self._label_row(tile_id, labels, interest, tags, note, who, at, session)
        with self._write() as con:
            event_id = insert_event(con, row)
        self._written(event_id, event_id)
        return event_from_row(event_id, row)

    def add_many(self, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Append several label events (dicts with the keyword arguments of :meth:`add`) in one transaction.

        All are validated first; if any is invalid nothing is written.
        """
        prepared = [self._label_row(**r) for r in rows]
        with self._write() as con:
            ids = [insert_event(con, row) for row in prepared]
        if ids:
            self._written(ids[0], ids[-1])
        return ids

    def undo(
        self, event_id: int | None = None, who: str | None = None, session: str | None = None, note: str = ""
    ) -> LabelEvent:
        """Retract ``event_id`` by appending an undo event; nothing is deleted.

        Without ``event_id``, retracts the latest still-counting label event of this session (the
        app's undo button). Undoing an undo event restores what it retracted. Raises LabelError when
        the event does not exist, already stands retracted, or there is nothing to undo.
        """
        session = session or self.session
        with self._write() as con:
            ev = pd.read_sql_query("SELECT event_id, kind, tile_id, target, session FROM events", con)
            active = active_mask(ev)
            if event_id is None:
                mine = ev[active & (ev["kind"] == "label") & (ev["session"] == session)]
                if mine.empty:
                    raise LabelError(f"session {session!r} has no label event left to undo in {self.path}")
                event_id = int(mine["event_id"].iloc[-1])
            hit = np.flatnonzero(ev["event_id"].to_numpy() == int(event_id))
            if hit.size == 0:
                raise LabelError(f"event {event_id} does not exist in {self.path}")
            if not active[hit[0]]:
                by = ev.loc[(ev["kind"] == "undo") & (ev["target"] == event_id) & active, "event_id"]
                raise LabelError(f"event {event_id} is already retracted (by event {int(by.iloc[-1])})")
            row = (
                "undo",
                int(ev["tile_id"].iloc[hit[0]]),
                "",
                None,
                "[]",
                note,
                who or self.who,
                utc_now(),
                session,
                int(event_id),
            )
            new_id = insert_event(con, row)
        self._written(new_id, new_id)
        return event_from_row(new_id, row)
