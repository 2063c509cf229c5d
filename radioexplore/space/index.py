"""FAISS similarity indexes over L2-normalised embeddings (cosine similarity by inner product).

The index type is an ``index_factory`` string the user can override; by default an exact
``Flat`` index below :data:`EXACT_BELOW` tiles and an approximate one above it: an inverted file
(IVF, the default) or a graph (HNSW). Distances reported to users are cosine distances,
``1 - cos``. :func:`recall_at_k` measures how much of the exact neighbourhood an approximate
index returns (the tests hold it to >= 0.95 at k = 10).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from radioexplore.registry import lookup
from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

EXACT_BELOW = 50_000


@dataclass(frozen=True)
class IndexConfig:
    """How to index: a FAISS factory string (None: chosen by size) and the search breadth."""

    factory: str | None = None
    nprobe: int = 32  # inverted lists visited per query (IVF)
    ef_search: int = 128  # candidate list size per query (HNSW)
    use_gpu: bool = False  # move the index to a GPU when faiss-gpu and a GPU are present
    approximate: str = "ivf"  # kind used above exact_below: "ivf" or "hnsw"
    exact_below: int = EXACT_BELOW


#: Approximate index kinds by name: ``kind(n, d) -> index_factory string``.
APPROXIMATE = {
    # about 4 sqrt(N) inverted lists, a power of two (FAISS wiki, "Guidelines to choose an index")
    "ivf": lambda n, d: f"IVF{int(2 ** np.round(np.log2(4 * np.sqrt(n))))},Flat",
    # 32 links per node: recall > 0.95 at efSearch 128 on embeddings of a few hundred dimensions
    "hnsw": lambda n, d: "HNSW32,Flat",
}


def choose_factory(n: int, d: int, approximate: str = "ivf", exact_below: int = EXACT_BELOW) -> str:
    """Exact search (``Flat``) below ``exact_below`` tiles; above, the ``approximate`` kind (IVF or HNSW)."""
    if n < exact_below:
        return "Flat"
    return lookup(APPROXIMATE, approximate, "approximate index")(n, d)


def factory_for(n: int, d: int, config: IndexConfig) -> str:
    """The factory string ``config`` asks for, or the one :func:`choose_factory` picks for N x d."""
    return config.factory or choose_factory(n, d, config.approximate, config.exact_below)


def normalised(emb: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(emb, dtype=np.float32).copy()
    faiss.normalize_L2(x)
    return x


def build_index(emb: np.ndarray, config: IndexConfig = IndexConfig()) -> faiss.Index:
    """An inner-product index over the normalised rows of ``emb``, trained if the type needs it."""
    x = normalised(emb)
    factory = factory_for(*x.shape, config)
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


def exact_search(emb: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances and ids of the ``k`` nearest rows by brute force (the reference for recall)."""
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(normalised(emb))
    return search(index, queries, k)


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean fraction of each query's exact ``k`` neighbours that the approximate search also returned."""
    approx_ids, exact_ids = np.atleast_2d(approx_ids), np.atleast_2d(exact_ids)
    hits = [
        len(set(a[a >= 0]) & set(e[e >= 0])) / max(1, int((e >= 0).sum()))
        for a, e in zip(approx_ids, exact_ids, strict=True)
    ]
    return float(np.mean(hits))


def index_run(run: RunDir, name: str, config: IndexConfig = IndexConfig()) -> Path:
    """Build and save the index of ``embeddings/<name>.npy``."""
    run.check_consistent(name, stages=("ingest", "embed"))
    built_from = run.provenance(name)
    emb = run.read_embeddings(name)
    index = build_index(emb, config)
    write_index(index, run.index(name))
    factory = factory_for(*emb.shape, config)
    record = dict(asdict(config), factory_used=factory, n=int(emb.shape[0]), built_from=built_from)
    run.record("index", record, key=name)
    log.info("indexed %d embeddings (%s) into %s", emb.shape[0], factory, run.index(name))
    return run.index(name)


def neighbours(run: RunDir, name: str, tile_id: int, k: int = 8) -> list[dict]:
    """The ``k`` nearest tiles to ``tile_id`` (itself excluded), as ``{"tile_id", "distance"}``."""
    run.check_consistent(name, stages=("ingest", "embed", "index"))
    emb = run.read_embeddings(name)
    if not 0 <= tile_id < len(emb):
        raise IndexError(f"tile {tile_id} does not exist: run {run.root} has tiles 0..{len(emb) - 1}")
    index = read_index(run.index(name))
    dist, ids = search(index, emb[tile_id], min(k + 1, len(emb)))
    hits = [(int(i), float(d)) for i, d in zip(ids[0], dist[0], strict=True) if i >= 0 and i != tile_id]
    return [{"tile_id": i, "distance": round(d, 6)} for i, d in hits[:k]]
