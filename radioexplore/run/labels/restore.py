"""Bringing back a run's label store from a backup, the file it replaces moved aside, never deleted."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sqlite3
import stat
import uuid
from pathlib import Path

from radioexplore.run.labels.backups import STAMP, BackupInfo, copy_store, list_backups, taken_at
from radioexplore.run.labels.integrity import Damage, LabelStoreError, inspect_store
from radioexplore.run.labels.values import LabelError
from radioexplore.run.rundir import RunDir


def restore_store(run: RunDir, backup: str | os.PathLike[str] | None = None, force: bool = False) -> str:
    """Bring back ``run``'s label store from ``backup`` (default: the newest good one); returns one line saying so.

    The current file (with its -wal and -shm) is moved aside to ``labels-damaged-<time>.sqlite``
    beside it, never deleted. A store that passes its check is replaced only with ``force``.
    """
    path = run.labels_db
    current: tuple | None = None
    if path.exists():
        try:
            current = inspect_store(path)
        except Damage:
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
            events = inspect_store(chosen_path)[0]
        except Damage as exc:
            raise LabelStoreError(
                f"{chosen_path} cannot be restored ({exc}); "
                f"see the others with `radioexplore labels restore --run {run.root} --list`"
            ) from None
        chosen = BackupInfo(chosen_path, taken_at(chosen_path), events, None)
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
        copy_store(chosen.path, tmp)
        inspect_store(tmp)
        con = sqlite3.connect(tmp)
        try:
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            con.close()
        if path.exists():  # whoever could use the old file can use the restored one
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        moved = "there was no store to move aside"
        if path.exists():
            stamp = _dt.datetime.now(_dt.UTC).strftime(STAMP)
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
    except Damage as exc:
        raise LabelStoreError(f"the copy of {chosen.path} failed its check ({exc}); {path} was left as it is") from None
    finally:
        tmp.unlink(missing_ok=True)
    return f"restored {path} from {chosen.path.name} ({chosen.events} events, taken {chosen.taken}); {moved}"
