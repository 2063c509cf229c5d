"""The simulator's truth columns (``truth_*``) joined onto a run's tiles table, for benchmarks and tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from radioexplore.run.atomic import write_parquet
from radioexplore.run.rundir import RunDir
from radioexplore.simulation import tile_truth


def attach_truth(run: RunDir, sim_dir: str | Path) -> pd.DataFrame:
    """Add the simulator's truth columns (``truth_*``) to the run's tiles table."""
    tiles = run.read_tiles()
    tiles = tiles.drop(columns=[c for c in tiles.columns if c.startswith("truth_")])
    tiles = pd.concat([tiles, tile_truth(sim_dir, tiles)], axis=1)
    write_parquet(tiles, run.tiles_table, meta=run.tiles_meta())
    run.record("truth", {"simulation": str(Path(sim_dir).resolve())})
    return tiles
