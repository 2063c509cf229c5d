"""Atomic writes: a file appears whole under its name or not at all, even when the writer is killed.

Every artefact is written to a temporary name beside its target and renamed onto it only when
the write succeeded; leftovers of a killed writer are removed by the next one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.run.errors import RunDirError
from radioexplore.run.provenance import parquet_meta_bytes

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_path(target: Path, replace_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    An existing directory at ``target`` is replaced only with ``replace_dir=True``, which only the
    writers of a run's own directory artefacts (tiles.zarr) pass; otherwise RunDirError, before any
    work. Leftovers of an earlier writer of ``target`` that was killed are removed first (and logged).
    """
    target = Path(target)
    if target.is_dir() and not target.is_symlink() and not replace_dir:
        raise RunDirError(f"{target} is a directory; refusing to replace it: name a file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    removed = clean_leftovers(target)
    if removed:
        log.warning("removed leftovers of an interrupted write of %s: %s", target, ", ".join(p.name for p in removed))
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            if not replace_dir:
                raise RunDirError(f"{target} is a directory; refusing to replace it: name a file to write")
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def clean_leftovers(target: Path) -> list[Path]:
    """Remove what a killed writer of ``target`` left beside it (``.NAME.PID.*.tmp``, ``.NAME[.PID].old``).

    Leftovers of a process still alive (another writer at work) are kept. Returns what was removed.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}."
    removed = []
    for path in target.parent.iterdir():
        rest = path.name[len(prefix) :] if path.name.startswith(prefix) else None
        if rest is None or not (rest.endswith(".tmp") or rest.endswith("old")):
            continue
        pid = rest.split(".", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_parquet(df: pd.DataFrame, target: Path, meta: dict[str, Any] | None = None) -> None:
    """Write ``df`` atomically; ``meta`` (JSON-able) goes into the file's schema metadata (see read_parquet_meta)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if meta:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **parquet_meta_bytes(meta)})
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def write_npy(array: np.ndarray, target: Path) -> None:
    """Write ``array`` atomically as a .npy file."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))
