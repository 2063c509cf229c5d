"""The astronomer-in-the-loop views without a browser: labels, queue with keys, search, export."""

import io
import zipfile

import numpy as np
import pandas as pd

from app.views.export import ExportView
from app.views.labels import LabelPanel
from app.views.queue import QueueView
from app.views.search import SearchView


def test_label_panel_saves_one_event_and_reloads_it(state):
    panel = LabelPanel(state=state)
    state.selected_tile = 5
    panel.labels = ["EXTENDED", "RADIO-GALAXY"]
    panel.interest = "4"
    panel.tags = "bent, candidate"
    assert panel.save()
    ev = state.labels.events()
    assert len(ev) == 1 and ev["tile_id"].iloc[0] == 5 and ev["who"].iloc[0] == "tester"
    state.selected_tile = 6
    assert panel.labels == [] and panel.interest == "–"
    state.selected_tile = 5
    assert panel.labels == ["EXTENDED", "RADIO-GALAXY"] and panel.interest == "4" and panel.tags == "bent, candidate"
    assert "user_labels" in state.param.colour_by.objects


def test_empty_judgement_is_refused_with_a_message(state):
    panel = LabelPanel(state=state)
    state.selected_tile = 3
    assert not panel.save()
    assert "Not saved" in panel.message and len(state.labels) == 0


def test_queue_walks_the_ranking_and_keys_label_and_advance(state):
    queue = QueueView(state=state, rerank_every=100)
    ranking = state.tiles().sort_values("rank")["tile_id"].tolist()
    assert state.selected_tile is None  # nothing is opened until the queue tab is
    queue.resume()
    assert queue.current_tile() == ranking[0] == state.selected_tile
    assert queue.keys.press("p")  # toggle PECULIAR
    assert queue.keys.press("5")  # interest 5, save, next
    cur = state.labels.current()
    assert (
        cur["tile_id"].tolist() == [ranking[0]]
        and cur["labels"].iloc[0] == ("PECULIAR",)
        and cur["interest"].iloc[0] == 5
    )
    assert queue.current_tile() == ranking[1]
    assert queue.keys.press("n") and queue.current_tile() == ranking[2]
    assert queue.keys.press("ArrowLeft") and queue.current_tile() == ranking[1]
    assert queue.keys.press("u")  # undo the label of ranking[0]
    assert state.labels.current().empty and len(state.labels.events()) == 2


def test_keys_do_nothing_while_the_queue_tab_is_hidden(state):
    queue = QueueView(state=state, active=False)
    queue.keys.press("5")
    assert len(state.labels) == 0


def test_queue_reranks_after_a_batch_of_labels(state):
    queue = QueueView(state=state, rerank_every=3)
    first = queue.current_tile()
    for _ in range(3):
        queue.keys.press("1")
    assert "active_rank" in state.tiles().columns
    assert "Re-ranked" in queue.panel.message
    labelled = set(state.labels.current()["tile_id"])
    assert first in labelled and queue.current_tile() not in labelled
    assert state.ranking()[1] == "active_rank"


def test_the_queue_says_when_a_tile_is_there_for_the_liked_tile_it_touches(state):
    from app.views.queue import why_queued

    tiles = state.tiles()
    field = tiles["field"].iloc[0]
    same = tiles[tiles["field"] == field]
    a = int(same.index[0])
    touching = same[
        (same["x0"] - same.loc[a, "x0"]).abs().le(same["size"])
        & (same["y0"] - same.loc[a, "y0"]).abs().le(same["size"])
    ]
    b = int(touching.index[touching.index != a][0])
    far = int(tiles.index[tiles["field"] != field][0])
    state.labels.add(a, "PECULIAR", interest=5)
    state.labels.add(far, "COMPACT", interest=1)
    state.rerank()
    tiles = state.tiles()
    assert tiles.loc[b, "touches_liked"] == a
    assert why_queued(state, tiles.loc[b]) == f" · touches tile {a}, which you scored 5"
    assert why_queued(state, tiles.loc[far]) == ""


def test_the_queue_names_the_reach_the_rankings_labels_had(state):
    """Saved settings with ``spread_reach="source"``: the queue's heading says "holds part of the source of tile",
    as the ranking's own ``why`` does, where the run has objects; without objects the ranker reaches touching
    tiles, and so do the words."""
    from app.views.queue import why_queued
    from radioexplore.ranking.active import ActiveConfig
    from radioexplore.ranking.active_run import rerank_run

    tiles = state.tiles()
    a, b = int(tiles.index[0]), int(tiles.index[-1])
    state.labels.add(a, "PECULIAR", interest=5)
    rerank_run(state.run, state.embedding, ActiveConfig(spread_reach="source"))
    assert state.run.objects.is_file() and state.spread_reach() == "source"
    row = state.tiles().loc[b].copy()
    row["touches_liked"] = a
    assert why_queued(state, row) == f" · holds part of the source of tile {a}, which you scored 5"
    state.rerank()
    assert state._ranker.reach == "source" and state.spread_reach() == "source"
    state.run.objects.rename(state.run.objects.with_suffix(".aside"))  # a run without objects
    state._ranker = None
    assert state.spread_reach() == "touching"
    assert why_queued(state, row) == f" · touches tile {a}, which you scored 5"
    state.rerank()
    assert state._ranker.reach == "touching"


def test_the_app_reranks_with_the_settings_of_the_runs_last_rerank(state):
    """`radioexplore rerank --spread 0` from the command line, then labels in the app: the app keeps the settings."""
    from radioexplore.ranking.active import ActiveConfig
    from radioexplore.ranking.active_run import rerank_run

    tiles = state.tiles()
    a = int(tiles.index[0])
    state.labels.add(a, "PECULIAR", interest=5)
    rerank_run(state.run, state.embedding, ActiveConfig(spread=0.0, list_hedge=False))
    state.labels.add(int(tiles.index[-1]), "COMPACT", interest=1)
    state.rerank()
    assert state._ranker.config.spread == 0.0 and not state._ranker.config.list_hedge
    assert (state.tiles()["touches_liked"] == -1).all()  # no label reached a touching tile


def test_search_from_selection_and_from_an_uploaded_cutout(state, small_survey):
    view = SearchView(state=state, k=5)
    state.selection = [1, 2, 3]
    view.from_selection()
    assert len(view.hits) == 5 and not set(view.hits["tile_id"]) & {1, 2, 3}
    from astropy.io import fits

    data = fits.getdata(small_survey / "field_000.fits")[0, 0, 200:300, 200:300]
    buf = io.BytesIO()
    fits.PrimaryHDU(data).writeto(buf)
    view.from_upload("my_cutout.fits", buf.getvalue())
    assert len(view.hits) == 5 and "my_cutout.fits" in view.message
    view.from_upload("broken.fits", b"SIMPLE  = nonsense")
    assert "Could not use broken.fits" in view.message


def test_export_downloads_the_top_of_the_ranking_in_each_format(state):
    view = ExportView(state=state, top=7)
    view.fmt = "csv"
    table = pd.read_csv(view.build())
    assert len(table) == 7 and {"tile_id", "ra", "dec", "score"} <= set(table.columns)
    assert view.filename().endswith("_top7.csv")
    view.fmt = "cutouts"
    with zipfile.ZipFile(view.build()) as z:
        assert len([n for n in z.namelist() if n.endswith(".fits")]) == 7


def test_export_of_a_label_lists_the_labelled_tiles(state):
    state.labels.add(9, labels=["PECULIAR"], interest=5)
    view = ExportView(state=state, source="a label", label="PECULIAR", fmt="csv")
    table = pd.read_csv(view.build())
    assert table["tile_id"].tolist() == [9]
    view.source = "the map selection"
    state.selection = []
    assert view.build() is None and "empty" in view.message
    assert np.isfinite(table["ra"]).all()
