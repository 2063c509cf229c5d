"""The Isolation Forest (Liu et al. 2008) over embedding rows, with seed 002's settings, and ranks from scores.

Riggi et al. 2024 (seed 002, sec. 5.2) search for peculiar frames with an Isolation Forest of 200
trees; max_samples 0.02 and contamination 0.001 worked best on their annotated data. The score is
Liu's anomaly score ``s = 2^(-E[h]/c(n))`` in (0, 1) (1 = isolated at once, about 0.5 = ordinary),
the scale on which seed 002 quotes its thresholds (0.66-0.75); rank 1 is the most anomalous tile.
``contamination`` sets the fraction flagged in the ``outlier`` column.
"""

from __future__ import annotations

import numpy as np

from radioexplore.ranking.config import RankConfig


def isolation_scores(emb: np.ndarray, config: RankConfig = RankConfig()) -> np.ndarray:
    """Anomaly score in [0, 1] per row of ``emb`` (1 = easiest to isolate); see :func:`isolation_forest`."""
    return isolation_forest(emb, config)[0]


def isolation_forest(emb: np.ndarray, config: RankConfig = RankConfig()) -> tuple[np.ndarray, float]:
    """Fit an Isolation Forest on the rows of ``emb``; returns (score per row, outlier threshold on that score).

    Rows scoring at or above the threshold are the ``contamination`` fraction the forest flags.
    """
    from sklearn.ensemble import IsolationForest  # imported here: the CLI builds its parser without sklearn

    x = np.asarray(emb, dtype=np.float32)
    n = len(x)
    samples = int(min(n, max(config.min_samples, round(config.max_samples * n))))
    forest = IsolationForest(
        n_estimators=config.n_estimators,
        max_samples=samples,
        contamination=config.contamination,
        random_state=config.seed,
        n_jobs=-1,
    )
    forest.fit(x)
    raw = -forest.score_samples(x)  # Liu's s(x, n) in (0, 1)
    threshold = float(-forest.offset_)
    if config.score_scale == "liu":
        return raw.astype(np.float32), threshold
    if config.score_scale != "minmax":
        raise ValueError(f"score_scale must be 'liu' or 'minmax', not {config.score_scale!r}")
    lo, hi = raw.min(), raw.max()
    span = hi - lo if hi > lo else 1.0
    return ((raw - lo) / span).astype(np.float32), float((threshold - lo) / span)


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest score; ties broken by tile id."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks
