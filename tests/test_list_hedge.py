"""Labels hedge against the anomaly list (``ActiveConfig.list_hedge``): a few labels cannot sink the list's best
unlabelled tiles, but an ARTEFACT label still sinks its look-alikes wherever they stand in the list."""

from __future__ import annotations

import numpy as np
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker


def _ranker(hedge: bool) -> ActiveRanker:
    # 200 tiles, tile i the list's (i + 1)-th; tile 1 is a near twin of tile 2, tile 3 of tile 4
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, 8)).astype(np.float32)
    emb[1] = emb[2] + 0.01
    emb[3] = emb[4] + 0.01
    anomaly = np.linspace(1.0, 0.0, 200, dtype=np.float32)
    return ActiveRanker(emb, anomaly, ActiveConfig(n_components=0, trust_k=4, list_hedge=hedge))


def _queue(out, n: int = 3) -> list[int]:
    unlabelled = out[~out["labelled"]].sort_values("active_rank")
    return unlabelled["tile_id"].head(n).tolist()


@pytest.mark.parametrize("hedge", [False, True])
def test_a_boring_label_sinks_its_twin_only_without_the_hedge(hedge):
    out = _ranker(hedge).rerank({2: 1.0})  # tile 2, the list's third, scored 1: its twin, tile 1, looks boring
    if hedge:
        assert _queue(out, 2) == [0, 1]  # the list's best unlabelled tiles still lead the queue
        assert out.loc[1, "why"].startswith("kept up by the anomaly list")  # and the queue says why
    else:
        assert 1 not in _queue(out, 20)  # the blend's local demotion alone sinks the twin


def test_an_artefact_label_still_sinks_its_twin_with_the_hedge():
    out = _ranker(True).rerank({4: 1.0}, artefacts=[4])  # tile 4 labelled ARTEFACT: its twin, tile 3, is one too
    assert out.loc[3, "artefact_trust"] > 0.9
    assert 3 not in _queue(out, 20)
    untouched = out[(out["artefact_trust"] == 0) & ~out["labelled"]]["tile_id"].head(3).tolist()
    assert _queue(out, 3) == untouched  # the list's best the label does not reach lead, in the list's order


def test_without_labels_the_hedge_changes_nothing():
    plain, hedged = _ranker(False).rerank({}), _ranker(True).rerank({})
    assert np.array_equal(plain["active_rank"], hedged["active_rank"])
