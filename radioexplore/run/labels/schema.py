"""The events table of labels.sqlite: its SQL and columns, and an event row written and read back."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import pandas as pd

from radioexplore.run.labels.values import INTEREST_RANGE, SEPARATOR

SCHEMA_VERSION = 1

EVENT_COLUMNS = ["event_id", "kind", "tile_id", "labels", "interest", "tags", "note", "who", "at", "session", "target"]
CURRENT_COLUMNS = ["tile_id", "labels", "interest", "tags", "note", "who", "at", "session", "event_id"]

SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT    NOT NULL CHECK (kind IN ('label', 'undo')),
    tile_id  INTEGER NOT NULL CHECK (tile_id >= 0),
    labels   TEXT    NOT NULL DEFAULT '',
    interest INTEGER CHECK (interest IS NULL OR interest BETWEEN {INTEREST_RANGE[0]} AND {INTEREST_RANGE[1]}),
    tags     TEXT    NOT NULL DEFAULT '[]',
    note     TEXT    NOT NULL DEFAULT '',
    who      TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    session  TEXT    NOT NULL,
    target   INTEGER REFERENCES events (event_id),
    CHECK ((kind = 'undo') = (target IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS events_tile ON events (tile_id);
CREATE INDEX IF NOT EXISTS events_target ON events (target);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'label events are append-only: add an undo event instead'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'label events are append-only: add an undo event instead'); END;
"""


@dataclass(frozen=True)
class LabelEvent:
    """One stored event (``kind`` is ``label`` or ``undo``; an undo names the event it retracts in ``target``)."""

    event_id: int
    kind: str
    tile_id: int
    labels: tuple[str, ...]
    interest: int | None
    tags: tuple[str, ...]
    note: str
    who: str
    at: str
    session: str
    target: int | None = None


def insert_event(con: sqlite3.Connection, row: tuple) -> int:
    """Append one row (kind, tile_id, labels, interest, tags, note, who, at, session, target); returns its event id."""
    cur = con.execute(
        "INSERT INTO events (kind, tile_id, labels, interest, tags, note, who, at, session, target) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return int(cur.lastrowid)


def event_from_row(event_id: int, row: tuple) -> LabelEvent:
    """The :class:`LabelEvent` of a row just inserted under ``event_id``."""
    kind, tile, labels, interest, tags, note, who, at, session, target = row
    return LabelEvent(
        event_id=event_id,
        kind=kind,
        tile_id=tile,
        labels=tuple(x for x in labels.split(SEPARATOR) if x),
        interest=interest,
        tags=tuple(json.loads(tags)),
        note=note,
        who=who,
        at=at,
        session=session,
        target=target,
    )


def typed_events(ev: pd.DataFrame) -> pd.DataFrame:
    """Events read from SQL with labels and tags as tuples and interest and target as nullable integers."""
    ev["labels"] = ev["labels"].map(lambda s: tuple(x for x in (s or "").split(SEPARATOR) if x))
    ev["tags"] = ev["tags"].map(lambda s: tuple(json.loads(s or "[]")))
    ev["interest"] = pd.array(ev["interest"], dtype="Int64")
    ev["target"] = pd.array(ev["target"], dtype="Int64")
    return ev
