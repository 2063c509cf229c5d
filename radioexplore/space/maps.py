"""2-D maps of the embedding: UMAP (default), t-SNE or plain PCA, after a PCA reduction.

Seed 000 shows t-SNE maps coloured by field, dataset and source count; seed 002 shows UMAP
coloured by noise rms. Both methods are available by name. Above ``sample_above`` tiles the
method is fitted on a random sample and the rest is placed, in batches: by default (``place``
"auto") UMAP and t-SNE maps put each remaining tile at the weighted mean position of its nearest
fitted tiles (found with FAISS), which is how ``umap.transform`` and openTSNE's
``prepare_partial`` initialise new points, without their optimisation epochs (10^6 tiles: a
UMAP transform took 52 min here, the neighbour placement a minute); PCA maps use the exact
projection. The map's metadata in run.toml records the sample and the placement.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from tqdm.auto import tqdm

from radioexplore.registry import lookup
from radioexplore.run.atomic import write_parquet
from radioexplore.run.rundir import RunDir

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
    sample_above: int = 200_000  # fit on a sample when there are more tiles than this
    sample_size: int = 100_000  # size of that sample
    place: str = "auto"  # placing the rest: "neighbours", "transform" (the method's own) or "auto" (see module doc)
    place_neighbours: int = 10  # fitted tiles whose positions are averaged for each placed tile


def reduce_pca(emb: np.ndarray, dims: int, seed: int = 0) -> np.ndarray:
    x = np.asarray(emb, dtype=np.float32)
    if dims and x.shape[1] > dims and x.shape[0] > dims:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    return x


def _fit_umap(x: np.ndarray, config: MapConfig):
    import umap

    reducer = umap.UMAP(
        n_neighbors=min(config.n_neighbors, len(x) - 1),
        min_dist=config.min_dist,
        metric=config.metric,
        random_state=config.seed,
    )
    return reducer.fit_transform(x), reducer.transform


def _fit_tsne(x: np.ndarray, config: MapConfig):
    from openTSNE import TSNE

    tsne = TSNE(
        perplexity=min(config.perplexity, (len(x) - 1) / 3), metric=config.metric, random_state=config.seed, n_jobs=-1
    )
    fitted = tsne.fit(x)
    return np.asarray(fitted), lambda rest: np.asarray(fitted.transform(rest))


def _fit_pca(x: np.ndarray, config: MapConfig):
    pca = PCA(n_components=2, random_state=config.seed).fit(x)
    return pca.transform(x), pca.transform


#: Map methods by name (``map --method``): each fits on rows and returns (their coordinates, a function placing new rows).
MAP_METHODS = {"umap": _fit_umap, "tsne": _fit_tsne, "pca": _fit_pca}


def _fit(x: np.ndarray, config: MapConfig):
    """Fit the map method on ``x``; returns (coordinates of x, a function placing new rows)."""
    return lookup(MAP_METHODS, config.method, "map method")(x, config)


PLACEMENTS = ("auto", "neighbours", "transform")


def placement(config: MapConfig) -> str:
    """The placement ``config`` asks for, with "auto" resolved: exact projection for PCA, neighbours otherwise."""
    if config.place not in PLACEMENTS:
        raise ValueError(f"MapConfig.place must be one of {', '.join(PLACEMENTS)}, not {config.place!r}")
    if config.place == "auto":
        return "transform" if config.method == "pca" else "neighbours"
    return config.place


def neighbour_placer(fitted: np.ndarray, coords: np.ndarray, k: int = 10):
    """A function placing new rows at the weighted mean map position of their ``k`` nearest ``fitted`` rows.

    Neighbours by cosine similarity (the maps' metric) through a FAISS index (exact for a small
    sample, IVF above); weights fall off with distance beyond the nearest one, as in UMAP's
    membership strengths, so a tile between two clusters is pulled to the nearer one.
    """
    from radioexplore.space.index import IndexConfig, build_index, normalised

    index = build_index(fitted, IndexConfig(exact_below=20_000, nprobe=16))
    k = min(k, len(fitted))
    coords = np.asarray(coords, dtype=np.float32)

    def place(rows: np.ndarray) -> np.ndarray:
        sims, ids = index.search(normalised(rows), k)
        found = ids >= 0
        dist = np.where(found, 1.0 - sims, np.inf)
        rho = dist[:, :1]
        sigma = np.maximum(np.nanmean(np.where(found, dist - rho, np.nan), axis=1, keepdims=True), 1e-6)
        w = np.where(found, np.exp(-(dist - rho) / sigma), 0.0)
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkc->nc", w, coords[np.where(found, ids, 0)]).astype(np.float32)

    return place


def compute_map(emb: np.ndarray, config: MapConfig = MapConfig(), progress: bool = False) -> np.ndarray:
    """``[N, 2]`` coordinates of the embedding rows (fitted on a sample above ``config.sample_above``)."""
    n = len(emb)
    if n < 5:
        raise ValueError(f"a map needs at least 5 tiles; this run has {n}")
    place_by = placement(config)  # a bad ``place`` fails here, before the fit
    rng = np.random.default_rng(config.seed)
    if n <= config.sample_above:
        x = reduce_pca(emb, config.pca_dims, config.seed)
        return np.asarray(_fit(x, config)[0], dtype=np.float32)
    sample = np.sort(rng.choice(n, size=min(config.sample_size, n), replace=False))
    pca = PCA(n_components=min(config.pca_dims, emb.shape[1]), random_state=config.seed).fit(
        np.asarray(emb[sample], dtype=np.float32)
    )
    fitted = pca.transform(np.asarray(emb[sample], dtype=np.float32)).astype(np.float32)
    coords, place = _fit(fitted, config)
    if place_by == "neighbours":
        place = neighbour_placer(fitted, coords, config.place_neighbours)
    out = np.empty((n, 2), dtype=np.float32)
    out[sample] = coords
    rest = np.setdiff1d(np.arange(n), sample)
    batch = 50_000
    for start in tqdm(range(0, len(rest), batch), desc=f"place tiles on the {config.method} map", disable=not progress):
        ids = rest[start : start + batch]
        out[ids] = place(pca.transform(np.asarray(emb[ids], dtype=np.float32)))
    return out


def map_run(run: RunDir, name: str, config: MapConfig = MapConfig(), progress: bool = True) -> Path:
    """Compute and save ``maps/<name>.<method>.parquet`` (columns tile_id, x, y)."""
    run.check_consistent(name, stages=("ingest", "embed"))
    built_from = run.provenance(name)
    emb = run.read_embeddings(name)
    xy = compute_map(emb, config, progress)
    df = pd.DataFrame({"tile_id": np.arange(len(xy)), "x": xy[:, 0], "y": xy[:, 1]})
    write_parquet(df, run.map(name, config.method))
    sampled = len(emb) > config.sample_above
    meta = dict(
        asdict(config),
        embedding=name,
        n=len(df),
        fitted_on=min(config.sample_size, len(df)) if sampled else len(df),
        placed_by=placement(config) if sampled else "fitted (no sample)",
        built_from=built_from,
    )
    run.record("map", meta, key=f"{name}.{config.method}")
    log.info("mapped %d tiles of %s with %s", len(df), name, config.method)
    return run.map(name, config.method)
