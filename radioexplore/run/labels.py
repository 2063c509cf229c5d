"""The label store: every judgement an astronomer makes, kept for good in ``labels.sqlite``.

Labels are append-only *events* in SQLite (WAL mode, a busy timeout, one short ``BEGIN
IMMEDIATE`` transaction per write), so several app sessions and command-line calls can label at
once and no label is ever lost: the file is never rewritten, UPDATE and DELETE on the events
table are refused by triggers, and a mistake is taken back by an ``undo`` event that retracts an
earlier event (undoing an undo restores it). Astronomaly (Lochner & Bassett 2021) rewrites a
CSV on every label; this store is what we do instead.

A ``label`` event is the whole judgement of one annotator on one tile at one moment: its labels
(several, from the vocabulary of Riggi et al. 2024, seed 002 sec. 5.1), an optional interest
score 1-5 (seed 002 sec. 5.3, as in astronomaly), free tags and a note. It replaces, it does not
patch: to change one field, send the others again (the app pre-fills them from
:meth:`LabelStore.current`).

*Current labels* are derived from the events, never stored: a label event counts unless an
active undo event retracts it; the current state of a tile is its latest counting label event
by anyone (``per="tile"``: the last word wins, which is what the review queue and the active
learner use), or by each annotator separately (``per="annotator"``: one row per tile and who,
for comparing annotators). "Latest" is by the event's time ``at`` (UTC), then by event id, so
importing an older CSV does not override newer judgements made since.

The file checks itself on every open (``PRAGMA quick_check``, and that it holds the events
table): a damaged, truncated, overwritten or 0-byte ``labels.sqlite`` is refused with
:class:`LabelStoreError`, naming the file and how to restore it, and is never written to. Only a
missing file means a new store, which is built under a temporary name and linked into place, so
no reader ever sees a half-made one. A store opened for a run keeps rolling backups in
``RUN/backups`` (SQLite's online backup API, each checked before it counts; see
:class:`BackupPolicy`), and :func:`restore_store` brings one back, moving the damaged file aside.
quick_check finds damage to the file's structure, not a changed byte inside a label's text: SQLite
keeps no checksums.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import logging
import os
import sqlite3
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: Labels of Riggi et al. 2024 (seed 002, sec. 5.1); several may be given to one tile.
VOCABULARY: tuple[str, ...] = (
    "BACKGROUND",
    "COMPACT",
    "EXTENDED",
    "RADIO-GALAXY",
    "DIFFUSE",
    "DIFFUSE-LARGE",
    "FILAMENT",
    "ARTEFACT",
    "PECULIAR",
    "MOSAICKING",
)
#: "Interesting" frames of seed 002, sec. 5.2 (EXTENDED, DIFFUSE, DIFFUSE-LARGE), plus PECULIAR.
INTERESTING: frozenset[str] = frozenset({"EXTENDED", "DIFFUSE", "DIFFUSE-LARGE", "PECULIAR"})

SCHEMA_VERSION = 1
INTEREST_RANGE = (1, 5)  # seed 002 sec. 5.3: "how peculiar a frame is judged on a scale of 1 to 5"
#: Separator of several labels or tags in one CSV cell.
SEPARATOR = ";"

EVENT_COLUMNS = ["event_id", "kind", "tile_id", "labels", "interest", "tags", "note", "who", "at", "session", "target"]
CURRENT_COLUMNS = ["tile_id", "labels", "interest", "tags", "note", "who", "at", "session", "event_id"]

_SCHEMA = f"""
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


class LabelError(ValueError):
    """A label event that cannot be stored; the message says which value is wrong and what is allowed."""


class LabelStoreError(LabelError):
    """The label store file is damaged or not a label store; the message names it and how to restore it."""


@dataclass(frozen=True)
class BackupPolicy:
    """When a run's label store copies itself to ``RUN/backups`` with SQLite's online backup API.

    A store that changed since its newest backup is backed up when it is opened, so each session
    and command starts with everything written before it safe; a long session is backed up every
    ``every`` new events (event ids are unique, so exactly one of several writers takes it), so it
    risks at most that many labels. The newest ``keep`` backups are kept: a few hundred KB each
    for thousands of labels, and far enough back to reach a copy from before damage was noticed.
    """

    every: int = 100
    keep: int = 10
    on_open: bool = True


@dataclass(frozen=True)
class BackupInfo:
    """One backup file: when it was taken, how many events it holds, and why it cannot be restored (None: it can)."""

    path: Path
    taken: str
    events: int | None
    problem: str | None


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


@dataclass
class ImportReport:
    """What :meth:`LabelStore.import_csv` did: event ids added, and each refused row with the reason."""

    added: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, why)

    def summary(self, source: str = "") -> str:
        lines = [f"imported {len(self.added)} event(s){' from ' + source if source else ''}"]
        lines += [f"  refused line {line}: {why}" for line, why in self.refused]
        return "\n".join(lines)


# -- validation -------------------------------------------------------------------------------
def normalise_labels(labels: str | Iterable[str] | None) -> tuple[str, ...]:
    """Labels in vocabulary order, upper case, ``_`` read as ``-``; raises LabelError on an unknown one.

    Accepts a list or one string with labels separated by ``;`` or ``,``.
    """
    if labels is None:
        return ()
    if isinstance(labels, str):
        labels = labels.replace(",", SEPARATOR).split(SEPARATOR)
    wanted = set()
    for raw in labels:
        name = str(raw).strip().upper().replace("_", "-").replace(" ", "-")
        if not name:
            continue
        if name not in VOCABULARY:
            raise LabelError(f"unknown label {str(raw).strip()!r}; the labels are {', '.join(VOCABULARY)} (seed 002)")
        wanted.add(name)
    return tuple(v for v in VOCABULARY if v in wanted)


def normalise_tags(tags: str | Iterable[str] | None) -> tuple[str, ...]:
    """Free tags, stripped, de-duplicated in order; a tag may not contain ``;`` (the CSV separator)."""
    if tags is None:
        return ()
    if isinstance(tags, str):
        tags = tags.split(SEPARATOR)
    out: list[str] = []
    for raw in tags:
        tag = str(raw).strip()
        if not tag:
            continue
        if SEPARATOR in tag:
            raise LabelError(f"tag {tag!r} contains {SEPARATOR!r}, which separates tags in CSV files; remove it")
        if tag not in out:
            out.append(tag)
    return tuple(out)


def check_interest(interest: Any) -> int | None:
    """An interest score as int 1-5, or None; raises LabelError otherwise."""
    if interest is None or (isinstance(interest, float) and np.isnan(interest)) or interest == "":
        return None
    try:
        value = float(interest)
    except (TypeError, ValueError):
        raise LabelError(f"interest {interest!r} is not a number; give an integer 1-5 or leave it empty") from None
    lo, hi = INTEREST_RANGE
    if value != int(value) or not lo <= value <= hi:
        raise LabelError(f"interest {interest!r} must be an integer from {lo} to {hi} (seed 002 sec. 5.3)")
    return int(value)


def utc_now() -> str:
    """The current time as UTC ISO 8601 with milliseconds."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def check_time(at: str) -> str:
    """``at`` as UTC ISO 8601; a time without a zone is taken to be UTC."""
    try:
        t = _dt.datetime.fromisoformat(str(at).strip().replace("Z", "+00:00"))
    except ValueError:
        raise LabelError(f"time {at!r} is not ISO 8601 (e.g. 2024-05-01T12:30:00+00:00)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.astimezone(_dt.UTC).isoformat(timespec="milliseconds")


def default_who() -> str:
    """The annotator name used when none is given: the login name."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER", "unknown")


# -- the store --------------------------------------------------------------------------------
class LabelStore:
    """Append-only label events in one SQLite file (see the module docstring for the semantics).

    Parameters
    ----------
    path
        The SQLite file, normally ``RunDir.labels_db``; created with its schema if absent. An
        existing file that fails its check is refused with :class:`LabelStoreError`, never reset.
    n_tiles
        Number of tiles in the run; tile ids outside ``0..n_tiles-1`` are refused. None: not checked.
    who
        Annotator name written with each event unless a call names another (default: login name).
    session
        Session id written with each event (default: a new random id per store object, so each app
        session has its own and can undo its own last label).
    timeout_s
        How long a writer waits for another writer's transaction before failing.
    durable
        ``synchronous=FULL``: each label is on disk when ``add`` returns, even across a power cut
        (a few ms per label). False trades that for speed (still safe if only the process crashes).
    run
        The run directory the store belongs to: backups go to ``run.label_backups`` and the
        message for a damaged file gives the restore command. None: no backups.
    backups
        When to back up (only with ``run``); None: never.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_tiles: int | None = None,
        who: str | None = None,
        session: str | None = None,
        timeout_s: float = 30.0,
        durable: bool = True,
        run: RunDir | None = None,
        backups: BackupPolicy | None = BackupPolicy(),
    ) -> None:
        self.path = Path(path)
        self.n_tiles = n_tiles
        self.who = who or default_who()
        self.session = session or uuid.uuid4().hex[:12]
        self.timeout_s = timeout_s
        self.durable = durable
        self.run = run
        self.backups = backups if run is not None else None
        self._open()

    @classmethod
    def for_run(cls, run: RunDir, **kwargs: Any) -> LabelStore:
        """The store of a run directory, checking tile ids against its tiles table when there is one."""
        n_tiles = kwargs.pop("n_tiles", None)
        if n_tiles is None and run.tiles_table.is_file():
            import pyarrow.parquet as pq

            n_tiles = pq.ParquetFile(run.tiles_table).metadata.num_rows
        return cls(run.labels_db, n_tiles=n_tiles, run=run, **kwargs)

    # -- connection ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            con.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            con.execute("PRAGMA foreign_keys = ON")
            yield con
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise LabelStoreError(damaged_message(self.path, str(exc), self.run)) from exc
            raise
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so concurrent writers queue, not fail."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _open(self) -> None:
        """Create the store if (and only if) the file is missing, then check it, then back it up if it changed."""
        if not self.path.exists():
            self._create()
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise LabelStoreError(
                damaged_message(self.path, "the file is empty (0 bytes), not an empty label store", self.run)
            )
        with self._connect() as con:
            state = _checked_state(con, self.path, self.run)
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LabelError(
                    f"{self.path}: SQLite refused WAL mode (got {mode!r}); is it on a network file system?"
                )
            row = con.execute("SELECT MAX(version) FROM schema_info").fetchone()
            if row[0] is not None and row[0] > SCHEMA_VERSION:
                raise LabelError(
                    f"{self.path}: label store schema {row[0]} is newer than this radioexplore understands "
                    f"({SCHEMA_VERSION}); upgrade radioexplore, the file was left untouched"
                )
            # executescript commits any open transaction first, so the schema gets its own
            con.executescript("BEGIN IMMEDIATE;\n" + _SCHEMA + "\nCOMMIT;")
            if row[0] is None:
                con.execute("INSERT INTO schema_info (version) VALUES (?)", (SCHEMA_VERSION,))
        if self.backups is not None and self.backups.on_open and state[0] > 0:
            newest = _backup_files(self.run.label_backups)[:1]
            try:
                changed = not newest or _inspect(newest[0]) != state
            except _Damage:
                changed = True
            if changed:
                self.backup()

    def _create(self) -> None:
        """Build a new store under a temporary name and link it into place, so no one sees half of it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.new")  # SQLite makes it, as umask says
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            try:
                mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LabelError(
                        f"{self.path}: SQLite refused WAL mode (got {mode!r}); is it on a network file system?"
                    )
                con.executescript("BEGIN IMMEDIATE;\n" + _SCHEMA + "\nCOMMIT;")
                con.execute("INSERT INTO schema_info (version) VALUES (?)", (SCHEMA_VERSION,))
            finally:
                con.close()
            try:
                os.link(tmp, self.path)  # fails if another process made the store meanwhile: theirs stands
            except FileExistsError:
                pass
            except OSError:  # no hard links on this file system
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def backup(self) -> Path | None:
        """Copy the store to ``run.label_backups`` now (online backup API), check the copy, keep the newest few.

        Returns the backup, or None when there is no run, the copy failed its check or could not be
        written (logged: a failed backup never fails the label that triggered it).
        """
        if self.run is None:
            return None
        keep = self.backups.keep if self.backups is not None else BackupPolicy().keep
        try:
            return backup_store(self.path, self.run.label_backups, keep=keep, timeout_s=self.timeout_s)
        except (OSError, sqlite3.Error, LabelStoreError) as exc:
            log.warning("could not back up %s to %s: %s", self.path, self.run.label_backups, exc)
            return None

    def _written(self, first_id: int, last_id: int) -> None:
        """Back up when the events just written cross a multiple of ``backups.every``."""
        every = self.backups.every if self.backups is not None else 0
        if every > 0 and last_id // every > (first_id - 1) // every:
            self.backup()

    def schema_version(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT MAX(version) FROM schema_info").fetchone()[0])

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # -- writing ------------------------------------------------------------------------------
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
            event_id = _insert(con, row)
        self._written(event_id, event_id)
        return _event(event_id, row)

    def add_many(self, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Append several label events (dicts with the keyword arguments of :meth:`add`) in one transaction.

        All are validated first; if any is invalid nothing is written.
        """
        prepared = [self._label_row(**r) for r in rows]
        with self._write() as con:
            ids = [_insert(con, row) for row in prepared]
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
            active = _active_mask(ev)
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
            new_id = _insert(con, row)
        self._written(new_id, new_id)
        return _event(new_id, row)

    # -- reading ------------------------------------------------------------------------------
    def events(self, tile_id: int | None = None) -> pd.DataFrame:
        """Every event in order, with a boolean ``active`` column (False: retracted by an undo)."""
        with self._connect() as con:
            ev = pd.read_sql_query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY event_id", con)
        ev = _typed(ev)
        ev["active"] = _active_mask(ev)
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

    # -- CSV ----------------------------------------------------------------------------------
    def export_csv(self, path: str | os.PathLike[str], what: str = "events") -> Path:
        """Write every event (``what="events"``, with ``active``) or the current state (``"current"``)."""
        if what == "events":
            df = self.events()
        elif what == "current":
            df = self.current()
        else:
            raise ValueError(f"what must be 'events' or 'current', not {what!r}")
        df = df.copy()
        for col in ("labels", "tags"):
            df[col] = df[col].map(SEPARATOR.join)
        path = Path(path)
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
        return path

    def import_csv(self, path: str | os.PathLike[str], who: str | None = None) -> ImportReport:
        """Append the events of a CSV written by :meth:`export_csv` (either kind) or by hand.

        Needs a ``tile_id`` column; ``labels``, ``interest``, ``tags``, ``note``, ``who``, ``at``,
        ``session``, ``kind``, ``event_id`` and ``target`` are optional. Rows are appended as new
        events (new ids) in one transaction; ``who`` fills empty annotator cells. A row is refused,
        with its line number and the reason, when a value is invalid, when it is identical to an
        event already stored (so importing a file twice adds nothing), or when it is an undo whose
        target is not an earlier row of the same file. Retracted rows of an events export
        (``active`` False) are imported together with the undo rows that retract them.
        """
        path = Path(path)
        report = ImportReport()
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise LabelError(f"{path}: not a readable CSV file ({exc})") from exc
        if "tile_id" not in table.columns:
            raise LabelError(f"{path}: needs a tile_id column; it has {', '.join(table.columns) or 'no columns'}")
        existing = self.events()
        seen = {_fingerprint(r): int(r.event_id) for r in existing.itertuples(index=False)}
        # source event id -> ("old", id already in the store) or ("new", position in `pending`)
        resolved: dict[str, tuple[str, int]] = {}
        pending: list[tuple] = []
        for i, rec in enumerate(table.to_dict("records")):
            line = i + 2  # line 1 is the header
            source_id = (rec.get("event_id") or "").strip()
            kind = (rec.get("kind") or "label").strip().lower()
            try:
                if kind == "label":
                    row = self._label_row(
                        rec["tile_id"],
                        rec.get("labels"),
                        rec.get("interest"),
                        rec.get("tags"),
                        rec.get("note", ""),
                        rec.get("who") or who,
                        rec.get("at") or None,
                        rec.get("session") or f"import:{path.name}",
                    )
                    key = _fingerprint_row(row, None)
                elif kind == "undo":
                    target = (rec.get("target") or "").strip()
                    if target not in resolved:
                        raise LabelError(
                            f"undo targets event {target or '?'}, which is not an earlier row of this file"
                        )
                    row = (
                        "undo",
                        self._check_tile(rec["tile_id"]),
                        "",
                        None,
                        "[]",
                        rec.get("note", ""),
                        rec.get("who") or who or self.who,
                        check_time(rec["at"]) if rec.get("at") else utc_now(),
                        rec.get("session") or f"import:{path.name}",
                        resolved[target],
                    )
                    where, ref = resolved[target]
                    key = _fingerprint_row(row, ref if where == "old" else None)
                else:
                    raise LabelError(f"kind {kind!r} must be 'label' or 'undo'")
            except LabelError as exc:
                report.refused.append((line, str(exc)))
                continue
            if key in seen:
                report.refused.append((line, f"identical to event {seen[key]} already in the store (skipped)"))
                if source_id:
                    resolved[source_id] = ("old", seen[key])
                continue
            if source_id:
                resolved[source_id] = ("new", len(pending))
            pending.append(row)
        with self._write() as con:
            new_ids: list[int] = []
            for row in pending:
                if row[0] == "undo":
                    where, ref = row[-1]
                    row = (*row[:-1], ref if where == "old" else new_ids[ref])
                new_ids.append(_insert(con, row))
        report.added = new_ids
        if new_ids:
            self._written(new_ids[0], new_ids[-1])
        return report


# -- integrity and backups ----------------------------------------------------------------------
BACKUP_PREFIX = "labels-"
_STAMP = "%Y%m%dT%H%M%S.%fZ"


class _Damage(Exception):
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


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB (in any extended form), as opposed to a lock or a permission."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (11, 26) or "malformed" in str(exc)


def _state(con: sqlite3.Connection) -> tuple:
    """Check an open store (quick_check, and that it holds the label tables) and return its state:
    (event count, last event id, its time, its session), which differs after any write."""
    rows = [str(r[0]) for r in con.execute("PRAGMA quick_check(5)").fetchall()]
    if rows != ["ok"]:
        raise _Damage("quick_check: " + "; ".join(" ".join(r.split()) for r in rows))
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"events", "schema_info"} <= tables:
        raise _Damage("it holds no label events table, so it is not a label store")
    count, last = con.execute("SELECT COUNT(*), MAX(event_id) FROM events").fetchone()
    tail = (None, None)
    if last is not None:
        tail = con.execute("SELECT at, session FROM events WHERE event_id = ?", (last,)).fetchone()
    return (int(count), last, *tail)


def _checked_state(con: sqlite3.Connection, path: Path, run: RunDir | None) -> tuple:
    try:
        return _state(con)
    except _Damage as exc:
        raise LabelStoreError(damaged_message(path, str(exc), run)) from None


def _inspect(path: Path) -> tuple:
    """The state of a store file, which is read, not written; raises _Damage saying what is wrong with it."""
    if not path.is_file():
        raise _Damage("no such file")
    if path.stat().st_size == 0:
        raise _Damage("the file is empty (0 bytes)")
    try:
        # not mode=ro: a read-only connection leaves -wal and -shm files behind; this one only reads
        con = sqlite3.connect(path, timeout=30.0)
        try:
            return _state(con)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise _Damage(str(exc)) from None


def store_problem(run: RunDir) -> str | None:
    """The message refusing ``run``'s label store when the file exists and fails its check, else None.

    Reads only: for callers (the app) that must say what is wrong before they open the store.
    """
    if not run.labels_db.exists():
        return None
    try:
        _inspect(run.labels_db)
    except _Damage as exc:
        return damaged_message(run.labels_db, str(exc), run)
    return None


def _taken(path: Path) -> str:
    """When a backup was taken: from its name, else the file's modification time (UTC)."""
    try:
        t = _dt.datetime.strptime(path.stem[len(BACKUP_PREFIX) :], _STAMP).replace(tzinfo=_dt.UTC)
    except ValueError:
        t = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.UTC)
    return t.isoformat(timespec="seconds")


def _backup_files(folder: Path) -> list[Path]:
    """Backup files in ``folder``, newest first (their names sort by time)."""
    return sorted(folder.glob(f"{BACKUP_PREFIX}*.sqlite"), reverse=True) if folder.is_dir() else []


def list_backups(folder: str | os.PathLike[str]) -> list[BackupInfo]:
    """Every backup in ``folder``, newest first, each checked (quick_check) and counted."""
    out = []
    for path in _backup_files(Path(folder)):
        try:
            events, problem = _inspect(path)[0], None
        except _Damage as exc:
            events, problem = None, str(exc)
        out.append(BackupInfo(path=path, taken=_taken(path), events=events, problem=problem))
    return out


def backup_store(path: Path, folder: Path, keep: int = BackupPolicy().keep, timeout_s: float = 30.0) -> Path:
    """Copy the store at ``path`` into ``folder`` with SQLite's online backup API (writers carry on meanwhile).

    The copy is checked before it is renamed into place, so a backup that exists is a good one;
    then only the newest ``keep`` are kept. Raises LabelStoreError when the copy fails its check.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{BACKUP_PREFIX}{_dt.datetime.now(_dt.UTC).strftime(_STAMP)}.sqlite"
    with atomic_path(target) as tmp:
        src = sqlite3.connect(path, timeout=timeout_s)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
        try:
            _inspect(tmp)
        except _Damage as exc:
            raise LabelStoreError(
                f"the backup of {path} failed its check ({exc}); the earlier ones were kept"
            ) from None
    for old in _backup_files(folder)[max(keep, 1) :]:
        old.unlink(missing_ok=True)
    cutoff = time.time() - 3600  # leftovers of a backup killed part-way (one takes well under a second)
    for left in folder.glob(f".{BACKUP_PREFIX}*.tmp*"):
        with contextlib.suppress(OSError):
            if left.stat().st_mtime < cutoff:
                left.unlink()
    return target


def restore_store(run: RunDir, backup: str | os.PathLike[str] | None = None, force: bool = False) -> str:
    """Bring back ``run``'s label store from ``backup`` (default: the newest good one); returns one line saying so.

    The current file (with its -wal and -shm) is moved aside to ``labels-damaged-<time>.sqlite``
    beside it, never deleted. A store that passes its check is replaced only with ``force``.
    """
    path = run.labels_db
    current: tuple | None = None
    if path.exists():
        try:
            current = _inspect(path)
        except _Damage:
            current = None
        else:
            if not force:
                raise LabelError(
                    f"{path} passes its check ({current[0]} events), so there is nothing to restore; "
                    "add --force to replace it anyway (it is moved aside, not deleted)"
                )
    if backup is not None:
        chosen_path = Path(backup).expanduser().resolve()
        try:
            events = _inspect(chosen_path)[0]
        except _Damage as exc:
            raise LabelStoreError(
                f"{chosen_path} cannot be restored ({exc}); "
                f"see the others with `radioexplore labels restore --run {run.root} --list`"
            ) from None
        chosen = BackupInfo(chosen_path, _taken(chosen_path), events, None)
    else:
        good = [b for b in list_backups(run.label_backups) if b.problem is None]
        if not good:
            raise LabelStoreError(
                f"no good backup in {run.label_backups}, so {path} was left as it is; "
                "restore a copy you kept with --backup FILE"
            )
        chosen = good[0]

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.restore")
    try:
        src = sqlite3.connect(chosen.path)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
            src.close()
        _inspect(tmp)
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
        if path.exists():  # whoever could use the old file can use the restored one
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        moved = "there was no store to move aside"
        if path.exists():
            stamp = _dt.datetime.now(_dt.UTC).strftime(_STAMP)
            aside = path.with_name(f"{path.stem}-{'replaced' if current else 'damaged'}-{stamp}{path.suffix}")
            try:
                os.link(path, aside)  # the old bytes stay under the new name while the restored copy takes over
            except OSError:
                os.replace(path, aside)
            for sidecar in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{path}{sidecar}", f"{aside}{sidecar}")
            moved = f"moved the {'previous' if current else 'damaged'} store aside to {aside.name}"
        os.replace(tmp, path)
    except _Damage as exc:
        raise LabelStoreError(f"the copy of {chosen.path} failed its check ({exc}); {path} was left as it is") from None
    finally:
        tmp.unlink(missing_ok=True)
    return f"restored {path} from {chosen.path.name} ({chosen.events} events, taken {chosen.taken}); {moved}"


# -- helpers ----------------------------------------------------------------------------------
def _insert(con: sqlite3.Connection, row: tuple) -> int:
    cur = con.execute(
        "INSERT INTO events (kind, tile_id, labels, interest, tags, note, who, at, session, target) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return int(cur.lastrowid)


def _event(event_id: int, row: tuple) -> LabelEvent:
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


def _typed(ev: pd.DataFrame) -> pd.DataFrame:
    ev["labels"] = ev["labels"].map(lambda s: tuple(x for x in (s or "").split(SEPARATOR) if x))
    ev["tags"] = ev["tags"].map(lambda s: tuple(json.loads(s or "[]")))
    ev["interest"] = pd.array(ev["interest"], dtype="Int64")
    ev["target"] = pd.array(ev["target"], dtype="Int64")
    return ev


def _active_mask(ev: pd.DataFrame) -> np.ndarray:
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


def _fingerprint(rec: Any) -> tuple:
    """Identity of a stored event for duplicate detection on import (ignores ids and sessions)."""
    interest = None if pd.isna(rec.interest) else int(rec.interest)
    target = None if pd.isna(rec.target) else int(rec.target)
    return (
        rec.kind,
        int(rec.tile_id),
        SEPARATOR.join(rec.labels),
        interest,
        tuple(rec.tags),
        rec.note,
        rec.who,
        rec.at,
        target,
    )


def _fingerprint_row(row: tuple, target: int | None) -> tuple:
    """The fingerprint of a row about to be inserted; ``target`` is the stored id an undo points at."""
    kind, tile, labels, interest, tags, note, who, at, _session, _target = row
    return (kind, tile, labels, interest, tuple(json.loads(tags)), note, who, at, target)
