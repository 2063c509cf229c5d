"""Synthetic runs of any size, for scale tests and benchmarks: a tiles table and clustered embeddings.

No images are made: the tile store is created empty (zarr writes no chunk until asked, so a
million-tile store costs nothing on disk), and the app shows blank thumbnails for such runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from radioexplore.run.atomic import atomic_path, write_npy
from radioexplore.run.generation import commit_tiles
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import create_tile_store


@dataclass(frozen=True)
class SyntheticConfig:
    tiles: int = 100_000
    dim: int = 384  # ViT-S embedding width
    fields: int = 100
    clusters: int = 20
    outlier_fraction: float = 0.002
    tile_px: int = 16  # size of the (empty) tile store's tiles
    seed: int = 0


def synthetic_embeddings(
    n: int, dim: int, clusters: int, outlier_fraction: float, seed: int = 0, chunk: int = 200_000
) -> tuple[np.ndarray, np.ndarray]:
    """Clustered float32 embeddings ``[n, dim]`` with a few far outliers; returns (embeddings, is_outlier)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    labels = rng.integers(0, clusters, n)
    for start in tqdm(range(0, n, chunk), desc="synthetic embeddings", disable=n <= chunk):
        stop = min(start + chunk, n)
        out[start:stop] = centres[labels[start:stop]] + 0.35 * rng.standard_normal(
            (stop - start, dim), dtype=np.float32
        )
    outliers = rng.random(n) < outlier_fraction
    out[outliers] = 2.5 * rng.standard_normal((int(outliers.sum()), dim), dtype=np.float32)
    return out, outliers


def make_synthetic_run(run: RunDir, config: SyntheticConfig = SyntheticConfig()) -> None:
    """Write tiles.parquet, an empty tile store and ``embeddings/synthetic.npy`` for ``config.tiles`` tiles."""
    rng = np.random.default_rng(config.seed)
    n = config.tiles
    emb, outliers = synthetic_embeddings(n, config.dim, config.clusters, config.outlier_fraction, config.seed)
    field = rng.integers(0, config.fields, n)
    per_row = 64
    k = np.arange(n)
    tiles = pd.DataFrame(
        {
            "tile_id": k,
            "field": pd.array([f"field_{f:03d}" for f in field], dtype="string"),
            "survey": "synthetic",
            "file": "",
            "x0": (k % per_row) * config.tile_px,
            "y0": (k // per_row % per_row) * config.tile_px,
            "size": config.tile_px,
            "ra": rng.uniform(0, 360, n),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 0.3, n))),
            "noise_rms": rng.lognormal(np.log(5e-6), 0.3, n),
            "dqf": pd.array(rng.choice(4, n, p=[0.6, 0.2, 0.15, 0.05]), dtype="Int64"),
            "n_sources": pd.array(rng.poisson(12, n), dtype="Int64"),
            "finite_fraction": 1.0,
            "flag": "ok",
            "bunit": "",
            "truth_peculiar": outliers,
        }
    )
    run.root.mkdir(parents=True, exist_ok=True)
    with atomic_path(run.tile_pixels, replace_dir=True) as tmp:
        create_tile_store(tmp, n, 1, config.tile_px)
    commit_tiles(run, tiles)
    write_npy(emb, run.embeddings("synthetic"))
    run.record("synthetic", asdict(config), default_embedding="synthetic")
    run.record("ingest", {"n_tiles": n, "files": [], "tile_px": config.tile_px, "scaling": "none (synthetic)"})
