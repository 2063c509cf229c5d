"""Labels that teach the queue (issue 24, item 3): ARTEFACT labels push down what looks like them,
other labels say what is sky, and the queue says why a tile is where it is. Data made here, small."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.active_features import artefact_block
from radioexplore.ranking.queue import review_queue
from radioexplore.ranking.teach import LabelKernels, artefact_posterior, kernel_rows, strongest
from radioexplore.run.tiling import tile_adjacency


def _block(negative_beams, ring, share, near, score) -> np.ndarray:
    return artefact_block(
        pd.DataFrame(
            {
                "artefact_score": score,
                "artefact_negative_beams": negative_beams,
                "artefact_negative_share": share,
                "artefact_ring_contrast": ring,
                "artefact_expected_artefact_sigma": near,
            }
        )
    )


def _survey(seed: int = 0, n: int = 600):
    """Sky tiles, and two kinds of artefact with troughs and rings (the axis scores them only moderately):
    30 with deep troughs and strong rings, 30 with shallower ones, far from the first in the artefact
    features; both top the anomaly list, and the embedding does not tell them from the sky."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    strong = np.zeros(n, dtype=bool)
    strong[:30] = True
    weak = np.zeros(n, dtype=bool)
    weak[30:60] = True
    art = strong | weak
    anomaly = np.where(art, 0.8 + 0.2 * rng.random(n), 0.7 * rng.random(n))
    block = _block(
        negative_beams=np.where(strong, 5.0, np.where(weak, 1.0, 0.0)) + 0.1 * rng.random(n),
        ring=np.where(strong, 12.0, np.where(weak, 4.0, 0.5)) + rng.random(n),
        share=np.where(strong, 0.45, np.where(weak, 0.25, 0.02)) + 0.02 * rng.random(n),
        near=np.where(art, 6.0, 0.5) + rng.random(n),
        score=np.where(art, 0.3, 0.02) + 0.02 * rng.random(n),
    )
    return emb, anomaly, block, strong, weak


def test_artefact_labels_teach_the_queue_beyond_their_look_alikes():
    """Ten tiles of the strong kind labelled ARTEFACT (and ten sky tiles labelled COMPACT): the next
    queues hold neither kind. The weak kind lies beyond the labels' kernels in the artefact features,
    so only what the labels taught about troughs and rings (the classifier) keeps it out."""
    emb, anomaly, block, strong, weak = _survey()
    art_labelled = np.flatnonzero(strong)[:10]
    sky_labelled = np.flatnonzero(~(strong | weak))[:10]
    interest = pd.Series(1.0, index=np.r_[art_labelled, sky_labelled])
    config = ActiveConfig(n_components=8)
    taught = ActiveRanker(emb, anomaly, config, artefacts=block).rerank(interest, artefacts=art_labelled)
    queue = review_queue(taught, 20)
    assert not (strong | weak)[queue].any()
    p = taught["artefact_probability"].to_numpy()
    assert p[weak].min() > 0.5 > p[~(strong | weak)].max()
    assert (p[art_labelled] == 1).all() and (p[sky_labelled] == 0).all()
    # without the teaching, only the labels' look-alikes sink: the weak kind fills the queue
    plain = ActiveRanker(emb, anomaly, ActiveConfig(n_components=8, artefact_teach=False), artefacts=block)
    assert weak[review_queue(plain.rerank(interest, artefacts=art_labelled), 20)].sum() >= 15


def test_an_artefact_label_pushes_down_its_look_alikes_in_the_embedding_too():
    """Without artefact features an ARTEFACT label still reaches the tiles that look like it in the embedding."""
    rng = np.random.default_rng(2)
    n = 400
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb[:30] += 6.0  # thirty artefacts, alike in the embedding, atop the anomaly list
    anomaly = np.where(np.arange(n) < 30, 0.9 + 0.1 * rng.random(n), 0.8 * rng.random(n))
    ranker = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0))
    labelled = review_queue(ranker.rerank({}), 10)
    assert (labelled < 30).all()
    # ARTEFACT labels without interest scores, so that only the push-down can move the others
    out = ranker.rerank({}, artefacts=labelled)
    assert (review_queue(out, 10, exclude=labelled) >= 30).all()
    others = np.setdiff1d(np.arange(30), labelled)
    assert (out.loc[others, "artefact_trust"] > 0.5).mean() > 0.8
    off = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0, artefact_penalty=0.0))
    assert (review_queue(off.rerank({}, artefacts=labelled), 10, exclude=labelled) < 30).all()


def test_a_sky_label_vouches_for_tiles_with_the_same_artefact_features():
    """The posterior: the axis where no label is near; near a label, the label."""
    prior = np.full(4, 0.6, dtype=np.float32)
    kernels = kernel_rows(np.array([[0.0], [0.1], [0.2], [5.0]], dtype=np.float32), np.array([0]), k=2)
    sky = artefact_posterior(prior, kernels, np.array([False]))
    art = artefact_posterior(prior, kernels, np.array([True]))
    assert sky[3] == pytest.approx(0.6) and art[3] == pytest.approx(0.6)  # beyond the label's reach
    assert sky[1] < 0.6 < art[1]
    assert sky[0] == pytest.approx(0.3) and art[0] == pytest.approx(0.8)  # weight 1 for the prior, 1 for the label


def test_kept_kernels_equal_fresh_ones_and_reranks_do_not_drift():
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(300, 5)).astype(np.float32)
    kept = LabelKernels(feats, k=16)
    kept.rows(np.array([5, 9]))
    ids = np.array([9, 40, 5])
    fresh = kernel_rows(feats, ids, k=16)
    np.testing.assert_allclose(kept.rows(ids).toarray(), fresh.toarray(), rtol=1e-6)
    weight, source = strongest(fresh, ids)
    assert weight[ids].tolist() == [1.0, 1.0, 1.0] and source[ids].tolist() == ids.tolist()
    # the same labels give the same ranking whether the kernels were kept from earlier labels or not
    emb, anomaly, block, strong, _ = _survey(4, 300)
    config = ActiveConfig(n_components=4)
    session = ActiveRanker(emb, anomaly, config, artefacts=block)
    session.rerank(pd.Series({0: 1.0, 100: 5.0}), artefacts=[0])
    later = session.rerank(pd.Series({0: 1.0, 100: 5.0, 1: 1.0}), artefacts=[0, 1])
    anew = ActiveRanker(emb, anomaly, config, artefacts=block).rerank(pd.Series({0: 1.0, 100: 5.0, 1: 1.0}), [0, 1])
    pd.testing.assert_frame_equal(later, anew)


def test_the_queue_says_why_a_tile_is_where_it_is():
    """A tile touching one scored 5 says so, a look-alike of an ARTEFACT tile names it, the others keep rank's why."""
    side = 10
    n = side * side
    rng = np.random.default_rng(5)
    x0, y0 = (np.arange(n) % side) * 64, (np.arange(n) // side) * 64
    adjacency = tile_adjacency(np.zeros(n, dtype=str), x0, y0, np.full(n, 64))
    emb = rng.normal(size=(n, 6)).astype(np.float32)
    emb[[80, 81]] = 20.0  # two tiles alike, far from the rest
    why = np.array(["ring-like object, artefact score low"] * n, dtype=object)
    ranker = ActiveRanker(emb, rng.random(n), ActiveConfig(n_components=0), adjacency=adjacency, why=why)
    out = ranker.rerank(pd.Series({44: 5.0, 80: 1.0}), artefacts=[80]).set_index("tile_id")["why"]
    assert out[45] == "touches tile 44 you scored 5; ring-like object, artefact score low"
    assert out[81].startswith("looks like tile 80 you labelled ARTEFACT")
    assert out[44].startswith("you scored it 5") and out[80].startswith("you labelled it ARTEFACT")
    assert out[0] == "ring-like object, artefact score low"


def test_a_liked_tile_does_not_vouch_for_the_ripples_beside_it():
    """A tile scored 5 lifts its touching tiles, but not one whose troughs and rings the ARTEFACT labels
    taught to be an artefact: the label says the object is peculiar, not the sidelobes around it.
    Fails if what a touching tile vouches for stands whatever the tile's artefact probability."""
    side = 10
    n = side * side
    rng = np.random.default_rng(3)
    x0, y0 = (np.arange(n) % side) * 64, (np.arange(n) // side) * 64
    adjacency = tile_adjacency(np.zeros(n, dtype=str), x0, y0, np.full(n, 64))
    rippled = np.zeros(n, dtype=bool)
    rippled[[45, 60, 61, 62, 63, 64]] = True  # 45 touches the liked tile 44; 60-64 are labelled ARTEFACT
    block = _block(
        negative_beams=np.where(rippled, 5.0, 0.0) + 0.1 * rng.random(n),
        ring=np.where(rippled, 12.0, 0.5) + rng.random(n),
        share=np.where(rippled, 0.45, 0.02) + 0.02 * rng.random(n),
        near=np.where(rippled, 6.0, 0.5) + rng.random(n),
        score=np.full(n, 0.05),  # the axis alone does not see them: only the labels can
    )
    # 45's troughs and rings are shallower than the labelled ones: beyond their kernels, only the
    # classifier the labels trained calls it a likely artefact
    block[45] = _block(np.array([1.5]), np.array([6.0]), np.array([0.2]), np.array([3.0]), np.array([0.05]))[0]
    emb = rng.normal(size=(n, 6)).astype(np.float32)
    anomaly = np.full(n, 0.5) + 0.01 * rng.random(n)
    interest = pd.Series(1.0, index=[44, 60, 61, 62, 63, 64, 0, 1, 2, 3])
    interest[44] = 5.0
    config = ActiveConfig(n_components=0, trust_k=4)
    ranker = ActiveRanker(emb, anomaly, config, adjacency=adjacency, artefacts=block)
    out = ranker.rerank(interest, artefacts=[60, 61, 62, 63, 64]).set_index("tile_id")
    p = out["artefact_probability"]
    assert p[45] > 0.5 > p[34] and out.loc[45, "artefact_trust"] == 0.0
    # discounted beyond the whole score's (1 - p): the vouch itself is believed only as far as 45 is sky
    score = out["active_score"]
    assert score[45] / score[34] < 0.9 * (1.0 - p[45]) / (1.0 - p[34])
    # so the liked tile does not lift it above the unlabelled sky tiles no label vouches for
    sky = out[~out["labelled"] & ~rippled & (out["touches_liked"] < 0)]
    assert score[45] < sky["active_score"].median()


def test_strongest_of_rows_that_reach_no_tile():
    """A labelled tile whose rows reach nothing (an ARTEFACT label with no bright source, say) leaves every
    tile untouched instead of failing."""
    from scipy import sparse

    weight, source = strongest(sparse.csr_matrix((2, 6), dtype=np.float32), np.array([1, 4]))
    assert not weight.any() and (source == -1).all()


def test_liked_tiles_among_ripples_need_not_teach_that_ripples_are_sky():
    """Five peculiar tiles scored 5 sit among thirty ripple tiles and share their troughs and rings (the
    tile's artefact evidence is the ripples', not the object's). With ``liked_teach_sky=True`` those labels count
    as sky and the ripples round them rise into the queue; with ``False`` (the default) they vouch for their objects
    only, and what the ARTEFACT labels taught keeps the ripples out. Fails if the option stops excluding
    the liked tiles from the teaching, or if a labelled tile's own probability is not its label."""
    emb, anomaly, block, strong, weak = _survey(seed=4)
    weak_ids = np.flatnonzero(weak)
    liked = weak_ids[:5]  # peculiar objects inside ripples: the same artefact evidence as the ripples
    ripples = weak.copy()
    ripples[liked] = False
    art_labelled = np.flatnonzero(strong)[:10]
    sky_labelled = np.flatnonzero(~(strong | weak))[:10]
    interest = pd.Series(1.0, index=np.r_[art_labelled, sky_labelled, liked])
    interest[liked] = 5.0
    out = {}
    assert not ActiveConfig().liked_teach_sky
    for sky in (True, False):
        ranker = ActiveRanker(emb, anomaly, ActiveConfig(n_components=8, liked_teach_sky=sky), artefacts=block)
        out[sky] = ranker.rerank(interest, artefacts=art_labelled)
    p_sky, p_not = (out[s]["artefact_probability"].to_numpy() for s in (True, False))
    assert np.median(p_sky[ripples]) < 0.5 < p_not[ripples].min()
    assert ripples[review_queue(out[True], 20)].sum() >= 5
    assert ripples[review_queue(out[False], 20)].sum() == 0
    for p in (p_sky, p_not):  # labelled tiles keep what they were called
        assert (p[liked] == 0).all() and (p[art_labelled] == 1).all() and (p[sky_labelled] == 0).all()
