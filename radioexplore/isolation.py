"""Anomaly ranking of tiles with an Isolation Forest over their embeddings.

Riggi et al. 2024 (seed 002, sec. 5.3) search for peculiar frames with an Isolation Forest of
200 trees; max_samples 0.02 and contamination 0.001 worked best on their annotated data.
Scores are mapped to 0..1 (1 = most anomalous); rank 1 is the most anomalous tile.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from radioexplore.rundir import RunDir, write_parquet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankConfig:
    n_estimators: int = 200  # seed 002, sec. 5.3
    max_samples: float = 0.02  # seed 002, sec. 5.3: fraction of tiles per tree
    min_samples: int = 64  # floor on samples per tree, so small runs still grow useful trees
    contamination: float | str = 0.001  # seed 002; only sets the flagged fraction, not the score
    seed: int = 0


def isolation_scores(emb: np.ndarray, config: RankConfig = RankConfig()) -> np.ndarray:
    """Anomaly score in [0, 1] per row of ``emb`` (1 = easiest to isolate)."""
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
    raw = -forest.score_samples(x)
    lo, hi = raw.min(), raw.max()
    return ((raw - lo) / (hi - lo) if hi > lo else np.zeros_like(raw)).astype(np.float32)


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest score; ties broken by tile id."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def rank_run(run: RunDir, name: str, config: RankConfig = RankConfig()) -> Path:
    """Score every tile of ``embeddings/<name>`` into ``scores/<name>.parquet`` (tile_id, score, rank)."""
    scores = isolation_scores(run.read_embeddings(name), config)
    df = pd.DataFrame({"tile_id": np.arange(len(scores)), "score": scores, "rank": ranks_of(scores)})
    write_parquet(df, run.scores(name))
    run.record("rank", dict(asdict(config), embedding=name, n=len(df)), key=name)
    log.info("ranked %d tiles of %s with an Isolation Forest", len(df), name)
    return run.scores(name)
