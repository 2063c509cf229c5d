"""A label reaches the touching tiles of its field: the interest a labelled neighbour vouches for."""

from __future__ import annotations

from typing import Any

import numpy as np

from radioexplore.run.labels.values import INTEREST_RANGE


def spread_interest(
    adjacency: Any, ids: np.ndarray, interest: np.ndarray, spread: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every tile, the least interest its labelled touching tiles vouch for, ``1 + spread (label - 1)``
    at most over them (the bottom of the scale where no labelled tile touches it), and which tile vouches
    (-1: none, or only boring ones).

    A giant or X-shaped radio galaxy spans two to four tiles, and a tile holding only its core or
    one hotspot looks like any compact source: the astronomer who scores one tile of it 5 wants its
    neighbours shown. A boring label (1) vouches for nothing, so neighbours are never demoted.
    """
    lo = INTEREST_RANGE[0]
    out = np.full(n, lo, dtype=np.float32)
    source = np.full(n, -1, dtype=np.int64)
    if adjacency is None or spread <= 0 or len(ids) == 0:
        return out, source
    ids = np.asarray(ids, dtype=np.int64)
    vouch = (lo + spread * (np.asarray(interest, dtype=np.float32) - lo)).astype(np.float32)
    sub = adjacency[ids].tocoo()
    pair_vouch = vouch[sub.row]
    useful = pair_vouch > lo
    rows, cols, pair_vouch = sub.row[useful], sub.col[useful], pair_vouch[useful]
    order = np.lexsort((pair_vouch, cols))  # by tile, then by what is vouched: the last of each tile is its most
    last = order[np.r_[cols[order][1:] != cols[order][:-1], True]] if len(order) else order
    out[cols[last]] = pair_vouch[last]
    source[cols[last]] = ids[rows[last]]
    return out, source
