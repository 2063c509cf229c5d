"""Rows of the tile table: the one constructor wide-field and stamp ingest both use, and the typed frame.

A row is built in one place so that both kinds of ingest write the same columns, in the same
order, with the same flag rule; :func:`tiles_frame` gives them the contract's types.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from radioexplore.run.tiletable.schema import (
    CONTRACT_COLUMNS,
    FLOAT_COLUMNS,
    NULLABLE_INT_COLUMNS,
    STAMP_COLUMNS,
    TEXT_COLUMNS,
    tile_flag,
)


def tile_row(
    *,
    tile_id: int,
    field: str,
    survey: str,
    file: str,
    box: tuple[int, int, int],
    ra: float,
    dec: float,
    noise_rms: float,
    dqf: int | None,
    n_sources: int | None,
    n_sources_from: str,
    pixels: np.ndarray,
    finite_fraction: float,
    min_finite_fraction: float,
    bunit: str,
    **stamp: Any,
) -> dict[str, Any]:
    """One row of tiles.parquet: the contract columns (``flag`` from ``pixels``), ``n_sources_from``,
    and for a stamp the :data:`STAMP_COLUMNS` given as keywords. ``box`` is ``(x0, y0, size)`` in source pixels."""
    unknown = sorted(set(stamp) - set(STAMP_COLUMNS))
    if unknown:
        raise ValueError(f"tile_row: {unknown} are not tile table columns; stamp columns are {list(STAMP_COLUMNS)}")
    x0, y0, size = box
    return dict(
        tile_id=tile_id,
        field=field,
        survey=survey,
        file=file,
        x0=x0,
        y0=y0,
        size=size,
        ra=ra,
        dec=dec,
        noise_rms=noise_rms,
        dqf=dqf,
        n_sources=n_sources,
        n_sources_from=n_sources_from,
        finite_fraction=finite_fraction,
        flag=tile_flag(pixels, finite_fraction, min_finite_fraction),
        bunit=bunit,
        **{c: stamp[c] for c in STAMP_COLUMNS if c in stamp},
    )


def tiles_frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """The tiles table with the column types of the contract (nullable ints for DQF and counts)."""
    tiles = pd.DataFrame(rows)
    missing = [c for c in CONTRACT_COLUMNS if c not in tiles.columns]
    if missing:
        raise ValueError(f"tiles table lacks contract columns {missing}")
    for col in NULLABLE_INT_COLUMNS:
        tiles[col] = pd.array(pd.to_numeric(tiles[col], errors="coerce"), dtype="Int64")
    for col in TEXT_COLUMNS:
        if col in tiles.columns:
            tiles[col] = tiles[col].astype(str)
    for col in FLOAT_COLUMNS:
        tiles[col] = tiles[col].astype(float)
    if "label" in tiles.columns:
        tiles["label"] = pd.array(tiles["label"], dtype="string")
    return tiles
