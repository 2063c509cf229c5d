"""The next tiles to show the astronomer: the best-ranked that are not labelled yet."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def review_queue(ranking: pd.DataFrame, n: int = 10, exclude: Any = (), column: str = "active_rank") -> np.ndarray:
    """The next ``n`` tile ids to show the astronomer: best ``column`` rank first, skipping ``exclude``
    (e.g. tiles already labelled) and tiles flagged ``labelled`` in the ranking.
    """
    skip = np.zeros(len(ranking), dtype=bool)
    if "labelled" in ranking:
        skip |= ranking["labelled"].to_numpy(dtype=bool)
    skip |= ranking["tile_id"].isin(np.asarray(list(exclude), dtype=np.int64)).to_numpy()
    left = ranking.loc[~skip, ["tile_id", column]]
    return left.nsmallest(n, column)["tile_id"].to_numpy(dtype=np.int64)
