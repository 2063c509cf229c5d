"""An ARTEFACT label reaches the tiles round the same bright source at a similar distance (issue 24):
ripples that read as sky in every artefact feature sink through their source, while a tile holding
its own object keeps its place. Data made here, small."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.queue import review_queue
from radioexplore.ranking.sidelobes import SidelobeKernels, sidelobe_geometry


def _scores(n_per_field: int = 100, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two fields, each with one bright source; tiles at 1-160 beams from it, a few holding an object."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_field
    fields = np.repeat(["field_a", "field_b"], n_per_field)
    distance = np.tile(np.geomspace(1.0, 160.0, n_per_field), 2)
    bright_x = np.where(fields == "field_a", 300.0, 700.0) + rng.uniform(-3, 3, n)  # one source, block peaks jitter
    scores = pd.DataFrame(
        {
            "tile_id": np.arange(n),
            "artefact_bright_x": bright_x,
            "artefact_bright_y": np.full(n, 500.0),
            "artefact_bright_distance_beams": distance,
            "artefact_beam_px": np.full(n, 5.0),
            "object_score": np.zeros(n),
        }
    )
    return scores, fields


def test_a_label_reaches_its_source_at_a_similar_distance_only():
    scores, fields = _scores()
    protected = 75  # same field and source, near the labelled tile's distance, but its own object
    scores.loc[protected, "object_score"] = 0.95
    kernels = SidelobeKernels(sidelobe_geometry(scores, fields), closer=False)
    d = scores["artefact_bright_distance_beams"].to_numpy()
    labelled = int(np.argmin(np.abs(d[:100] - 60.0)))
    w = kernels.rows([labelled]).toarray()[0]
    assert w[labelled] == pytest.approx(1.0)
    near = (fields == "field_a") & (d > 45) & (d < 80)
    near[protected] = False
    assert (w[near] > 0.5).all()  # within a factor 1.33 in distance: the same ripples
    assert (w[(fields == "field_a") & ((d < 29) | (d > 125))] == 0).all()  # beyond a factor 2: another level
    assert (w[fields == "field_b"] == 0).all()  # another field's source
    assert w[protected] < 0.1 * w[protected - 1]  # its own object keeps it
    # cached: the second call returns the same row
    np.testing.assert_array_equal(kernels.rows([labelled]).toarray()[0], w)
    # the default also implicates every tile nearer the source, where the same errors are stronger
    closer = SidelobeKernels(sidelobe_geometry(scores, fields)).rows([labelled]).toarray()[0]
    assert closer[(fields == "field_a") & (d < 29)] == pytest.approx(1.0)
    assert (closer[(fields == "field_a") & (d > 125)] == 0).all()


def test_whole_field_reaches_other_sources_at_a_similar_level():
    scores, fields = _scores()
    scores.loc[50:99, "artefact_bright_x"] = 900.0  # another source of field_a
    level = 0.01 * 5000 / np.sqrt(scores["artefact_bright_distance_beams"].to_numpy())
    scores["artefact_expected_artefact_sigma"] = level
    geometry = sidelobe_geometry(scores, fields)
    by_source = SidelobeKernels(geometry).rows([60]).toarray()[0]
    by_level = SidelobeKernels(geometry, whole_field=True).rows([10]).toarray()[0]
    assert (by_source[:50] == 0).all()
    assert by_level[10] == pytest.approx(1.0)
    assert by_level[50:100][level[50:100] >= level[10]] == pytest.approx(1.0)
    assert (by_level[100:] == 0).all()


def test_another_source_in_the_same_field_is_not_implicated():
    scores, fields = _scores()
    scores.loc[50:99, "artefact_bright_x"] = 900.0  # half of field_a's tiles nearer another bright source
    kernels = SidelobeKernels(sidelobe_geometry(scores, fields))
    w = kernels.rows([10]).toarray()[0]
    assert (w[50:] == 0).all()
    assert w[9] > 0


def test_geometry_is_none_without_the_source_position():
    scores, fields = _scores()
    assert sidelobe_geometry(scores.drop(columns="artefact_bright_x"), fields) is None


def test_ripple_siblings_leave_the_queue_after_one_artefact_label():
    """Field A's tiles at 40-90 beams from its source top the anomaly list and read as sky in the artefact
    features and the embedding; one of them labelled ARTEFACT sinks the others through their source, but
    not the one that holds its own object, and not with the sidelobe reach off."""
    scores, fields = _scores()
    rng = np.random.default_rng(1)
    n = len(scores)
    d = scores["artefact_bright_distance_beams"].to_numpy()
    ripples = (fields == "field_a") & (d > 40) & (d < 90)
    keeper = np.flatnonzero(ripples)[3]
    scores.loc[keeper, "object_score"] = 0.95
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    anomaly = np.where(ripples, 0.9 + 0.1 * rng.random(n), 0.8 * rng.random(n))
    block = np.zeros((n, 5), np.float32)  # every artefact feature reads sky
    labelled = int(np.flatnonzero(ripples)[len(np.flatnonzero(ripples)) // 2])  # at about 60 beams
    geometry = sidelobe_geometry(scores, fields)
    on = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0), artefacts=block, sidelobes=geometry)
    off = ActiveRanker(
        emb, anomaly, ActiveConfig(n_components=0, sidelobe_ratio=0.0), artefacts=block, sidelobes=geometry
    )
    interest = pd.Series({labelled: 1.0})
    q_on = review_queue(on.rerank(interest, [labelled]), 10, exclude=[labelled])
    q_off = review_queue(off.rerank(interest, [labelled]), 10, exclude=[labelled])
    assert ripples[q_off].sum() >= 8
    assert ripples[q_on].sum() <= 3  # the keeper, and at most two at the window's edges
    assert keeper in q_on
    why = on.rerank(interest, [labelled]).set_index("tile_id")["why"]
    sunk = labelled + 1
    assert f"looks like tile {labelled} you labelled ARTEFACT" in why[sunk]


def test_ratio_is_checked():
    with pytest.raises(ValueError, match="sidelobe_ratio"):
        ActiveConfig(sidelobe_ratio=0.5)


def test_object_protect_spares_an_object_from_the_taught_discount():
    """With ``artefact_object_protect`` (the default) the labels' artefact probability discounts a tile by
    ``p (1 - object)``: a tile holding a high-scoring object keeps its place among tiles the labels call artefacts."""
    assert ActiveConfig().artefact_object_protect
    scores, fields = _scores()
    rng = np.random.default_rng(2)
    n = len(scores)
    keeper = 7
    scores.loc[keeper, "object_score"] = 0.95
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    anomaly = rng.random(n)
    block = np.zeros((n, 5), np.float32)
    block[:20, :] = 0.9  # twenty tiles with every artefact feature high, the keeper among them
    geometry = sidelobe_geometry(scores, fields)
    interest = pd.Series({0: 1.0, 1: 1.0, 150: 1.0, 151: 1.0})
    kw = dict(artefacts=block, sidelobes=geometry)
    # the scores themselves, not the quantiles the hedge against the anomaly list turns them into
    base = ActiveConfig(n_components=0, sidelobe_ratio=0.0, list_hedge=False)
    plain = ActiveRanker(emb, anomaly, replace(base, artefact_object_protect=False), **kw)
    spared = ActiveRanker(emb, anomaly, replace(base, artefact_object_protect=True), **kw)
    a = plain.rerank(interest, [0, 1]).set_index("tile_id")
    b = spared.rerank(interest, [0, 1]).set_index("tile_id")
    assert a.loc[keeper, "artefact_probability"] > 0.5
    assert b.loc[keeper, "active_score"] > 3 * a.loc[keeper, "active_score"]
    others = [t for t in range(2, 20) if t != keeper]
    np.testing.assert_allclose(b.loc[others, "active_score"], a.loc[others, "active_score"], rtol=0.1, atol=1e-6)


def test_teach_block_field_context_adds_dqf_and_dynamic_range():
    from radioexplore.ranking.active_features import teach_block

    scores = pd.DataFrame(
        {
            "artefact_score": [0.1, 0.2],
            "artefact_dqf": [0.0, 3.0],
            "artefact_field_dynamic_range": [100.0, 5000.0],
        }
    )
    assert teach_block(scores).shape == (2, 6)
    block = teach_block(scores, field_context=True)
    assert block.shape == (2, 8)
    np.testing.assert_allclose(block[:, 6], [0.0, 1.0])
    assert block[0, 7] < 0.05 < 0.9 < block[1, 7]


def test_believe_protect_spares_an_object_from_doubting_its_interest():
    """With ``believe_protect`` the belief in a tile's predicted interest is doubted by ``p (1 - object)``, as the
    taught discount is: a tile holding a high-scoring object, like a tile scored 5, keeps the interest predicted
    for it among tiles the labels call artefacts; the others are doubted as before."""
    assert ActiveConfig().believe_protect == "off"
    scores, fields = _scores()
    rng = np.random.default_rng(2)
    n = len(scores)
    keeper, liked = 7, 150
    scores.loc[keeper, "object_score"] = 0.95
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb[keeper] = emb[liked]  # the regressor predicts the liked tile's interest for the keeper
    anomaly = rng.random(n)
    block = np.zeros((n, 5), np.float32)
    block[:20, :] = 0.9  # twenty tiles with every artefact feature high, the keeper among them
    geometry = sidelobe_geometry(scores, fields)
    interest = pd.Series({0: 1.0, 1: 1.0, 151: 1.0, liked: 5.0})
    kw = dict(artefacts=block, sidelobes=geometry)
    base = ActiveConfig(n_components=0, sidelobe_ratio=0.0, list_hedge=False)
    doubted = ActiveRanker(emb, anomaly, base, **kw).rerank(interest, [0, 1]).set_index("tile_id")
    believed = ActiveRanker(emb, anomaly, replace(base, believe_protect="object"), **kw).rerank(interest, [0, 1])
    believed = believed.set_index("tile_id")
    assert doubted.loc[keeper, "artefact_probability"] > 0.5 and doubted.loc[keeper, "predicted_interest"] > 2.5
    assert believed.loc[keeper, "active_score"] > 1.5 * doubted.loc[keeper, "active_score"]
    others = [t for t in range(2, 20) if t != keeper]
    np.testing.assert_allclose(
        believed.loc[others, "active_score"], doubted.loc[others, "active_score"], rtol=1e-5, atol=1e-6
    )
    # without the object protection it has nothing to spare with: the same as before
    off = replace(base, artefact_object_protect=False)
    a = ActiveRanker(emb, anomaly, off, **kw).rerank(interest, [0, 1])
    b = ActiveRanker(emb, anomaly, replace(off, believe_protect="object"), **kw).rerank(interest, [0, 1])
    np.testing.assert_allclose(a["active_score"], b["active_score"])


def test_believe_protect_morph_spares_only_a_known_morphology():
    """``believe_protect="morph"`` spares by the tile's morphology evidence (ring, X, giant) alone: of two tiles
    with high object scores and the liked tile's embedding, the one whose object reads as a giant keeps its
    predicted interest; the other, an unusual shape only (a rippled radio galaxy), is doubted as before."""
    scores, fields = _scores()
    rng = np.random.default_rng(2)
    n = len(scores)
    giant, unusual, liked = 7, 8, 150
    scores.loc[[giant, unusual], "object_score"] = 0.95
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    emb[[giant, unusual]] = emb[liked]
    anomaly = rng.random(n)
    block = np.zeros((n, 5), np.float32)
    block[:20, :] = 0.9
    morphology = np.zeros(n, np.float32)
    morphology[giant] = 0.95
    kw = dict(artefacts=block, sidelobes=sidelobe_geometry(scores, fields), morphology=morphology)
    interest = pd.Series({0: 1.0, 1: 1.0, 151: 1.0, liked: 5.0})
    base = ActiveConfig(n_components=0, sidelobe_ratio=0.0, list_hedge=False)

    def active(config: ActiveConfig) -> pd.Series:
        return ActiveRanker(emb, anomaly, config, **kw).rerank(interest, [0, 1]).set_index("tile_id")["active_score"]

    off, obj, morph = (active(replace(base, believe_protect=b)) for b in ("off", "object", "morph"))
    assert obj[giant] > 1.5 * off[giant] and obj[unusual] > 1.5 * off[unusual]
    assert morph[giant] > 1.5 * off[giant]
    assert morph[unusual] == pytest.approx(off[unusual], rel=1e-5)
    with pytest.raises(ValueError, match="believe_protect"):
        ActiveConfig(believe_protect="yes")


def test_tile_morphology_takes_the_largest_evidence_over_the_tiles_an_object_holds():
    from radioexplore.ranking.active_features import tile_morphology

    objects = pd.DataFrame({"tile_ids": [[0, 1], [1, 2], [4]], "morph_evidence": [0.2, 0.9, np.nan]})
    np.testing.assert_allclose(tile_morphology(objects, 5), [0.2, 0.9, 0.9, 0.0, 0.0])
    assert tile_morphology(objects.drop(columns="morph_evidence"), 5) is None
    assert tile_morphology(None, 5) is None
