"""What an artefact records about how it was made: TOML-safe values, software versions, checksums.

Stages write these into run.toml and into a parquet file's schema metadata, so that a later
stage (or the app) can tell which inputs an artefact was built from.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

#: Version of run.toml's layout.
SCHEMA_VERSION = 1
#: Key of the JSON provenance radioexplore writes into a parquet file's schema metadata.
PARQUET_META_KEY = b"radioexplore"


def now() -> str:
    """The current UTC time, to the second, as ISO 8601 text."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def tomlable(value: Any) -> Any:
    """Turn dataclass dumps into TOML-safe values (no None, paths as strings, numpy scalars as Python)."""
    if isinstance(value, dict):
        return {str(k): tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [tomlable(v) for v in value if v is not None]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def software_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour shapes the artefacts."""
    import importlib.metadata as md

    out = {}
    for pkg in ("radioexplore", "numpy", "astropy", "torch", "faiss-cpu", "umap-learn", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out


def parquet_meta_bytes(meta: dict[str, Any]) -> dict[bytes, bytes]:
    """``meta`` as the schema-metadata entry :func:`read_parquet_meta` reads back."""
    return {PARQUET_META_KEY: json.dumps(tomlable(meta)).encode()}


def read_parquet_meta(path: Path) -> dict[str, Any]:
    """The radioexplore provenance in a parquet file's footer ({} when it has none)."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(PARQUET_META_KEY)
    return json.loads(raw) if raw else {}


def parquet_rows(path: Path) -> int:
    """The number of rows of a parquet file, from its footer alone."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def array_checksum(path: Path) -> str:
    """A 16-hex-digit checksum of a .npy array: all of it up to 64 MB, else its shape and 4096 spread rows."""
    arr = np.load(path, mmap_mode="r")
    h = hashlib.blake2b(digest_size=8)
    h.update(repr((arr.shape, arr.dtype.str)).encode())
    if arr.nbytes <= 64 << 20 or arr.ndim == 0:
        h.update(np.ascontiguousarray(arr).tobytes())
    else:
        rows = np.unique(np.linspace(0, arr.shape[0] - 1, 4096).astype(np.int64))
        h.update(np.ascontiguousarray(arr[rows]).tobytes())
    return h.hexdigest()
