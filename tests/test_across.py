"""An ARTEFACT label teaches across fields (issue 24): the tiles of another field whose own ripple is as
strong sink before that field has a label of its own, while a tile holding its own object keeps its
place, and a label on a tile without error evidence reaches no other field. Data made here, small."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.across import AcrossReach, error_evidence
from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.queue import review_queue
from radioexplore.ranking.sidelobes import sidelobe_geometry


def _against(sigma: np.ndarray) -> np.ndarray:
    return sigma**2 / (sigma**2 + 25.0)


def _sky(n_per_field: int = 100, seed: int = 0):
    """Two fields, each with one bright source far from most tiles; field B's tiles 0-39 carry ripples of
    20-37 sigma with no trough and top the anomaly list; one tile of field A carries a 30 sigma ripple."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_field
    fields = np.repeat(["field_a", "field_b"], n_per_field)
    ripple = rng.uniform(0.0, 2.0, n)
    b_ripples = np.arange(n_per_field, n_per_field + 40)
    ripple[b_ripples] = rng.uniform(20.0, 37.0, 40)
    labelled = 5
    ripple[labelled] = 30.0
    evidence = np.zeros((n, 6), np.float32)  # axis, negative beams, negative share, ring, level, ripple
    evidence[:, 5] = _against(ripple)
    scores = pd.DataFrame(
        {
            "tile_id": np.arange(n),
            "artefact_bright_x": np.where(fields == "field_a", 300.0, 700.0),
            "artefact_bright_y": np.full(n, 500.0),
            "artefact_bright_distance_beams": np.full(n, 80.0),
            "artefact_beam_px": np.full(n, 5.0),
            "object_score": np.zeros(n),
        }
    )
    return scores, fields, evidence, ripple, b_ripples, labelled


def test_a_label_reaches_tiles_of_any_field_whose_evidence_is_as_strong():
    scores, fields, evidence, ripple, b_ripples, labelled = _sky()
    keeper = b_ripples[0]
    obj = scores["object_score"].to_numpy().copy()
    obj[keeper] = 0.9
    kernels = AcrossReach(error_evidence(evidence), obj)
    w = kernels.row(labelled)
    strength = _against(30.0)
    assert w[labelled] == pytest.approx(strength, rel=1e-4)
    stronger = (ripple >= 30.0) & (np.arange(len(w)) != keeper)
    assert stronger[fields == "field_b"].sum() >= 10
    assert w[stronger] == pytest.approx(strength, rel=1e-4)  # as strong or stronger, any field: in full
    assert (w[(ripple > 15.5) & (ripple < 29.5)] > 0).all()  # within a factor 2: in part
    assert (w[(ripple > 15.5) & (ripple < 29.5)] < strength).all()
    assert (w[ripple < 15.0] == 0).all()  # beyond a factor 2: not the label's errors
    assert w[keeper] < 0.02 * strength  # its own object keeps it
    weight, source = kernels.strongest(np.array([labelled, 50]))
    np.testing.assert_array_equal(weight, w)  # tile 50 (a 0-2 sigma ripple) adds nothing
    assert (source[w > 0] == labelled).all() and (source[w == 0] == -1).all()
    # a label on a tile whose evidence stays below the 5 sigma convention teaches nothing across fields
    assert not kernels.row(50).any()
    assert AcrossReach(error_evidence(evidence), obj, min_sigma=0.0).row(50).any()


def test_the_evidence_needs_the_ripple_column():
    assert error_evidence(np.zeros((4, 5), np.float32)) is None  # the artefact block alone
    assert error_evidence(np.zeros((4, 6), np.float32)).shape == (4, 4)
    with pytest.raises(ValueError, match="across ratio"):
        AcrossReach(np.zeros((4, 4), np.float32), np.zeros(4), ratio=1.0)
    with pytest.raises(ValueError, match="across_ratio"):
        ActiveConfig(across_ratio=0.5)


def test_another_fields_ripples_leave_the_queue_after_one_artefact_label():
    """Field B's rippled tiles top the anomaly list and have no label of their own field; one ARTEFACT label
    on a rippled tile of field A sinks them (the sidelobe reach cannot: another field), not the one that
    holds its own object, and not with the reach across fields off."""
    scores, fields, evidence, ripple, b_ripples, labelled = _sky()
    rng = np.random.default_rng(1)
    n = len(scores)
    keeper = b_ripples[3]
    scores.loc[keeper, "object_score"] = 0.9
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    anomaly = 0.8 * rng.random(n)
    anomaly[b_ripples] = 0.9 + 0.1 * rng.random(len(b_ripples))
    block = np.zeros((n, 5), np.float32)  # every artefact feature the look-alike kernels see reads sky
    geometry = sidelobe_geometry(scores, fields)
    kw = dict(artefacts=block, evidence=evidence, sidelobes=geometry)
    on = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0, across_ratio=2.0), **kw)
    off = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0, across_ratio=0.0), **kw)
    interest = pd.Series({labelled: 1.0})
    q_on = review_queue(on.rerank(interest, [labelled]), 10, exclude=[labelled])
    q_off = review_queue(off.rerank(interest, [labelled]), 10, exclude=[labelled])
    rippled = np.zeros(n, bool)
    rippled[b_ripples] = True
    assert rippled[q_off].sum() == 10
    assert rippled[q_on].sum() <= 1  # the keeper
    assert keeper in q_on
    why = on.rerank(interest, [labelled]).set_index("tile_id")["why"]
    sunk = [t for t in b_ripples if t != keeper and ripple[t] >= 30.0][0]
    assert f"looks like tile {labelled} you labelled ARTEFACT" in why[sunk]
