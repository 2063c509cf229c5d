"""The label store's file: made only when missing, checked on open, one connection or write at a time, backed up."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from radioexplore.run.labels.backups import BackupPolicy, backup_files, backup_store
from radioexplore.run.labels.integrity import (
    Damage,
    LabelStoreError,
    checked_state,
    damaged_message,
    inspect_store,
    is_damage,
)
from radioexplore.run.labels.schema import SCHEMA_SQL, SCHEMA_VERSION
from radioexplore.run.labels.values import LabelError, default_who
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)


def _use_wal(con: sqlite3.Connection, path: Path) -> None:
    """Put the store in WAL mode, so readers never block the writer; raises LabelError where SQLite refuses."""
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise LabelError(f"{path}: SQLite refused WAL mode (got {mode!r}); is it on a network file system?")


class StoreFile:
    """The SQLite file of a label store, opened and checked; :class:`LabelStore` adds writing, reading and CSV.

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
    def for_run(cls, run: RunDir, **kwargs: Any) -> Self:
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
            if is_damage(exc):
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
            state = checked_state(con, self.path, self.run)
            _use_wal(con, self.path)
            row = con.execute("SELECT MAX(version) FROM schema_info").fetchone()
            if row[0] is not None and row[0] > SCHEMA_VERSION:
                raise LabelError(
                    f"{self.path}: label store schema {row[0]} is newer than this radioexplore understands "
                    f"({SCHEMA_VERSION}); upgrade radioexplore, the file was left untouched"
                )
            # executescript commits any open transaction first, so the schema gets its own
            con.executescript("BEGIN IMMEDIATE;\n" + SCHEMA_SQL + "\nCOMMIT;")
            if row[0] is None:
                con.execute("INSERT INTO schema_info (version) VALUES (?)", (SCHEMA_VERSION,))
        if self.backups is not None and self.backups.on_open and state[0] > 0:
            newest = backup_files(self.run.label_backups)[:1]
            try:
                changed = not newest or inspect_store(newest[0]) != state
            except Damage:
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
                _use_wal(con, self.path)
                con.executescript("BEGIN IMMEDIATE;\n" + SCHEMA_SQL + "\nCOMMIT;")
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
        """The schema version the file records (:data:`SCHEMA_VERSION` for a store this version made)."""
        with self._connect() as con:
            return int(con.execute("SELECT MAX(version) FROM schema_info").fetchone()[0])

    def __len__(self) -> int:
        """The number of events, retracted ones and undo events included."""
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM events").fetchone()[0])
