"""The artefact axis in the app (issue 24, items 1-2): the map coloured by it, the tile's line in
words, the queue's reason and the data-quality review sorted by artefact score."""

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from app.artefacts import artefact_line, artefact_order, queue_reason, with_artefact_axis
from app.views.map import MapView
from app.views.queue import QueueView
from app.views.tile import TileView


def test_the_map_can_be_coloured_by_the_artefact_score_with_a_colour_bar(state):
    assert "artefact_score" in state.param.colour_by.objects
    assert "why" not in state.param.colour_by.objects  # reasons in words are no colour
    state.colour_by = "artefact_score"
    drawn = MapView(state=state).plot().object
    drawn = drawn[()] if isinstance(drawn, hv.DynamicMap) else drawn
    layers = drawn.traverse(lambda e: e, [hv.Points])
    (points,) = [e for e in layers if "artefact_score" in [d.name for d in e.vdims]]
    plot = hv.Store.lookup_options("bokeh", points, "plot").kwargs
    style = hv.Store.lookup_options("bokeh", points, "style").kwargs
    assert plot["colorbar"] is True and style["color"] == "artefact_score"
    values = points.dimension_values("artefact_score")
    expected = state.tiles()["artefact_score"].to_numpy()
    assert np.issubdtype(values.dtype, np.floating) and np.allclose(values, expected, equal_nan=True)


def test_a_run_ranked_before_the_artefact_axis_takes_it_from_the_cache(state, run):
    tiles = state.tiles()
    assert run.artefact_features.is_file()
    bare = tiles.drop(columns=[c for c in tiles.columns if c.startswith("artefact")])
    joined = with_artefact_axis(run, bare)
    assert np.allclose(joined["artefact_score"], tiles["artefact_score"], equal_nan=True)
    assert "artefact_ring_contrast" in joined.columns
    run.artefact_features.unlink()
    assert "artefact_score" not in with_artefact_axis(run, bare).columns


ROW = pd.Series(
    {
        "artefact_score": 0.82,
        "artefact_local_sigma": 1e-4,
        "artefact_negative_beams": 3.14,
        "artefact_negative_share": 0.48,
        "artefact_ring_contrast": 6.04,
        "artefact_bright_snr": 21000.0,
        "artefact_bright_distance_beams": 12.0,
        "artefact_field_dynamic_range": 24000.0,
        "dqf": 3,
    }
)


def test_the_artefact_line_names_the_score_and_its_evidence():
    line = artefact_line(ROW, trough_sigma=-9.21, beam_px=5.0)
    assert line == (
        "artefact score 0.82 (likely artefact): 3.1 beams below -5σ (troughs to -9.2σ), 48% of the flux "
        "beyond 5σ negative, ring contrast 6.0σ around a 2.1 Jy/beam source 12 beams (60 px) away, DQF 3, "
        "field dynamic range 24,000"
    )
    quiet = ROW.copy()
    quiet[["artefact_score", "artefact_negative_beams", "artefact_negative_share", "artefact_bright_snr"]] = [
        0.01,
        0.0,
        0.0,
        0.0,
    ]
    assert artefact_line(quiet, trough_sigma=-4.0).startswith(
        "artefact score 0.01 (low): no troughs below -5σ (deepest -4.0σ), ring contrast 6.0σ, no bright source"
    )
    assert "run `radioexplore rank` again" in artefact_line(ROW.drop("artefact_score"))
    rippled = quiet.copy()
    rippled["artefact_ripple_sigma"] = 14.2  # radioexplore.ranking.ripples: troughs above -5σ, still periodic
    assert "no troughs below -5σ" in artefact_line(rippled) and "periodic ripples 14σ at 1-4 beams" in artefact_line(
        rippled
    )
    assert "periodic ripples" not in artefact_line(quiet)


def test_the_tile_panel_shows_the_tiles_artefact_line(state):
    tile = int(state.tiles()["artefact_score"].idxmax())
    state.selected_tile = tile
    view = TileView(state=state).view()
    lines = [p for p in view.select(pn.pane.Markdown) if "artefact-line" in p.css_classes]
    assert len(lines) == 1
    text = lines[0].object
    score = state.tiles()["artefact_score"].iloc[tile]
    assert text.startswith("artefact score 0&#46;") and f"{score:.2f}".replace(".", "&#46;") in text
    assert "beams" in text and "DQF" in text


def test_the_queue_says_why_a_tile_is_there(state):
    queue = QueueView(state=state, rerank_every=100)
    queue.resume()
    tile = queue.current_tile()
    why = state.tiles()["why"].iloc[tile]
    assert why and queue_reason(state.tile_row(tile)) == why
    assert "**Why here:**" in queue._why.object and "artefact score" in queue._why.object


def test_the_artefact_review_queues_the_highest_artefact_scores_and_labels_as_usual(state):
    tiles = state.tiles()
    by_artefact = tiles.sort_values(["artefact_score", "tile_id"], ascending=[False, True])["tile_id"].tolist()
    assert (
        artefact_order(tiles) == by_artefact
        and artefact_order(tiles, exclude=[by_artefact[0]], n=2) == by_artefact[1:3]
    )
    queue = QueueView(state=state, rerank_every=2)
    peculiar_first = queue.current_tile()
    queue.review = "artefacts"
    assert queue.current_tile() == by_artefact[0] != peculiar_first
    assert "data-quality review" in queue._why.object
    assert queue.keys.press("a") and queue.keys.press("1")  # ARTEFACT, interest 1, save and next
    cur = state.labels.current()
    assert cur["tile_id"].tolist() == [by_artefact[0]] and cur["labels"].iloc[0] == ("ARTEFACT",)
    assert queue.current_tile() == by_artefact[1]
    queue.keys.press("1")  # the second label re-ranks: the review keeps its order, labelled tiles left out
    assert "Re-ranked" in queue.panel.message
    assert queue._order[:3] == [t for t in by_artefact if t not in set(cur["tile_id"]) | {by_artefact[1]}][:3]
    queue.review = "peculiar"
    assert queue._order == state.queue()


def test_the_queue_gives_the_re_rankings_reason_when_it_has_one(state, monkeypatch):
    from radioexplore.ranking.active import ActiveRanker

    plain = ActiveRanker.rerank

    def with_reasons(self, interest, artefacts=()):  # a re-ranking that says why (as rank-loop's will)
        ranking = plain(self, interest, artefacts)
        return ranking.assign(why=[f"re-ranked reason {t}" for t in ranking["tile_id"]])

    monkeypatch.setattr(ActiveRanker, "rerank", with_reasons)
    queue = QueueView(state=state, rerank_every=1)
    queue.keys.press("3")  # a label and a re-rank
    assert "Re-ranked" in queue.panel.message and state.ranking()[1] == "active_rank"
    tile = queue.current_tile()
    assert queue_reason(state.tile_row(tile)) == f"re-ranked reason {tile}"
    assert f"re-ranked reason {tile}" in queue._why.object
    assert "why" not in state.param.colour_by.objects


def test_the_artefact_order_breaks_ties_by_tile_id_and_skips_unscored_and_labelled_tiles():
    rng = np.random.default_rng(1)
    tiles = pd.DataFrame({"tile_id": np.arange(300), "artefact_score": np.round(rng.random(300), 1)})
    tiles.loc[::7, "artefact_score"] = np.nan  # no pixels to measure: nothing to review
    labelled = [3, 10, 20]
    left = tiles[~tiles["tile_id"].isin(labelled)].dropna()
    expected = left.sort_values(["artefact_score", "tile_id"], ascending=[False, True])["tile_id"].tolist()
    for n in (1, 5, 50, None):
        assert artefact_order(tiles, exclude=labelled, n=n) == (expected[:n] if n else expected)
