"""Active learning sees what the forest saw (fields standardised, border tiles left out) and lets a
label reach the touching tiles of a large source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.active_features import reduce_features
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.rank import rank_run, ranking_context
from radioexplore.ranking.spread import spread_interest
from radioexplore.ranking.standardise import fit_scaling
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiling import axis_origins, tile_adjacency


def _grid(n: int, size: int, field: str, step: int | None = None) -> pd.DataFrame:
    step = step or size
    xs, ys = np.meshgrid(np.arange(n) * step, np.arange(n) * step, indexing="xy")
    return pd.DataFrame({"field": field, "x0": xs.ravel(), "y0": ys.ravel(), "size": size})


def _adjacency(tiles: pd.DataFrame):
    return tile_adjacency(tiles["field"].to_numpy(), tiles["x0"], tiles["y0"], tiles["size"])


def test_touching_tiles_are_the_eight_around_a_tile_in_its_own_field():
    tiles = pd.concat([_grid(3, 128, "a"), _grid(3, 128, "b")], ignore_index=True)
    adj = _adjacency(tiles)
    degree = np.diff(adj.indptr)
    assert degree[4] == 8 and degree[0] == 3 and degree[1] == 5  # centre, corner, edge of field a
    assert (adj != adj.T).nnz == 0 and adj.diagonal().sum() == 0
    assert set(adj[4].indices) == set(range(9)) - {4}  # nothing of field b
    # a 5 x 5 grid: the tile two steps away does not touch
    big = _adjacency(_grid(5, 64, "c"))
    assert 2 not in big[0].indices and 1 in big[0].indices


def test_crops_that_overlap_by_a_few_pixels_still_touch_their_neighbours_only():
    origins = axis_origins(3500, 256)  # MGCLS-like: 14 crops overlapping by about 6 px
    xs, ys = np.meshgrid(origins, origins[:3], indexing="xy")
    tiles = pd.DataFrame({"field": "f", "x0": xs.ravel(), "y0": ys.ravel(), "size": 256})
    adj = _adjacency(tiles)
    centre = 14 + 5  # second row, sixth column
    assert len(adj[centre].indices) == 8
    # a stamps run (every stamp its own field) has no touching tiles
    stamps = pd.DataFrame({"field": [f"s{i}" for i in range(4)], "x0": 0, "y0": 0, "size": 64})
    assert _adjacency(stamps).nnz == 0


def test_a_label_vouches_for_its_touching_tiles_and_a_boring_one_for_nothing():
    adj = _adjacency(_grid(3, 128, "a"))
    out, source = spread_interest(adj, np.array([0, 8, 2]), np.array([5.0, 1.0, 3.0]), 0.8, 9)
    assert out[[3, 4]] == pytest.approx(1 + 0.8 * 4) and source[[3, 4]].tolist() == [0, 0]  # by the 5
    assert out[1] == pytest.approx(1 + 0.8 * 4) and source[1] == 0  # touches the 5 and the 3: the 5 wins
    assert out[5] == pytest.approx(1 + 0.8 * 2) and source[5] == 2  # touches the 3 and the boring 8
    assert out[[6, 7]] == pytest.approx(1.0) and source[[6, 7]].tolist() == [-1, -1]  # only the boring 8
    assert np.all(spread_interest(adj, np.array([0]), np.array([5.0]), 0.0, 9)[0] == 1.0)
    assert np.all(spread_interest(None, np.array([0]), np.array([5.0]), 0.8, 9)[1] == -1)
    with pytest.raises(ValueError, match="spread must lie in"):
        ActiveConfig(spread=1.5)


def test_the_queue_shows_the_rest_of_a_large_source_after_one_tile_of_it_is_liked():
    tiles = _grid(10, 128, "a")
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(tiles), 8)).astype(np.float32)
    anomaly = rng.random(len(tiles)).astype(np.float32)
    labelled, neighbour = 44, 45  # tile 45 holds the other lobe: ordinary to the forest
    anomaly[neighbour] = np.quantile(anomaly, 0.6)
    interest = {labelled: 5.0, 0: 1.0, 9: 1.0, 22: 1.0, 77: 1.0, 90: 1.0, 99: 1.0}
    adj = _adjacency(tiles)
    on = ActiveRanker(emb, anomaly, ActiveConfig(n_components=4), adjacency=adj).rerank(interest)
    off = ActiveRanker(emb, anomaly, ActiveConfig(n_components=4, spread=0.0), adjacency=adj).rerank(interest)
    assert on.loc[neighbour, "predicted_interest"] >= 1 + 0.8 * 4 - 1e-6
    assert on.loc[neighbour, "touches_liked"] == labelled and on.loc[labelled, "touches_liked"] == -1
    assert (off["touches_liked"] == -1).all()
    assert on.loc[neighbour, "active_rank"] < off.loc[neighbour, "active_rank"]
    assert on.loc[neighbour, "active_rank"] <= 10  # among the first ten of the queue


def test_excluded_tiles_stay_last_whatever_the_regressor_predicts():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(300, 6)).astype(np.float32)
    exclude = np.zeros(300, bool)
    exclude[:20] = True
    anomaly = np.where(exclude, 0.0, rng.random(300)).astype(np.float32)
    emb[:20] += 5  # the partial tiles look alike, and like the tile the astronomer liked
    out = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0), exclude=exclude).rerank({0: 5.0, 50: 1.0})
    assert out.loc[exclude, "active_rank"].min() == 281
    assert out.loc[1:19, "predicted_interest"].min() > 3  # predicted interesting, and still last


def _two_fields(per_field=300, dim=8, seed=2):
    rng = np.random.default_rng(seed)
    field = np.repeat(["quiet", "loud"], per_field)
    emb = rng.normal(size=(2 * per_field, dim)).astype(np.float32)
    emb[field == "loud"] *= 3.0
    emb[field == "loud"] += 12.0  # another beam and noise level moves every column of that field
    return emb, field


def test_a_label_in_a_field_observed_otherwise_does_not_speak_for_the_whole_field():
    emb, field = _two_fields()
    loud, quiet = np.flatnonzero(field == "loud"), np.flatnonzero(field == "quiet")
    interest = pd.Series([5.0] * 3 + [1.0] * 10, index=np.r_[loud[:3], quiet[:10]])
    config = ActiveConfig(regressor="knn", n_components=4)  # nearest labels in the features the ranker sees
    raw = ActiveRanker(emb, np.zeros(len(emb)), config).rerank(interest)
    scaled = ActiveRanker(emb, np.zeros(len(emb)), config, scaling=fit_scaling(emb, "field", field)).rerank(interest)
    assert raw.loc[loud[3:], "predicted_interest"].median() > 4  # the field offset decides
    assert scaled.loc[loud[3:], "predicted_interest"].median() < 2.5


def test_reduce_features_fits_on_the_kept_rows_of_the_scaled_embedding():
    emb, field = _two_fields()
    scaling = fit_scaling(emb, "field", field)
    keep = np.ones(len(emb), bool)
    keep[:5] = False
    emb[:5] = 1e4  # border tiles: they must not take a component
    out = reduce_features(emb, 3, scaling=scaling, keep=keep)
    assert out.shape == (len(emb), 3) and out.dtype == np.float32
    assert np.abs(out[keep]).max() < 50
    assert np.allclose(reduce_features(emb, 0, scaling=scaling), scaling.transform(emb))


def test_the_run_ranker_uses_the_last_rankings_scaling_and_exclusions(tmp_path, tiny_run):
    import shutil

    run = RunDir(tmp_path / "copy")
    shutil.copytree(tiny_run.root, run.root)
    tiles = run.read_tiles()
    tiles.loc[:3, "flag"] = "partial"
    ok = tiles["flag"].eq("ok")
    if (~ok).sum() > ok.sum():
        pytest.skip("the tiny run is mostly partial tiles: they would be ranked")
    tiles.to_parquet(run.tiles_table)
    rank_run(run, "vit", RankConfig(standardise="field"))
    scaling, exclude = ranking_context(run, "vit")
    assert scaling.mode == "field" and exclude is not None and exclude[:4].all()
    assert np.array_equal(exclude, tiles["flag"].isin(["blank", "partial"]).to_numpy())
    ranker = ActiveRanker.from_run(run, "vit", ActiveConfig(n_components=0))
    assert np.allclose(ranker.features, scaling.transform(run.read_embeddings("vit")))
    assert ranker.adjacency is not None and ranker.adjacency.shape == (len(tiles), len(tiles))
    ranking = ranker.rerank({5: 5.0, 6: 1.0})
    assert ranking.loc[exclude, "active_rank"].min() == (~exclude).sum() + 1
    rank_run(run, "vit", RankConfig(standardise="none", exclude_flags=("blank",)))
    scaling, exclude = ranking_context(run, "vit")
    assert scaling.mode == "none" and exclude is None
    assert np.allclose(
        ActiveRanker.from_run(run, "vit", ActiveConfig(n_components=0)).features, run.read_embeddings("vit")
    )


def test_rank_keeps_its_scaling_for_the_reranker_and_a_reembedding_refits_it(tmp_path, tiny_run, monkeypatch):
    import shutil

    import radioexplore.ranking.rank as rank_module
    from radioexplore.ranking.rank import scaling_cache_problem
    from radioexplore.ranking.standardise import FieldStandardisation, field_groups
    from radioexplore.run.atomic import write_npy

    run = RunDir(tmp_path / "copy")
    shutil.copytree(tiny_run.root, run.root)
    config = RankConfig(standardise="field", min_group=4)
    rank_run(run, "vit", config)
    assert run.rank_scaling("vit").is_file() and scaling_cache_problem(run, "vit", config) is None
    emb, tiles = run.read_embeddings("vit"), run.read_tiles()
    exclude = ranking_context(run, "vit")[1]
    keep = None if exclude is None else ~exclude
    refit = fit_scaling(emb, "field", field_groups(tiles), keep, 4, config.seed)
    assert refit.n_own > 1  # several fields with their own statistics: the cache has something to hold

    def refuse(*args, **kwargs):
        raise AssertionError("the scaling was refitted although rank saved it")

    monkeypatch.setattr(rank_module, "fit_scaling", refuse)
    cached, _ = ranking_context(run, "vit")  # read, not refitted
    for attr in ("centre", "scale", "row_stats"):
        assert np.array_equal(getattr(cached, attr), getattr(refit, attr))
    assert (cached.mode, cached.n_groups, cached.n_own, cached.n_tiles_global) == (
        refit.mode,
        refit.n_groups,
        refit.n_own,
        refit.n_tiles_global,
    )
    assert np.array_equal(cached.transform(emb), refit.transform(emb))

    # re-embedding: the saved scaling is stale and refitted to the new embedding (then kept again)
    write_npy(np.asarray(emb) * 3.0 + 1.0, run.embeddings("vit"))
    assert "another embedding" in scaling_cache_problem(run, "vit", config)
    with pytest.raises(AssertionError, match="refitted"):
        ranking_context(run, "vit")
    monkeypatch.undo()
    fresh, _ = ranking_context(run, "vit")
    new = run.read_embeddings("vit")
    assert np.allclose(fresh.centre, refit.centre * 3.0 + 1.0, atol=1e-4)
    assert np.array_equal(fresh.transform(new), fit_scaling(new, "field", field_groups(tiles), keep, 4).transform(new))
    assert scaling_cache_problem(run, "vit", config) is None  # kept for the next session
    assert np.array_equal(FieldStandardisation.load(run.rank_scaling("vit")).centre, fresh.centre)
    # other settings recorded by the last rank (a larger min_group) do not match the saved scaling either
    assert "other settings" in scaling_cache_problem(run, "vit", RankConfig(standardise="field", min_group=8))
