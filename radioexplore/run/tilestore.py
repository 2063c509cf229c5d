"""The chunked store of normalised tile pixels, ``[N, C, S, S]`` float16 in ``tiles.zarr``.

One store feeds the model and the thumbnails; chunks of a few tiles keep random access cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

CHUNK_TILES = 16


def create_tile_store(path: str | Path, n: int, channels: int, size: int) -> zarr.Array:
    """A new, empty store for ``n`` tiles of ``channels`` x ``size`` x ``size`` pixels."""
    return zarr.open_array(
        str(path),
        mode="w",
        shape=(n, channels, size, size),
        chunks=(CHUNK_TILES, channels, size, size),
        dtype="float16",
        fill_value=0.0,
    )


def open_tile_store(path: str | Path, writable: bool = False) -> zarr.Array:
    """Open a store for reading (or writing into, for ingest tasks); FileNotFoundError names an absent path."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no tile store; run `radioexplore ingest` for this run first")
    return zarr.open_array(str(path), mode="r+" if writable else "r")


def read_tiles(store: zarr.Array, ids: np.ndarray | list[int]) -> np.ndarray:
    """Tiles ``ids`` as float32 ``[len(ids), C, S, S]``, read chunk-wise in sorted order."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0:
        return np.empty((0, *store.shape[1:]), dtype=np.float32)
    order = np.argsort(ids)
    sorted_ids = ids[order]
    if np.all(np.diff(sorted_ids) == 1):
        block = np.asarray(store[int(sorted_ids[0]) : int(sorted_ids[-1]) + 1], dtype=np.float32)
    else:
        block = np.stack([np.asarray(store[int(i)], dtype=np.float32) for i in sorted_ids])
    out = np.empty_like(block)
    out[order] = block
    return out
