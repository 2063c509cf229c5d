"""The labels choose between rank's forest lane and object lane (issue 24 (b); ranking.lanes). Data made here."""

import numpy as np
import pandas as pd

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.lanes import Lanes


def _scores(seed: int = 0) -> pd.DataFrame:
    """60 tiles: 0-19 forest candidates without objects (the forest's top, e.g. ripples the axis missed), 20-39
    ordinary tiles with a small object, 40-59 tiles whose peculiar object leads them (the objects' top): the two
    lanes' tops interleave in rank's order."""
    rng = np.random.default_rng(seed)
    anomaly = np.r_[rng.uniform(0.9, 1.0, 20), rng.uniform(0.0, 0.3, 20), rng.uniform(0.4, 0.8, 20)]
    objects = np.r_[np.zeros(20), rng.uniform(0.0, 0.1, 20), rng.uniform(0.8, 0.9, 20)]
    return pd.DataFrame({"anomaly_score": anomaly, "object_score": objects, "artefact_score": np.zeros(60)})


def test_no_label_weighs_both_lanes_alike():
    lanes = Lanes.from_scores(_scores())
    assert lanes.weights(np.zeros(0, dtype=np.int64), np.zeros(0)) == (0.5, 0.5)
    assert lanes.object_led[40:].all() and not lanes.object_led[:20].any()


def test_a_lane_whose_tiles_were_scored_1_loses_its_weight():
    lanes = Lanes.from_scores(_scores())
    ids = np.arange(10)  # the forest lane's top, all scored 1
    forest, objects = lanes.weights(ids, np.ones(10))
    assert forest == 1.0 / 12.0 and objects == 0.5
    liked = lanes.weights(np.array([40, 41]), np.array([5.0, 5.0]))
    assert liked == (0.5, 0.75)  # two tiles of the object lane scored 5: (1 + 2) / (2 + 2)


def test_a_run_ranked_without_objects_has_one_lane():
    assert Lanes.from_scores(pd.DataFrame({"anomaly_score": np.arange(5.0)})) is None


def _queue(lanes: bool) -> np.ndarray:
    scores = _scores()
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(60, 8)).astype(np.float32)
    prior = Lanes.from_scores(scores).prior(np.zeros(0, dtype=np.int64), np.zeros(0))  # rank's max of the two
    config = ActiveConfig(n_components=0, lanes=lanes, artefact_teach=False, sidelobe_ratio=0.0)
    ranker = ActiveRanker(emb, prior, config, lanes=Lanes.from_scores(scores))
    labels = {i: 1.0 for i in range(10)}  # the first round: the forest lane's top, every one scored 1
    out = ranker.rerank(labels).set_index("tile_id")
    return out.loc[~out["labelled"]].sort_values("active_rank").index.to_numpy()[:10]


def test_after_the_forest_lane_is_scored_1_the_queue_turns_to_the_objects():
    without, with_lanes = _queue(False), _queue(True)
    assert np.isin(without, np.arange(10, 20)).sum() >= 3  # the rest of the forest lane comes back without the option
    assert np.isin(with_lanes, np.arange(40, 60)).all()  # with it, the object lane's tiles


def test_the_option_off_ignores_the_lanes():
    scores = _scores()
    emb = np.random.default_rng(2).normal(size=(60, 8)).astype(np.float32)
    prior = scores["anomaly_score"].to_numpy()
    off = ActiveRanker(emb, prior, ActiveConfig(n_components=0), lanes=Lanes.from_scores(scores))
    assert off.lanes is None
    unlabelled = ActiveRanker(emb, prior, ActiveConfig(n_components=0, lanes=True), lanes=Lanes.from_scores(scores))
    np.testing.assert_array_equal(unlabelled.rerank({})["active_rank"], off.rerank({})["active_rank"])
