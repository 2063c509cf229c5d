"""Whether a labels.sqlite file is sound (quick_check, its tables), and the message that refuses a damaged one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from radioexplore.run.labels.values import LabelError
from radioexplore.run.rundir import RunDir


class LabelStoreError(LabelError):
    """The label store file is damaged or not a label store; the message names it and how to restore it."""


class Damage(Exception):
    """Why a file is not a sound label store (turned into a message by whoever knows what the file is)."""


def damaged_message(path: Path, reason: str, run: RunDir | None = None) -> str:
    """The one line that refuses a damaged store: the file, what is wrong, and how to restore it."""
    if run is not None:
        how = (
            f"restore the newest good backup with `radioexplore labels restore --run {run.root}` "
            f"(add --list to see the backups in {run.label_backups})"
        )
    else:
        how = "restore it from a copy of the file"
    return f"{path} is damaged ({reason}) and was left untouched: {how}"


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB (in any extended form), as opposed to a lock or a permission."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (11, 26) or "malformed" in str(exc)


def store_state(con: sqlite3.Connection) -> tuple:
    """Check an open store (quick_check, and that it holds the label tables) and return its state:
    (event count, last event id, its time, its session), which differs after any write."""
    rows = [str(r[0]) for r in con.execute("PRAGMA quick_check(5)").fetchall()]
    if rows != ["ok"]:
        raise Damage("quick_check: " + "; ".join(" ".join(r.split()) for r in rows))
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"events", "schema_info"} <= tables:
        raise Damage("it holds no label events table, so it is not a label store")
    count, last = con.execute("SELECT COUNT(*), MAX(event_id) FROM events").fetchone()
    tail = (None, None)
    if last is not None:
        tail = con.execute("SELECT at, session FROM events WHERE event_id = ?", (last,)).fetchone()
    return (int(count), last, *tail)


def checked_state(con: sqlite3.Connection, path: Path, run: RunDir | None) -> tuple:
    """:func:`store_state` of an open store, or LabelStoreError naming ``path`` and how to restore it."""
    try:
        return store_state(con)
    except Damage as exc:
        raise LabelStoreError(damaged_message(path, str(exc), run)) from None


def inspect_store(path: Path) -> tuple:
    """The state of a store file, which is read, not written; raises Damage saying what is wrong with it."""
    if not path.is_file():
        raise Damage("no such file")
    if path.stat().st_size == 0:
        raise Damage("the file is empty (0 bytes)")
    try:
        # not mode=ro: a read-only connection leaves -wal and -shm files behind; this one only reads
        con = sqlite3.connect(path, timeout=30.0)
        try:
            return store_state(con)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise Damage(str(exc)) from None


def store_problem(run: RunDir) -> str | None:
    """The message refusing ``run``'s label store when the file exists and fails its check, else None.

    Reads only: for callers (the app) that must say what is wrong before they open the store.
    """
    if not run.labels_db.exists():
        return None
    try:
        inspect_store(run.labels_db)
    except Damage as exc:
        return damaged_message(run.labels_db, str(exc), run)
    return None
