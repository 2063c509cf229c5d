"""Similarity search: the tiles most like one tile, like a selection of tiles, or like query vectors.

All searches are by cosine similarity of embeddings (see :mod:`radioexplore.space.index`): exact for
small runs, through the run's approximate FAISS index (IVF or HNSW) above its size threshold.

*A selection* is searched in one of two ways (``mode``):

- ``"mean"`` (default): one query, the mean of the selected tiles' L2-normalised embeddings,
  i.e. their direction on the unit sphere; finds tiles like the selection as a whole and
  suits a selection of one kind of object;
- ``"union"``: one query per selected tile; each hit keeps its smallest distance to any of
  them and names that tile in ``query``; suits a selection of several kinds.

*An uploaded FITS cutout* is embedded as the run embedded its tiles
(:func:`radioexplore.space.cutout.query.embed_cutout`) and its placements searched with
:meth:`SimilaritySearch.from_vectors`.
"""

from __future__ import annotations

import logging
from typing import Any

import faiss
import numpy as np
import pandas as pd

from radioexplore.run.rundir import RunDir
from radioexplore.space.index import IndexConfig, build_index, configure_search, normalised, read_index, search

log = logging.getLogger(__name__)


class SimilaritySearch:
    """Nearest-neighbour queries over one embedding set; build once (``from_run``) and query often.

    Parameters
    ----------
    emb
        ``[N, D]`` embeddings (a memory map is fine), row i is tile i.
    index
        A FAISS index over the normalised rows of ``emb`` (e.g. the run's ``index/<name>.faiss``);
        None builds one in memory with ``config`` (exact below ``config.exact_below`` tiles).
    """

    def __init__(self, emb: np.ndarray, index: faiss.Index | None = None, config: IndexConfig | None = None) -> None:
        config = config or IndexConfig()
        self.emb = emb
        if index is not None and index.ntotal != len(emb):
            log.warning("index holds %d vectors for %d embeddings: rebuilding it in memory", index.ntotal, len(emb))
            index = None
        self.index = index if index is not None else build_index(np.asarray(emb), config)
        configure_search(self.index, config)

    @classmethod
    def from_run(cls, run: RunDir, name: str, config: IndexConfig | None = None) -> SimilaritySearch:
        """The search over ``embeddings/<name>``, through ``index/<name>.faiss`` when it exists."""
        config = config or IndexConfig()
        run.check_consistent(name, stages=("ingest", "embed", "index"))
        emb = run.read_embeddings(name)
        path = run.index(name)
        return cls(emb, read_index(path, config) if path.is_file() else None, config)

    def __len__(self) -> int:
        return len(self.emb)

    def _check(self, ids: np.ndarray) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise IndexError(f"tiles {bad[:5].tolist()} do not exist: this embedding set has tiles 0..{len(self) - 1}")
        if ids.size == 0:
            raise ValueError("the selection is empty: select at least one tile")
        return ids

    def from_vector(self, vector: np.ndarray, k: int = 10, exclude: Any = ()) -> pd.DataFrame:
        """The ``k`` tiles nearest to an embedding vector: ``tile_id``, ``distance`` (cosine), nearest first."""
        skip = set(int(i) for i in np.atleast_1d(np.asarray(list(exclude), dtype=np.int64)))
        want = min(k + len(skip), len(self))
        dist, ids = search(self.index, np.asarray(vector, dtype=np.float32), want)
        hits = [(int(i), float(d)) for i, d in zip(ids[0], dist[0], strict=True) if i >= 0 and int(i) not in skip]
        return pd.DataFrame(hits[:k], columns=["tile_id", "distance"])

    def from_vectors(self, vectors: np.ndarray, k: int = 10) -> pd.DataFrame:
        """The ``k`` tiles nearest to any of several query vectors (each tile keeps its smallest distance),
        e.g. an uploaded cutout's placements (:meth:`radioexplore.space.cutout.query.CutoutEmbedding.queries`)."""
        x = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if len(x) == 1:
            return self.from_vector(x[0], k)
        want = min(k, len(self))
        dist, hit = search(self.index, x, want)
        df = pd.DataFrame({"tile_id": hit.ravel(), "distance": dist.ravel()})
        df = df[df["tile_id"] >= 0].sort_values(["distance", "tile_id"]).drop_duplicates("tile_id").head(k)
        return df.reset_index(drop=True).astype({"tile_id": np.int64, "distance": float})

    def from_tile(self, tile_id: int, k: int = 10) -> pd.DataFrame:
        """The ``k`` tiles most like ``tile_id``, itself excluded."""
        (tile,) = self._check([tile_id])
        return self.from_vector(np.asarray(self.emb[tile]), k, exclude=[tile])

    def from_tiles(self, tile_ids: Any, k: int = 10, mode: str = "mean") -> pd.DataFrame:
        """The ``k`` tiles most like a selection (selected tiles excluded); see the module docstring for ``mode``.

        ``mode="union"`` adds a ``query`` column: the selected tile each hit is nearest to.
        """
        ids = self._check(tile_ids)
        x = normalised(np.asarray(self.emb[np.sort(ids)]))
        if mode == "mean":
            return self.from_vector(x.mean(0), k, exclude=ids)
        if mode != "union":
            raise ValueError(f"mode must be 'mean' or 'union', not {mode!r}")
        want = min(k + len(ids), len(self))
        dist, hit = search(self.index, x, want)
        query = np.repeat(np.sort(ids), want)
        df = pd.DataFrame({"tile_id": hit.ravel(), "distance": dist.ravel(), "query": query})
        df = df[(df["tile_id"] >= 0) & ~df["tile_id"].isin(ids)]
        df = df.sort_values(["distance", "tile_id"]).drop_duplicates("tile_id").head(k)
        return df.reset_index(drop=True).astype({"tile_id": np.int64, "distance": float, "query": np.int64})
