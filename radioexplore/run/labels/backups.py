"""Rolling backups of labels.sqlite in RUN/backups: when to take them, taking one, listing them checked."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from radioexplore.run.atomic import atomic_path
from radioexplore.run.labels.integrity import Damage, LabelStoreError, inspect_store


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


BACKUP_PREFIX = "labels-"
STAMP = "%Y%m%dT%H%M%S.%fZ"


def taken_at(path: Path) -> str:
    """When a backup was taken: from its name, else the file's modification time (UTC)."""
    try:
        t = _dt.datetime.strptime(path.stem[len(BACKUP_PREFIX) :], STAMP).replace(tzinfo=_dt.UTC)
    except ValueError:
        t = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.UTC)
    return t.isoformat(timespec="seconds")


def backup_files(folder: Path) -> list[Path]:
    """Backup files in ``folder``, newest first (their names sort by time)."""
    return sorted(folder.glob(f"{BACKUP_PREFIX}*.sqlite"), reverse=True) if folder.is_dir() else []


def copy_store(source: Path, target: Path, timeout_s: float = 5.0) -> None:
    """Copy the store ``source`` to a new file ``target`` with SQLite's online backup API, as one self-contained file."""
    src = sqlite3.connect(source, timeout=timeout_s)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()


def list_backups(folder: str | os.PathLike[str]) -> list[BackupInfo]:
    """Every backup in ``folder``, newest first, each checked (quick_check) and counted."""
    out = []
    for path in backup_files(Path(folder)):
        try:
            events, problem = inspect_store(path)[0], None
        except Damage as exc:
            events, problem = None, str(exc)
        out.append(BackupInfo(path=path, taken=taken_at(path), events=events, problem=problem))
    return out


def backup_store(path: Path, folder: Path, keep: int = BackupPolicy().keep, timeout_s: float = 30.0) -> Path:
    """Copy the store at ``path`` into ``folder`` with SQLite's online backup API (writers carry on meanwhile).

    The copy is checked before it is renamed into place, so a backup that exists is a good one;
    then only the newest ``keep`` are kept. Raises LabelStoreError when the copy fails its check.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{BACKUP_PREFIX}{_dt.datetime.now(_dt.UTC).strftime(STAMP)}.sqlite"
    with atomic_path(target) as tmp:
        copy_store(path, tmp, timeout_s=timeout_s)
        try:
            inspect_store(tmp)
        except Damage as exc:
            raise LabelStoreError(
                f"the backup of {path} failed its check ({exc}); the earlier ones were kept"
            ) from None
    for old in backup_files(folder)[max(keep, 1) :]:
        old.unlink(missing_ok=True)
    cutoff = time.time() - 3600  # leftovers of a backup killed part-way (one takes well under a second)
    for left in folder.glob(f".{BACKUP_PREFIX}*.tmp*"):
        with contextlib.suppress(OSError):
            if left.stat().st_mtime < cutoff:
                left.unlink()
    return target
