"""2-D maps of the embedding: UMAP (default) or t-SNE, after PCA.

Seed 000 shows t-SNE maps coloured by field, dataset and source count; seed 002 shows UMAP
coloured by noise rms. Both methods are available by name.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from radioexplore.rundir import RunDir, write_parquet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapConfig:
    method: str = "umap"  # umap or tsne
    pca_dims: int = 50  # PCA before the neighbour graph; speeds it and removes noise dimensions
    n_neighbors: int = 15  # UMAP default
    min_dist: float = 0.1  # UMAP default
    perplexity: float = 30.0  # t-SNE default
    metric: str = "cosine"
    seed: int = 0


def reduce_pca(emb: np.ndarray, dims: int, seed: int = 0) -> np.ndarray:
    x = np.asarray(emb, dtype=np.float32)
    if dims and x.shape[1] > dims and x.shape[0] > dims:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    return x


def compute_map(emb: np.ndarray, config: MapConfig = MapConfig()) -> np.ndarray:
    """``[N, 2]`` coordinates of the embedding rows."""
    x = reduce_pca(emb, config.pca_dims, config.seed)
    n = len(x)
    if n < 5:
        raise ValueError(f"a map needs at least 5 tiles; this run has {n}")
    if config.method == "umap":
        import umap

        reducer = umap.UMAP(
            n_neighbors=min(config.n_neighbors, n - 1),
            min_dist=config.min_dist,
            metric=config.metric,
            random_state=config.seed,
        )
        return reducer.fit_transform(x).astype(np.float32)
    if config.method == "tsne":
        from openTSNE import TSNE

        tsne = TSNE(
            perplexity=min(config.perplexity, (n - 1) / 3), metric=config.metric, random_state=config.seed, n_jobs=-1
        )
        return np.asarray(tsne.fit(x), dtype=np.float32)
    raise ValueError(f"unknown map method {config.method!r}; choose umap or tsne")


def map_run(run: RunDir, name: str, config: MapConfig = MapConfig()) -> Path:
    """Compute and save ``maps/<name>.<method>.parquet`` (columns tile_id, x, y)."""
    emb = run.read_embeddings(name)
    xy = compute_map(emb, config)
    df = pd.DataFrame({"tile_id": np.arange(len(xy)), "x": xy[:, 0], "y": xy[:, 1]})
    write_parquet(df, run.map(name, config.method))
    run.record("map", dict(asdict(config), embedding=name, n=len(df)), key=f"{name}.{config.method}")
    log.info("mapped %d tiles of %s with %s", len(df), name, config.method)
    return run.map(name, config.method)
