"""Tile generations: a new ingest stamps tiles.zarr and tiles.parquet alike and retires what older tiles made.

A reader that finds the two tile files with different generations knows an ingest was
interrupted; embeddings, maps and scores of the previous tiles move to ``stale/<time>/``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from radioexplore.run.atomic import write_parquet
from radioexplore.run.errors import RunDirError
from radioexplore.run.provenance import parquet_rows

if TYPE_CHECKING:
    from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: Attribute of tiles.zarr naming the ingest generation that wrote it.
STORE_GENERATION_ATTR = "radioexplore_generation"
#: Artefact folders built from the tiles, moved aside (into ``stale/<time>/``) when the tiles are re-made.
DOWNSTREAM_DIRS = ("embeddings", "index", "maps", "scores", "evaluation", "segments")


def store_generation(run: RunDir) -> str | None:
    """The ingest generation recorded in the run's tiles.zarr (None when absent or unreadable)."""
    import zarr

    try:
        return zarr.open_array(str(run.tile_pixels), mode="r").attrs.get(STORE_GENERATION_ATTR)
    except Exception:  # a half-written store reads as no generation, so the check refuses it
        return None


def commit_tiles(run: RunDir, tiles: pd.DataFrame) -> str:
    """Commit a new tiles.parquet to go with the tiles.zarr just swapped in; returns the new generation.

    Both files get the same fresh generation (the store first, the table last), so a reader
    that finds them disagreeing knows an ingest was interrupted. Embeddings, index, maps and
    scores built from the previous tiles move to ``stale/<time>/``; labels.sqlite stays, with
    a warning when the tiling changed (labels name tile ids).
    """
    import zarr

    store = zarr.open_array(str(run.tile_pixels), mode="r+")
    if store.shape[0] != len(tiles):
        raise RunDirError(f"{run.tile_pixels} holds {store.shape[0]} tiles but the table has {len(tiles)} rows")
    old = run.tiles_meta()
    old_rows = parquet_rows(run.tiles_table) if run.tiles_table.is_file() else None
    generation = uuid.uuid4().hex[:12]
    store.attrs[STORE_GENERATION_ATTR] = generation
    meta = {"tiles_generation": generation, "n_tiles": len(tiles), "tile_px": int(store.shape[-1])}
    write_parquet(tiles, run.tiles_table, meta=meta)
    moved = retire_downstream(run)
    if moved:
        log.warning(
            "moved artefacts of the previous tiles to %s: %s", moved[0].parent, ", ".join(p.name for p in moved)
        )
    old_px = old.get("tile_px", run.stage_config("ingest").get("tile_px"))
    changed = old_rows is not None and (old_rows != len(tiles) or (old_px is not None and old_px != meta["tile_px"]))
    if changed and run.labels_db.is_file():
        log.warning(
            "%s refers to the previous tiling (%s tiles of %s px; now %d of %d px): its tile ids no longer "
            "name the same tiles",
            run.labels_db,
            old_rows,
            old_px if old_px is not None else "?",
            len(tiles),
            meta["tile_px"],
        )
    return generation


def retire_downstream(run: RunDir) -> list[Path]:
    """Move every artefact built from the tiles into ``stale/<time>/`` (never labels); returns the new paths."""
    present = [run.root / d for d in DOWNSTREAM_DIRS if (run.root / d).exists()]
    if not present:
        return []
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = run.root / "stale" / stamp
    n = 1
    while dest.exists():
        n += 1
        dest = run.root / "stale" / f"{stamp}-{n}"
    dest.mkdir(parents=True)
    if run.run_toml.is_file():
        shutil.copy2(run.run_toml, dest / "run.toml")
    moved = []
    for path in present:
        os.replace(path, dest / path.name)
        moved.append(dest / path.name)
    return moved
