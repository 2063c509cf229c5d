"""FAISS similarity indexes over L2-normalised embeddings (cosine similarity by inner product).

The index type is an ``index_factory`` string the user can override; by default an exact
``Flat`` index below :data:`EXACT_BELOW` tiles and an inverted-file index above it. Distances
reported to users are cosine distances, ``1 - cos``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from radioexplore.rundir import RunDir, atomic_path

log = logging.getLogger(__name__)

EXACT_BELOW = 50_000


@dataclass(frozen=True)
class IndexConfig:
    """How to index: a FAISS factory string (None: chosen by size) and the search breadth."""

    factory: str | None = None
    nprobe: int = 32  # inverted lists visited per query (IVF)
    ef_search: int = 128  # candidate list size per query (HNSW)
    use_gpu: bool = False  # move the index to a GPU when faiss-gpu and a GPU are present


def choose_factory(n: int, d: int) -> str:
    """Exact search for small runs; IVF with about 4 sqrt(N) lists above :data:`EXACT_BELOW`."""
    if n < EXACT_BELOW:
        return "Flat"
    nlist = int(2 ** np.round(np.log2(4 * np.sqrt(n))))
    return f"IVF{nlist},Flat"


def normalised(emb: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(emb, dtype=np.float32).copy()
    faiss.normalize_L2(x)
    return x


def build_index(emb: np.ndarray, config: IndexConfig = IndexConfig()) -> faiss.Index:
    """An inner-product index over the normalised rows of ``emb``, trained if the type needs it."""
    x = normalised(emb)
    factory = config.factory or choose_factory(*x.shape)
    try:
        index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise ValueError(f"FAISS cannot build index type {factory!r}: {exc}") from None
    if not index.is_trained:
        rng = np.random.default_rng(0)
        train = x if len(x) <= 256 * 1024 else x[rng.choice(len(x), 256 * 1024, replace=False)]
        index.train(train)
    index.add(x)
    configure_search(index, config)
    return index


def configure_search(index: faiss.Index, config: IndexConfig) -> None:
    """Set nprobe / efSearch on whatever kind of index this is."""
    ps = faiss.ParameterSpace()
    for name, value in (("nprobe", config.nprobe), ("efSearch", config.ef_search)):
        try:
            ps.set_index_parameter(index, name, value)
        except RuntimeError:
            continue


def write_index(index: faiss.Index, path: Path) -> None:
    with atomic_path(path) as tmp:
        faiss.write_index(index, str(tmp))


def read_index(path: Path, config: IndexConfig = IndexConfig()) -> faiss.Index:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no index; run `radioexplore index` for this run first")
    index = faiss.read_index(str(path))
    configure_search(index, config)
    return index


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances and tile ids of the ``k`` nearest rows to each query."""
    q = normalised(np.atleast_2d(queries))
    sims, ids = index.search(q, k)
    return 1.0 - sims, ids


def index_run(run: RunDir, name: str, config: IndexConfig = IndexConfig()) -> Path:
    """Build and save the index of ``embeddings/<name>.npy``."""
    emb = run.read_embeddings(name)
    index = build_index(emb, config)
    write_index(index, run.index(name))
    factory = config.factory or choose_factory(*emb.shape)
    run.record("index", dict(asdict(config), factory_used=factory, n=int(emb.shape[0])), key=name)
    log.info("indexed %d embeddings (%s) into %s", emb.shape[0], factory, run.index(name))
    return run.index(name)


def neighbours(run: RunDir, name: str, tile_id: int, k: int = 8) -> list[dict]:
    """The ``k`` nearest tiles to ``tile_id`` (itself excluded), as ``{"tile_id", "distance"}``."""
    emb = run.read_embeddings(name)
    if not 0 <= tile_id < len(emb):
        raise IndexError(f"tile {tile_id} does not exist: run {run.root} has tiles 0..{len(emb) - 1}")
    index = read_index(run.index(name))
    dist, ids = search(index, emb[tile_id], min(k + 1, len(emb)))
    hits = [(int(i), float(d)) for i, d in zip(ids[0], dist[0], strict=True) if i >= 0 and i != tile_id]
    return [{"tile_id": i, "distance": round(d, 6)} for i, d in hits[:k]]
