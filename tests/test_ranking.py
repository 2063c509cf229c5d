"""Anomaly ranking (Isolation Forest, LightGBM top-k features) and active learning on planted embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.active import BLENDS, REGRESSORS, ActiveConfig, ActiveRanker, read_active, rerank_run, review_queue
from radioexplore.isolation import (
    FeatureSelectConfig,
    RankConfig,
    crossing_threshold_metrics,
    isolation_forest,
    rank_embeddings,
    rank_run,
    recall_in_top,
    select_features,
)
from radioexplore.labels import LabelStore
from radioexplore.planted import PlantedConfig, planted_embeddings


@pytest.fixture(scope="module")
def planted():
    return planted_embeddings(PlantedConfig(n=4000, dim=64, seed=3))


def test_isolation_forest_scores_planted_anomalies_high(planted):
    emb, tiles = planted
    score, threshold = isolation_forest(emb, RankConfig(contamination=0.01))
    assert score.min() > 0 and score.max() < 1  # Liu's score
    kind = tiles["kind"].to_numpy()
    quantile = np.argsort(np.argsort(score)) / len(score)
    assert np.median(quantile[kind == "ordinary"]) < 0.6
    assert np.median(quantile[kind == "boring"]) > 0.8 and np.median(quantile[kind == "peculiar"]) > 0.8
    assert abs((score >= threshold).mean() - 0.01) < 0.005
    stretched, _ = isolation_forest(emb, RankConfig(score_scale="minmax"))
    assert stretched.min() == 0 and stretched.max() == 1
    assert np.all(np.diff(stretched[np.argsort(score, kind="stable")]) >= -1e-6)  # same order, up to float32 ties


def test_lightgbm_ranks_the_informative_features_first(rng):
    x = rng.normal(size=(2000, 40)).astype(np.float32)
    interesting = rng.random(2000) < 0.2
    x[interesting, 7] += 2.5
    x[interesting, 23] += 2.0
    ids = rng.choice(2000, 600, replace=False)
    sel = select_features(x, ids, interesting[ids], 2, FeatureSelectConfig())
    assert set(sel.indices) == {7, 23}
    assert sel.min_data_in_leaf == 20 and sel.validation_f1 > 0.7 and sel.notes == []


def test_small_label_sets_lower_min_data_in_leaf_with_a_note(rng):
    x = rng.normal(size=(500, 10)).astype(np.float32)
    y = np.r_[np.ones(8, bool), np.zeros(30, bool)]
    x[:8, 4] += 4
    sel = select_features(x, np.arange(38), y, 3, FeatureSelectConfig())
    assert sel.indices[0] == 4
    assert sel.min_data_in_leaf == 2 and any("lowered from 20" in n for n in sel.notes)
    with pytest.raises(ValueError, match="at least 2 labelled tiles in each group"):
        select_features(x, np.arange(5), np.r_[True, False, False, False, False], 3, FeatureSelectConfig())


def test_ranking_on_top_k_features_uses_the_labels(planted):
    emb, tiles = planted
    labelled = tiles.sample(600, random_state=0)
    labels = pd.DataFrame(
        {
            "tile_id": labelled["tile_id"],
            "labels": [("EXTENDED",) if e else ("COMPACT",) for e in labelled["truth_extended"]],
        }
    )
    df, sel = rank_embeddings(emb, RankConfig(top_k=5), labels)
    assert len(sel.indices) == 5 and sel.n_labelled == 600
    assert sorted(df["rank"]) == list(range(1, len(emb) + 1))
    with pytest.raises(ValueError, match="needs the current labels"):
        rank_embeddings(emb, RankConfig(top_k=5))


def test_metrics_of_a_ranking_follow_seed_002_table_4():
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    pec = np.array([1, 0, 1, 0, 0, 1, 0, 0], bool)
    cpx = np.array([0, 1, 0, 0, 0, 0, 0, 1], bool)
    m = crossing_threshold_metrics(score, pec, cpx)
    # after 3 tiles: recall 2/3, precision 2/3 -- the crossing
    assert m["n_selected"] == 3 and m["threshold"] == 0.7
    assert m["recall"] == pytest.approx(2 / 3) and m["precision"] == pytest.approx(2 / 3)
    assert m["precision_pec_complex"] == 1.0 and m["contamination_complex"] == pytest.approx(1 / 3)
    assert m["contamination_ordinary"] == 0.0
    assert recall_in_top(score, pec, 0.25) == pytest.approx(1 / 3)


def test_without_labels_the_active_ranking_is_the_anomaly_ranking(planted):
    emb, _ = planted
    score = np.random.default_rng(0).random(len(emb)).astype(np.float32)
    out = ActiveRanker(emb, score).rerank({})
    assert np.array_equal(np.argsort(-out["active_score"].to_numpy(), kind="stable"), np.argsort(-score, kind="stable"))
    assert out["predicted_interest"].isna().all() and not out["labelled"].any()


def _liked_and_disliked(tiles):
    kind = tiles["kind"].to_numpy()
    rng = np.random.default_rng(1)
    liked = rng.choice(np.flatnonzero(kind == "peculiar"), 6, replace=False)
    disliked = rng.choice(np.flatnonzero(kind == "boring"), 12, replace=False)
    interest = pd.Series([5] * 6 + [1] * 12, index=np.r_[liked, disliked])
    unseen_pec = np.setdiff1d(np.flatnonzero(kind == "peculiar"), liked)
    unseen_boring = np.setdiff1d(np.flatnonzero(kind == "boring"), disliked)
    return interest, unseen_pec, unseen_boring


@pytest.mark.parametrize("regressor", sorted(REGRESSORS))
def test_every_regressor_learns_what_the_astronomer_likes(planted, regressor):
    emb, tiles = planted
    interest, unseen_pec, unseen_boring = _liked_and_disliked(tiles)
    out = ActiveRanker(emb, np.zeros(len(emb)), ActiveConfig(regressor=regressor, n_components=16)).rerank(interest)
    predicted = out["predicted_interest"].to_numpy()
    assert np.median(predicted[unseen_pec]) > np.median(predicted[unseen_boring]) + 1.0
    assert out.loc[interest.index, "predicted_interest"].eq(interest.to_numpy()).all()
    assert out.loc[interest.index, "trust"].eq(1).all()


@pytest.mark.parametrize("blend", ["mix", "neighbour"])
def test_interest_scores_lift_tiles_like_the_interesting_ones(planted, blend):
    emb, tiles = planted
    score, _ = isolation_forest(emb)
    interest, unseen_pec, unseen_boring = _liked_and_disliked(tiles)
    out = ActiveRanker(emb, score, ActiveConfig(blend=blend, n_components=16)).rerank(interest)
    before = np.argsort(np.argsort(-score))
    after = out["active_rank"].to_numpy() - 1
    # both demote the tiles found boring
    assert (after[interest.index[interest == 1]] > before[interest.index[interest == 1]]).all()
    if blend == "mix":  # the global mix also promotes unseen tiles like the liked ones and demotes the rest
        assert np.median(after[unseen_pec]) < np.median(before[unseen_pec])
        assert np.median(after[unseen_boring]) > np.median(before[unseen_boring])


def test_blends_and_regressors_are_chosen_by_name(planted):
    emb, _ = planted
    assert {"mix", "neighbour", "interest"} <= set(BLENDS)
    with pytest.raises(ValueError, match="unknown blend 'magic'; choose one of"):
        ActiveRanker(emb, np.zeros(len(emb)), ActiveConfig(blend="magic"))
    with pytest.raises(ValueError, match="unknown regressor"):
        ActiveRanker(emb, np.zeros(len(emb)), ActiveConfig(regressor="oracle"))
    with pytest.raises(ValueError, match="do not exist"):
        ActiveRanker(emb[:100], np.zeros(100)).rerank({100: 5})


def test_review_queue_skips_labelled_tiles():
    ranking = pd.DataFrame({"tile_id": np.arange(6), "active_rank": [3, 1, 2, 6, 5, 4], "labelled": [0, 1, 0, 0, 0, 0]})
    ranking["labelled"] = ranking["labelled"].astype(bool)
    assert list(review_queue(ranking, 3)) == [2, 0, 5]
    assert list(review_queue(ranking, 3, exclude=[2])) == [0, 5, 4]


def test_rank_and_rerank_a_run_from_its_label_store(tiny_run, tmp_path):
    import shutil

    from radioexplore.rundir import RunDir

    run = RunDir(tmp_path / "copy")
    shutil.copytree(tiny_run.root, run.root)
    tiles = run.read_tiles()
    store = LabelStore.for_run(run, who="test")
    for t in range(0, len(tiles), 2):
        store.add(t, "EXTENDED" if t % 4 == 0 else "COMPACT", interest=5 if t % 4 == 0 else 1)
    rank_run(run, "vit", RankConfig(top_k=4))
    rec = run.stage_config("rank", "vit")
    assert rec["top_k"] == 4 and len(rec["selection_result"]["features"]) == 4
    assert rec["selection_result"]["notes"]  # 32 labels: min_data_in_leaf was lowered
    path = rerank_run(run, "vit", ActiveConfig(n_components=8))
    assert path == run.active_scores("vit")
    ranking = read_active(run, "vit")
    assert len(ranking) == len(tiles) and ranking["labelled"].sum() == len(tiles) // 2
    assert set(ranking.columns) >= {"tile_id", "score", "predicted_interest", "trust", "active_score", "active_rank"}
    assert run.stage_config("rerank", "vit")["n_labelled"] == len(tiles) // 2
    queue = review_queue(ranking, 5)
    assert len(queue) == 5 and all(q % 2 == 1 for q in queue)


def test_excluded_tiles_rank_last_and_are_never_outliers(planted):
    emb, tiles = planted
    exclude = (tiles["kind"] == "boring").to_numpy()  # stand-ins for blank tiles: the easiest to isolate
    df, _ = rank_embeddings(emb, RankConfig(contamination=0.01), exclude=exclude)
    assert (df.loc[exclude, "score"] == 0).all() and not df.loc[exclude, "outlier"].any()
    assert df.loc[exclude, "rank"].min() == (~exclude).sum() + 1
    with pytest.raises(ValueError, match="every tile is excluded"):
        rank_embeddings(emb[:10], exclude=np.ones(10, bool))
