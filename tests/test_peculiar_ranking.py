"""The default ranking finds peculiar objects, not artefacts; labels teach it; the artefact features are cached."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.embed.pixelstats import pixel_statistics_run
from radioexplore.ranking import artefact_run as artefacts_mod
from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.active_features import artefact_block
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.peculiar import METHODS, peculiarity, quantile_among, tile_best_objects
from radioexplore.ranking.queue import review_queue
from radioexplore.ranking.rank import rank_run
from radioexplore.run.atomic import write_parquet
from radioexplore.run.rundir import RunDir
from tests.conftest import run_cli
from tests.test_objects import FWHM, RMS, SIZE, TILE, sky, write_fits

RIPPLE = (448.0, 448.0)  # a bright source with calibration ripples, in the tile at x0 = y0 = 384
RING_TILE = (128, 128)  # tests.test_objects' ring lies whole in this tile


def ripple_sky() -> np.ndarray:
    """tests.test_objects' sky (a ring among compact and extended sources) with a 3000 sigma source
    ringed by lopsided ripples of 20 sigma, period 8 px, troughs as deep as the crests."""
    image = sky().astype(np.float64)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    x, y = RIPPLE
    r = np.hypot(xx - x, yy - y) + 1e-3
    image += 3000 * RMS * np.exp(-0.5 * (r / (FWHM / 2.3548)) ** 2)
    inner = 1 - np.exp(-((r / (2 * FWHM)) ** 2))
    lopsided = 0.7 + 0.3 * (xx - x) / r
    image += 20 * RMS * np.cos(2 * np.pi * r / 8.0) * np.exp(-r / 60.0) * inner * lopsided
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    root = tmp_path_factory.mktemp("pec")
    write_fits(root / "ripples.fits", ripple_sky())
    run_cli("ingest", root / "ripples.fits", "--run", root / "run", "--tile", TILE)
    run = RunDir(root / "run")
    pixel_statistics_run(run, "pixstats")
    rank_run(run, "pixstats", RankConfig(exclude_flags=("blank",)))
    return run


def tile_at(run: RunDir, x0: float, y0: float) -> int:
    t = run.read_tiles()
    hit = t[(t["x0"] <= x0) & (t["x0"] + t["size"] > x0) & (t["y0"] <= y0) & (t["y0"] + t["size"] > y0)]
    return int(hit["tile_id"].iloc[0])


def test_the_default_ranks_the_ring_tile_above_the_ripple_tile_and_says_why(ranked):
    scores = ranked.read_scores("pixstats").set_index("tile_id")
    ring, ripple = tile_at(ranked, *RING_TILE), tile_at(ranked, *RIPPLE)
    assert ranked.stage_config("rank", "pixstats")["method"] == "peculiar"
    assert scores.loc[ripple, "artefact_score"] > 0.5 > scores.loc[ring, "artefact_score"]
    assert scores.loc[ring, "rank"] < scores.loc[ripple, "rank"]
    assert scores.loc[ring, "rank"] <= 3
    assert "likely artefact" in scores.loc[ripple, "why"]
    assert scores.loc[ring, "why"].startswith("ring-like object") and "artefact score low" in scores.loc[ring, "why"]
    assert {"anomaly_score", "object_score", "score", "rank"} <= set(scores.columns)


def test_without_the_artefact_axis_the_ripple_tile_is_not_discounted(ranked):
    s = ranked.read_scores("pixstats").sort_values("tile_id")
    a, o, art = (s[c].to_numpy() for c in ("anomaly_score", "object_score", "artefact_score"))
    # the default: the tile's axis discounts the anomaly, the objects come discounted each by its own
    expected = np.maximum(quantile_among(a) * (1 - np.nan_to_num(art)), quantile_among(o))
    assert np.allclose(s["score"], expected, atol=1e-6)
    objects = pd.read_parquet(ranked.objects)
    assert (objects["score"] <= 1 - objects["artefact_score"] + 1e-6).all()  # each discounted by its own
    assert objects.loc[objects["rank"] == 1, "hole_fraction"].iloc[0] > 0.3  # the ring leads the objects
    ripple = tile_at(ranked, *RIPPLE)
    # the bright source ringed by ripples: its troughs, measured against the field's noise floor, mark it
    source = objects[(objects["box_x0"] <= RIPPLE[0]) & (objects["box_x1"] >= RIPPLE[0])]
    source = source[(source["box_y0"] <= RIPPLE[1]) & (source["box_y1"] >= RIPPLE[1])]
    assert len(source) == 1 and source["artefact_score"].iloc[0] > 0.5
    rank_run(ranked, "pixstats", RankConfig(method="peculiar_no_axis", exclude_flags=("blank",)))
    raw = ranked.read_scores("pixstats").sort_values("tile_id")
    rank_run(ranked, "pixstats", RankConfig(exclude_flags=("blank",)))
    assert raw["score"].to_numpy()[ripple] > s["score"].to_numpy()[ripple]
    assert raw["rank"].to_numpy()[ripple] < s["rank"].to_numpy()[ripple]
    # without the axis the tile takes its best object by shape alone
    assert raw["object_score"].to_numpy()[ripple] == pytest.approx(source["shape_score"].iloc[0])


def test_a_peculiar_object_in_a_poor_tile_keeps_its_rank_where_a_tile_wide_factor_sank_it():
    """Four tiles: the ring's tile has a high artefact score (ripples elsewhere in it), but its object
    has none of its own; the tile-wide factor of the old rule sank it, the per-object discount does not."""
    anomaly = np.array([0.2, 0.9, 0.5, 0.1])
    ring_object = np.array([1.0, 0.0, 0.3, 0.2])  # the tile's best object, discounted by its own artefact score
    tile_artefact = np.array([0.7, 0.9, 0.0, 0.0])
    score = peculiarity(anomaly, ring_object, tile_artefact, method=METHODS["peculiar"])
    assert np.argmax(score) == 0 and score[0] == pytest.approx(1.0)
    assert score[1] < score[2]  # the artefact-like tile is sunk by its own axis
    raw = peculiarity(anomaly, ring_object, tile_artefact, method=METHODS["peculiar_no_axis"])
    assert raw[1] == pytest.approx(1.0)  # without the axis the artefact-like tile ranks first with the ring
    assert METHODS["peculiar"].object_column == "score" and METHODS["peculiar_no_axis"].object_column == "shape_score"


def test_objects_first_ranks_every_tile_with_an_object_above_the_forest_finds():
    """Five tiles: two with objects, three without. Objects first: the objects' order leads, the forest
    x (1 - tile artefact) orders the rest below them; the forest only where no object lies: one scale,
    the object tiles by their object alone (the max let the forest lift the dull one)."""
    anomaly = np.array([0.1, 0.95, 0.9, 0.5, 0.97])
    obj = np.array([0.3, 0.0, 0.0, 0.0, 0.05])  # best object's discounted score; tiles 1-3 have none
    has = np.array([True, False, False, False, True])
    art = np.array([0.0, 0.9, 0.0, 0.0, 0.0])  # tile 1 is odd because of its ripples
    first = peculiarity(anomaly, obj, art, method=METHODS["objects_first"], has_object=has)
    assert np.argsort(-first).tolist() == [0, 4, 2, 3, 1]  # objects (by score), then forest x (1 - artefact)
    assert first[has].min() > first[~has].max()
    # without has_object an object score above 0 marks the tile
    assert np.array_equal(first, peculiarity(anomaly, obj, art, method=METHODS["objects_first"]))
    mixed = peculiarity(anomaly, obj, art, method=METHODS["forest_where_no_object"], has_object=has)
    forest = quantile_among(anomaly) * (1 - art)
    assert np.allclose(mixed, np.where(has, quantile_among(obj), forest))
    assert mixed[2] > mixed[3] > mixed[1]  # the tiles without an object in the forest's order
    main = peculiarity(anomaly, obj, art, method=METHODS["peculiar"])
    # the max let the forest lift the dull object; here it does not
    assert main[4] == pytest.approx(1.0) and mixed[4] < 0.9
    raw = peculiarity(anomaly, obj, art, method=METHODS["objects_first_no_axis"], has_object=has)
    assert np.argsort(-raw)[:3].tolist() == [0, 4, 1]  # no axis: the rippled tile leads those without objects
    with pytest.raises(ValueError, match="combine"):
        type(METHODS["peculiar"])("bad", combine="mean")


def test_objects_first_through_rank_run_says_why_a_tile_without_an_object_sits_low(ranked):
    rank_run(ranked, "pixstats", RankConfig(method="objects_first", exclude_flags=("blank",)))
    s = ranked.read_scores("pixstats").set_index("tile_id")
    ring = tile_at(ranked, *RING_TILE)
    with_object = pd.Series(tile_best_objects(pd.read_parquet(ranked.objects), len(s)) >= 0, index=range(len(s)))
    kept = s["why"] != "left out: blank or cut by the image edge"
    assert s.loc[ring, "rank"] == 1 and s.loc[ring, "why"].startswith("ring-like object")
    assert s.loc[with_object & kept, "rank"].max() < s.loc[~with_object & kept, "rank"].min()
    assert s.loc[~with_object & kept, "why"].str.startswith("no object found, after the tiles with one").all()
    rank_run(ranked, "pixstats", RankConfig(exclude_flags=("blank",)))  # back to the default for the other tests


def test_the_forest_and_seed002_stay_available_by_name(ranked, tmp_path):
    rank_run(ranked, "pixstats", RankConfig(method="forest", exclude_flags=("blank",)))
    s = ranked.read_scores("pixstats")
    assert np.array_equal(s["score"], s["anomaly_score"])  # the plain forest's score
    with pytest.raises(ValueError, match="unknown ranking method"):
        RankConfig(method="magic")
    with pytest.raises(Exception, match="top-10"):  # seed 002 needs labels for its LightGBM top-k
        rank_run(ranked, "pixstats", RankConfig(method="seed002"))
    rank_run(ranked, "pixstats", RankConfig(exclude_flags=("blank",)))


def test_the_artefact_features_are_cached_reused_and_refused_when_stale(ranked, monkeypatch):
    path = ranked.artefact_features
    assert path.is_file() and artefacts_mod.artefact_cache_problem(ranked) is None
    calls = []
    real = artefacts_mod.artefact_features_run
    monkeypatch.setattr(
        artefacts_mod, "artefact_features_run", lambda run, config: calls.append(1) or real(run, config)
    )
    cached = artefacts_mod.cached_artefact_features(ranked)
    assert calls == []  # reused
    stale = pd.read_parquet(path)
    write_parquet(stale, path, meta={"built_from": {"tiles_generation": "older"}, "config": {}})
    assert "other tiles" in artefacts_mod.artefact_cache_problem(ranked)
    again = artefacts_mod.cached_artefact_features(ranked)
    assert calls == [1]  # recomputed
    pd.testing.assert_frame_equal(again, cached)
    assert artefacts_mod.artefact_cache_problem(ranked) is None
    # a cache written before the ripple evidence (same tiles, same constants) lacks it: rebuilt
    from radioexplore.run.provenance import read_parquet_meta

    write_parquet(cached.drop(columns="ripple_sigma"), path, meta=read_parquet_meta(path))
    assert "ripple_sigma" in artefacts_mod.artefact_cache_problem(ranked)
    rebuilt = artefacts_mod.cached_artefact_features(ranked)
    assert calls == [1, 1] and "ripple_sigma" in rebuilt.columns


def test_quantiles_put_tiles_without_an_object_at_the_bottom():
    q = quantile_among(np.array([0.0, 0.0, 0.7, 0.9, 0.0]), np.array([True, True, True, True, False]))
    assert q.tolist() == [0.0, 0.0, pytest.approx(2 / 3), 1.0, 0.0]


def test_artefact_labels_push_down_the_tiles_that_look_like_them_in_the_artefact_features():
    """30 artefact-like tiles top the anomaly list; the embedding does not tell them apart. After 10
    ARTEFACT labels the next queue is clean only if the label reaches the others through the artefact features."""
    rng = np.random.default_rng(0)
    n = 400
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    like = np.zeros(n, dtype=bool)
    like[:30] = True
    anomaly = np.where(like, 0.8 + 0.1 * rng.random(n), 0.5 * rng.random(n))
    scores = pd.DataFrame(
        {
            "artefact_score": np.where(like, 0.7, 0.05) + 0.02 * rng.random(n),
            "artefact_negative_beams": np.where(like, 4.0, 0.0),
            "artefact_negative_share": np.where(like, 0.45, 0.02),
            "artefact_ring_contrast": np.where(like, 8.0, 0.5) + rng.random(n),
            "artefact_expected_artefact_sigma": np.where(like, 10.0, 0.3),
        }
    )
    block = artefact_block(scores)
    config = ActiveConfig(n_components=8)
    before = review_queue(ActiveRanker(emb, anomaly, config, artefacts=block).rerank({}), 10)
    assert like[before].all()
    labelled = before
    interest = pd.Series(1.0, index=labelled)
    taught = ActiveRanker(emb, anomaly, config, artefacts=block).rerank(interest, artefacts=labelled)
    after = review_queue(taught, 10)
    assert like[after].sum() <= 2
    assert (taught.loc[like & ~np.isin(np.arange(n), labelled), "artefact_trust"] > 0.5).mean() > 0.8
    # without the artefact features the label cannot reach the other artefact-like tiles
    blind = ActiveRanker(emb, anomaly, ActiveConfig(n_components=8, artefact_penalty=0.0)).rerank(interest)
    assert like[review_queue(blind, 10)].sum() >= 8


@pytest.mark.parametrize("hedge", [False, True])
def test_a_peculiar_label_pulls_up_its_look_alikes(hedge):
    rng = np.random.default_rng(1)
    n = 400
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb[:12] += 4.0  # twelve look-alikes, middling by the anomaly score
    anomaly = rng.random(n)
    anomaly[:12] = 0.5
    ranker = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0, list_hedge=hedge))
    assert not np.isin(review_queue(ranker.rerank({}), 10), np.arange(12)).any()
    interest = {0: 5.0, 1: 5.0, **{t: 1.0 for t in range(200, 208)}}
    top = review_queue(ranker.rerank(interest), 20)
    if hedge:  # the queue takes the look-alikes and the list's next tiles in turn
        assert np.isin(top[:10], np.arange(12)).sum() >= 4 and np.isin(top, np.arange(12)).sum() >= 8
    else:
        assert np.isin(top[:10], np.arange(12)).sum() >= 8


def test_an_object_table_from_before_the_morphology_features_is_found_again(ranked):
    """rank rebuilds an objects.parquet an older version wrote (no ring / cross features): its shape
    scores were made without them, so reusing it would rank by the old rule."""
    old = pd.read_parquet(ranked.objects).drop(columns=["ring_coverage", "cross_contrast"])
    write_parquet(old, ranked.objects)
    rank_run(ranked, "pixstats", RankConfig(exclude_flags=("blank",)))
    again = pd.read_parquet(ranked.objects)
    assert {"ring_coverage", "cross_contrast"} <= set(again.columns) and len(again) == len(old)
