"""Where a labelled tile's object continues: the other tiles its top source spans.

A label reaches further than its own tile because a large source spans several (an X-shaped or giant
radio galaxy, a ring cut by a tile edge): the astronomer who scores one tile of it 5 wants the rest
shown. Every touching tile (:func:`radioexplore.run.tiling.tile_adjacency`) is the reach without a
catalogue; with the run's objects the reach is the emission itself: the tiles that the labelled
tile's most peculiar object, and the other components of its source (a double's lobes and core,
:mod:`radioexplore.ranking.sources`), overlap. The empty neighbours of a ring that fits in its tile
are then not vouched for (simulated at the issue's scale: most tiles the queue took after a
PECULIAR label; benchmarks/README.md, issue 24).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from radioexplore.ranking.peculiar import object_tile_pairs, tile_best_objects


def source_reach(objects: pd.DataFrame, n_tiles: int, column: str = "score") -> csr_matrix:
    """``[n_tiles, n_tiles]`` boolean: row L marks the tiles, L excepted, that the source of tile L's top
    object (by ``column``) overlaps; empty rows for tiles without an object. Objects without a
    ``source_id`` column are their own sources."""
    if objects is None or objects.empty or "tile_ids" not in objects:
        return csr_matrix((n_tiles, n_tiles), dtype=bool)
    best = tile_best_objects(objects, n_tiles, column)
    source = objects["source_id"].to_numpy(dtype=np.int64) if "source_id" in objects else np.arange(len(objects))
    codes, source = np.unique(source, return_inverse=True)
    rows, tiles = object_tile_pairs(objects, n_tiles)
    spans = csr_matrix((np.ones(len(rows), dtype=np.float32), (source[rows], tiles)), shape=(len(codes), n_tiles))
    has = np.flatnonzero(best >= 0)
    pick = csr_matrix((np.ones(len(has), dtype=np.float32), (has, source[best[has]])), shape=(n_tiles, len(codes)))
    reach = (pick @ spans).tocsr()
    reach.setdiag(0)
    reach.eliminate_zeros()
    return (reach > 0).tocsr()
