"""A PECULIAR label teaches the queue a shape (issue 24; ``ActiveConfig.shape_weight`` / ``shape_protect``,
tried, off by default): the tile's top object's shape sits beside the embedding, so one ring scored 5
lifts the other rings, even beside bright sources whose ripples the ARTEFACT labels taught the queue
to sink. Data made here, small."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.active_features import artefact_block, shape_block
from radioexplore.ranking.object_score import forest_features

SHAPE = dict(shape_weight=0.5, shape_protect=True)  # the options as measured (benchmarks/README.md, teach-shape)


def _block(negative_beams, ring, share, near, score) -> np.ndarray:
    columns = ("negative_beams", "ring_contrast", "negative_share", "expected_artefact_sigma", "score")
    values = (negative_beams, ring, share, near, score)
    return artefact_block(pd.DataFrame({f"artefact_{c}": v for c, v in zip(columns, values, strict=True)}))


def _rings_beside_ripples(seed: int = 0, n: int = 600):
    """30 ripple tiles and 20 ring tiles, all beside bright sources (the same troughs and rings in the
    artefact features) and all atop the anomaly list; the embedding tells none of them from the sky. The
    top object's shape does: a ring has a hole, a ripple crest is a thin arc, the sky's are compact."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    ripple = np.zeros(n, dtype=bool)
    ripple[:30] = True
    ring = np.zeros(n, dtype=bool)
    ring[30:50] = True
    near = ripple | ring
    anomaly = np.where(
        ripple, 0.85 + 0.15 * rng.random(n), np.where(ring, 0.85 + 0.15 * rng.random(n), 0.6 * rng.random(n))
    )
    block = _block(
        negative_beams=np.where(near, 4.0, 0.0) + rng.random(n),
        ring=np.where(near, 10.0, 0.5) + 2.0 * rng.random(n),
        share=np.where(near, 0.4, 0.02) + 0.05 * rng.random(n),
        near=np.where(near, 6.0, 0.5) + rng.random(n),
        score=np.where(near, 0.3, 0.02) + 0.02 * rng.random(n),
    )
    shapes = rng.normal(scale=0.3, size=(n, 5)).astype(np.float32)
    shapes[ring, 0] += 4.0  # hole fraction
    shapes[ripple, 1] += 4.0  # axis ratio of a thin arc
    shapes = np.hstack([shapes, np.ones((n, 1), np.float32)])
    return emb, anomaly, block, shapes, ripple, ring


def _labelled(ripple, ring):
    art = np.flatnonzero(ripple)[:10]
    sky = np.flatnonzero(~(ripple | ring))[:10]
    liked = np.flatnonzero(ring)[0]
    interest = pd.Series(1.0, index=np.r_[art, sky, liked])
    interest[liked] = 5.0
    return interest, art, liked


@pytest.mark.parametrize("options", [SHAPE, {}], ids=["named", "default"])
def test_one_peculiar_ring_lifts_the_other_rings_beside_bright_sources(options):
    """Without the shape, what the ARTEFACT labels taught sinks the rings with the ripples (they share every
    artefact feature); with it the ring scored 5 vouches that its look-alikes are no artefact, and they
    rise, while the ripples stay down. Fails if the shape block is dropped from the look-alike space or
    from what spares a tile the artefact discount, or (``default``) if the defaults stop using it."""
    emb, anomaly, block, shapes, ripple, ring = _rings_beside_ripples()
    interest, art, liked = _labelled(ripple, ring)
    config = ActiveConfig(n_components=8, **options)
    others = np.setdiff1d(np.flatnonzero(ring), [liked])
    ripples = np.setdiff1d(np.flatnonzero(ripple), art)
    with_shape = ActiveRanker(emb, anomaly, config, artefacts=block, shapes=shapes).rerank(interest, art)
    without = ActiveRanker(emb, anomaly, config, artefacts=block).rerank(interest, art)
    rank_with, rank_without = with_shape["active_rank"], without["active_rank"]
    assert rank_with[others].median() < 0.5 * rank_without[others].median()
    p_with, p_without = with_shape["artefact_probability"], without["artefact_probability"]
    assert p_with[others].median() < 0.25 and p_without[others].median() > 0.75
    assert with_shape.loc[others, "artefact_trust"].mean() < 0.5 * without.loc[others, "artefact_trust"].mean()
    said = with_shape.loc[others, "why"].str.startswith(f"its object is shaped like tile {liked}'s, which you scored 5")
    assert said.mean() > 0.5  # the queue says why
    # the shape spares rings, not the ripples: they stay as likely artefacts and as far down
    assert p_with[ripples].min() > 0.5
    assert rank_with[ripples].median() >= 0.9 * rank_without[ripples].median()


def test_the_shape_options_off_or_no_objects_leave_the_ranking_as_before():
    """The options off, or on (the default) for a ranker without objects (stamps, synthetic runs):
    the same ranking as one built without the shape block."""
    emb, anomaly, block, shapes, ripple, ring = _rings_beside_ripples(1)
    interest, art, _ = _labelled(ripple, ring)
    off = ActiveConfig(n_components=8, shape_weight=0.0, shape_protect=False)
    plain = ActiveRanker(emb, anomaly, off, artefacts=block).rerank(interest, art)
    given = ActiveRanker(emb, anomaly, off, artefacts=block, shapes=shapes).rerank(interest, art)
    pd.testing.assert_frame_equal(plain, given)
    on_without = ActiveRanker(emb, anomaly, ActiveConfig(n_components=8, **SHAPE), artefacts=block)
    pd.testing.assert_frame_equal(plain, on_without.rerank(interest, art))


def test_shape_block_takes_each_tile_s_top_object_as_the_forest_sees_it():
    objects = pd.DataFrame(
        {
            "tile_ids": [[0], [0, 1], [3]],
            "score": [0.2, 0.9, 0.5],
            "area_beams": [2.0, 40.0, 5.0],
            "hole_fraction": [0.0, 0.4, 0.0],
            "fill_ratio": [0.8, 0.3, 0.7],
        }
    )
    block = shape_block(objects, 5)
    x = forest_features(objects)
    assert block.shape == (5, x.shape[1] + 1)
    assert block[0, :-1] == pytest.approx(x[1]) and block[1, :-1] == pytest.approx(x[1])  # the most peculiar
    assert block[3, :-1] == pytest.approx(x[2])
    assert (block[[2, 4]] == 0).all() and block[:, -1].tolist() == [1, 1, 0, 1, 0]
    assert shape_block(None, 5) is None and shape_block(objects.iloc[:0], 5) is None


def test_a_run_without_objects_reranks_as_before(run):
    """With the options on, ``from_run`` builds the shape block from ``objects.parquet`` where the run has
    one; without it (stamps, synthetic runs) the block is absent and the re-ranking is the one without shape."""
    from radioexplore.run.labels.store import LabelStore

    name = "vit"
    tiles = run.read_tiles()
    store = LabelStore.for_run(run, who="test")
    for tile in tiles["tile_id"].to_numpy()[:4]:
        store.add(int(tile), ["COMPACT"], interest=1)
    store.add(int(tiles["tile_id"].to_numpy()[4]), ["PECULIAR"], interest=5)
    interest = store.interest_scores()
    assert run.objects.is_file()  # rank's default (peculiar) found the run's objects
    on = ActiveConfig(**SHAPE)
    assert ActiveRanker.from_run(run, name, on).shapes is not None
    assert ActiveRanker.from_run(run, name).shapes is not None  # on by default since session 38
    off_config = ActiveConfig(shape_weight=0.0, shape_protect=False)
    assert ActiveRanker.from_run(run, name, off_config).shapes is None  # off: objects.parquet not read
    run.objects.unlink()
    ranker = ActiveRanker.from_run(run, name, on)
    assert ranker.shapes is None
    off = ActiveRanker.from_run(run, name, off_config)
    pd.testing.assert_frame_equal(ranker.rerank(interest), off.rerank(interest))
