"""Anomaly ranking (Isolation Forest, LightGBM top-k features) and active learning on planted embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.active_run import read_active, rerank_run
from radioexplore.ranking.blends import BLENDS
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.forest import isolation_forest
from radioexplore.ranking.metrics import crossing_threshold_metrics, recall_in_top
from radioexplore.ranking.queue import review_queue
from radioexplore.ranking.rank import rank_embeddings, rank_run
from radioexplore.ranking.regressors import REGRESSORS
from radioexplore.ranking.selection import FeatureSelectConfig, select_features
from radioexplore.run.labels.store import LabelStore
from radioexplore.simulation.planted import PlantedConfig, planted_embeddings


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

    from radioexplore.run.rundir import RunDir

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


# -- what the forest sees: fields standardised, border tiles left out ---------------------------
def _fields_with_one_shifted(n_fields=12, per_field=64, dim=8, seed=5):
    """Tiles of ``n_fields`` fields; field_003 is shifted as a whole (another beam or noise level),
    and six tiles of other fields are true outliers within their own field."""
    rng = np.random.default_rng(seed)
    field = np.repeat([f"field_{i:03d}" for i in range(n_fields)], per_field)
    emb = rng.normal(size=(len(field), dim)).astype(np.float32)
    emb += rng.normal(scale=0.3, size=(n_fields, dim)).repeat(per_field, 0)  # small field-to-field offsets
    shifted = field == "field_003"
    emb[shifted] = 4.0 + 1.5 * emb[shifted]
    outliers = np.array([70, 300, 333, 460, 600, 740])
    assert not shifted[outliers].any()
    emb[outliers[:, None], [0, 1, 4, 6]] += 6.0
    return emb, field, shifted, outliers


def test_per_field_standardisation_ranks_objects_not_a_shifted_field():
    emb, field, shifted, outliers = _fields_with_one_shifted()
    config = RankConfig(n_estimators=300, standardise="field")
    df, _ = rank_embeddings(emb, config, groups=field)
    top = df.nsmallest(len(outliers), "rank")["tile_id"].to_numpy()
    assert set(top) == set(outliers)
    # without it, the field observed differently fills the top of the list
    raw, _ = rank_embeddings(emb, RankConfig(n_estimators=300, standardise="none"), groups=field)
    top20 = raw.nsmallest(20, "rank")["tile_id"].to_numpy()
    assert shifted[top20].mean() > 0.5 and len(set(top20) & set(outliers)) < len(outliers)
    # "global" is an affine map of each column: the forest ranks as without it
    glob, _ = rank_embeddings(emb, RankConfig(n_estimators=300, standardise="global"), groups=field)
    assert shifted[glob.nsmallest(20, "rank")["tile_id"].to_numpy()].mean() > 0.5
    # without groups, "field" has one group: the run's statistics
    one, _ = rank_embeddings(emb, RankConfig(n_estimators=300))
    assert shifted[one.nsmallest(20, "rank")["tile_id"].to_numpy()].mean() > 0.5


def test_robust_statistics_and_the_small_group_fallback():
    from radioexplore.ranking.standardise import fit_scaling, robust_statistics

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(4000, 3)).astype(np.float32)
    x[:, 1] = 7.0  # constant: no IQR, no std -> scale 1
    x[:200, 2] = 5.0  # the IQR is kept by the rest of the column
    centre, scale = robust_statistics(x)
    assert centre[0] == pytest.approx(3.0, abs=0.1) and scale[0] == pytest.approx(2.0, rel=0.06)
    assert centre[1] == 7.0 and scale[1] == 1.0
    flat = np.zeros((50, 1), np.float32)
    flat[0] = 10.0  # zero IQR, non-zero std: falls back to the std
    assert robust_statistics(flat)[1][0] == pytest.approx(flat.std())

    big = rng.normal(0.0, 1.0, size=(100, 2)).astype(np.float32)
    small = rng.normal(50.0, 10.0, size=(10, 2)).astype(np.float32)
    emb = np.r_[big, small]
    groups = np.array(["big"] * 100 + ["small"] * 10)
    scaling = fit_scaling(emb, "field", groups, min_group=32)
    assert scaling.n_groups == 2 and scaling.n_own == 1 and scaling.n_tiles_global == 10
    z = scaling.transform(emb)
    run_centre, run_scale = robust_statistics(emb)
    assert np.allclose(z[100:], (small - run_centre) / run_scale, atol=1e-5)  # the run's statistics
    own_centre, own_scale = robust_statistics(big)
    assert np.allclose(z[:100], (big - own_centre) / own_scale, atol=1e-5)  # its own
    assert np.abs(z[100:]).min() > 5  # so the small field still stands out
    # with min_group 10 the small field has its own statistics too; excluded rows do not count
    assert fit_scaling(emb, "field", groups, min_group=10).n_own == 2
    keep = np.ones(110, bool)
    keep[105:] = False
    assert fit_scaling(emb, "field", groups, keep, min_group=10).n_own == 1
    cols = np.array([1])
    assert np.allclose(scaling.transform(emb, np.array([3, 104]), cols), z[[3, 104]][:, cols])


def test_bad_standardise_and_flags_raise_naming_the_choices():
    with pytest.raises(ValueError, match=r"standardise must be one of 'none', 'global', 'field'; got 'fields'"):
        RankConfig(standardise="fields")
    with pytest.raises(ValueError, match="exclude_flags: unknown tile flag"):
        RankConfig(exclude_flags=("blank", "partal"))
    with pytest.raises(ValueError, match="exclude_flags must be a tuple"):
        RankConfig(exclude_flags="blank")
    assert RankConfig(exclude_flags=["blank"]).exclude_flags == ("blank",)
    with pytest.raises(ValueError, match="groups has 3 entries for 10 embedding rows"):
        rank_embeddings(np.zeros((10, 2)), groups=np.array(["a", "b", "c"]))


def _flagged_run(root, stamps=False):
    """A run of 12 fields (8 partial tiles each, planted as the easiest to isolate, and two blank tiles)."""
    from radioexplore.run.atomic import write_npy, write_parquet
    from radioexplore.run.rundir import RunDir

    emb, field, _, outliers = _fields_with_one_shifted()
    flag = np.full(len(field), "ok", dtype=object)
    partial = np.r_[[np.arange(i * 64, i * 64 + 8) for i in range(12) if i != 3]].ravel()
    partial = np.setdiff1d(partial, outliers)
    flag[partial] = "partial"
    flag[[10, 20]] = "blank"
    emb[partial] += np.float32(9.0)  # the image edge: far from everything
    run = RunDir(root)
    tiles = pd.DataFrame({"tile_id": np.arange(len(field)), "field": field, "flag": flag})
    if stamps:
        tiles["field"] = [f"stamp_{i:04d}" for i in range(len(field))]  # stamps.py: each stamp its own field
        run.record("ingest", {"mode": "stamps"})
    write_parquet(tiles, run.tiles_table)
    write_npy(emb, run.embeddings("e"))
    return run, partial, outliers


def test_partial_and_blank_tiles_are_left_out_by_default_and_recorded(tmp_path):
    run, partial, outliers = _flagged_run(tmp_path / "run")
    rank_run(run, "e", RankConfig(n_estimators=300))
    df = run.read_scores("e")
    left_out = np.r_[partial, [10, 20]]
    assert (df.loc[left_out, "score"] == 0).all() and not df.loc[left_out, "outlier"].any()
    assert df.loc[left_out, "rank"].min() == len(df) - len(left_out) + 1
    assert set(df.nsmallest(len(outliers), "rank")["tile_id"]) == set(outliers)
    rec = run.stage_config("rank", "e")
    assert rec["exclude_flags"] == ["blank", "partial"] == rec["exclude_flags_applied"]
    assert rec["n_excluded"] == len(left_out) and rec["n_excluded_by_flag"] == {"partial": len(partial), "blank": 2}
    assert rec["standardise"] == "field" and rec["min_group"] == 32
    assert rec["standardisation"] == {
        "mode": "field",
        "groups": 12,
        "groups_own_statistics": 12,
        "tiles_on_run_statistics": 0,
    }
    # ranking partial tiles too: the border tiles are the easiest to isolate
    rank_run(run, "e", RankConfig(n_estimators=300, exclude_flags=("blank",)))
    df = run.read_scores("e")
    assert set(df.nsmallest(len(partial), "rank")["tile_id"]) == set(partial)
    assert df.loc[[10, 20], "rank"].min() == len(df) - 1
    assert run.stage_config("rank", "e")["n_excluded_by_flag"] == {"blank": 2}


def test_a_stamps_run_ranks_its_padded_stamps_on_the_run_statistics(tmp_path):
    run, partial, _ = _flagged_run(tmp_path / "stamps", stamps=True)
    rank_run(run, "e", RankConfig(n_estimators=50))
    df = run.read_scores("e")
    assert (df.loc[partial, "score"] > 0).all() and (df.loc[[10, 20], "score"] == 0).all()
    rec = run.stage_config("rank", "e")
    assert rec["exclude_flags_applied"] == ["blank"] and "stamps run" in rec["notes"][0]
    assert rec["standardisation"]["groups_own_statistics"] == 0  # one stamp per field: the run's statistics
    assert rec["standardisation"]["tiles_on_run_statistics"] == len(df) - 2


def test_rank_command_takes_the_flags_and_the_standardisation(tmp_path, cli_main):
    run, partial, _ = _flagged_run(tmp_path / "cli")
    cli_main(
        "rank", "--run", run.root, "--name", "e", "--trees", "50", "--exclude-flags", "blank", "--standardise", "none"
    )
    rec = run.stage_config("rank", "e")
    assert rec["exclude_flags"] == ["blank"] and rec["standardise"] == "none" and rec["n_excluded"] == 2
    cli_main("rank", "--run", run.root, "--name", "e", "--trees", "50", "--exclude-flags", "none")
    assert run.stage_config("rank", "e")["n_excluded"] == 0
    code, _, err = cli_main("rank", "--run", run.root, "--name", "e", "--exclude-flags", "blank,partal", check=False)
    assert code == 2 and "unknown tile flag" in err
    code, _, err = cli_main("rank", "--run", run.root, "--name", "e", "--standardise", "median", check=False)
    assert code == 2 and "invalid choice" in err


def test_partial_tiles_are_ranked_where_they_are_most_of_the_tiles():
    from radioexplore.ranking.exclusion import flags_to_exclude

    few = np.array(["ok"] * 6 + ["partial"] * 3 + ["blank"] * 5)
    assert flags_to_exclude(few, ("blank", "partial")) == (("blank", "partial"), [])
    most = np.array(["ok"] * 3 + ["partial"] * 4 + ["blank"] * 5)  # images a few tiles across
    flags, notes = flags_to_exclude(most, ("blank", "partial"))
    assert flags == ("blank",) and "4 of the 7 tiles that are not blank are partial" in notes[0]
    flags, notes = flags_to_exclude(few, ("blank", "partial"), stamps=True)
    assert flags == ("blank",) and "stamps run" in notes[0]
    assert flags_to_exclude(most, ("blank",)) == (("blank",), []) and flags_to_exclude(None, ("partial",))[1] == []
