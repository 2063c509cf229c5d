"""Large runs are stored and read column-wise: typed parquet columns for maps and scores, embeddings
memory-mapped, and the sampled map fit recorded (issue 7; benchmarks/scale_run.py runs it at 10^6)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.rank import rank_run
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.synthetic import SyntheticConfig, make_synthetic_run
from radioexplore.space.maps import MapConfig, map_run

N = 12_000


@pytest.fixture(scope="module")
def big_run(tmp_path_factory) -> RunDir:
    run = RunDir(tmp_path_factory.mktemp("scale") / "run")
    make_synthetic_run(run, SyntheticConfig(tiles=N, dim=64, fields=7, clusters=5))
    return run


def _arrow_types(path) -> dict[str, str]:
    return {f.name: str(f.type) for f in pq.read_schema(path)}


def test_embeddings_are_read_as_a_memory_map(big_run):
    emb = big_run.read_embeddings("synthetic")
    assert isinstance(emb, np.memmap) and emb.shape == (N, 64) and emb.dtype == np.float32


def test_a_sampled_map_is_stored_as_typed_columns_and_records_its_sample(big_run):
    config = MapConfig(method="pca", sample_above=5_000, sample_size=3_000)
    path = map_run(big_run, "synthetic", config, progress=False)
    assert _arrow_types(path) == {"tile_id": "int64", "x": "float", "y": "float"}
    meta = big_run.stage_config("map", "synthetic.pca")
    assert meta["n"] == N and meta["fitted_on"] == 3_000
    xy = big_run.read_map("synthetic", "pca")
    assert np.array_equal(xy["tile_id"].to_numpy(), np.arange(N))
    assert xy["x"].dtype == np.float32 and np.isfinite(xy[["x", "y"]].to_numpy()).all()
    # the tiles placed by the transform land among the fitted ones, not at a default position
    assert xy["x"].std() > 0 and xy["x"].nunique() > N // 2


def test_scores_are_stored_as_typed_columns_one_row_per_tile(big_run):
    path = rank_run(big_run, "synthetic", RankConfig(n_estimators=20))
    types = _arrow_types(path)
    assert types["tile_id"] == "int64" and types["score"] == "float" and types["rank"] == "int64"
    assert not any(t.startswith(("list", "large_list", "struct")) for t in types.values())
    scores = big_run.read_scores("synthetic")
    assert len(scores) == N and sorted(scores["rank"]) == list(range(1, N + 1))
    # columns come back as numpy-backed arrays, not Python objects per tile
    assert scores["score"].dtype == np.float32 and scores["tile_id"].dtype == np.int64
