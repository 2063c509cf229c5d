"""The map selection as a workbench (issue 23, item 4) and the legends and units of the map (item 5),
without a browser: a box or lasso fills the selection grid, a bulk label gives every selected tile its
own event (and a read-only session is refused), the selection is searched and exported."""

from __future__ import annotations

import io
import shutil

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import pytest
from bokeh.models import CategoricalColorMapper, ColorBar, HoverTool

from app.access import Annotator
from app.state import ExplorerState
from app.views import map as map_view
from app.views.export import ExportView
from app.views.keys import KeyboardShortcuts
from app.views.labels import LabelPanel
from app.views.legend import MISSING, ordered_categories
from app.views.map import MapView
from app.views.selection import MAX_THUMBS, SelectionView, bulk_label_rows
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir


@pytest.fixture
def run(tiny_run, tmp_path):
    """A copy of the tiny run with no labels, so each test writes its own."""
    dest = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, dest.root, ignore=shutil.ignore_patterns("labels.sqlite*", "active"))
    return dest


@pytest.fixture
def state(run):
    hv.extension("bokeh")
    return ExplorerState(run, who="selector")


def _grid_ids(view: SelectionView) -> list[int]:
    grid = view.grid()
    cards = grid.objects[1].objects
    return [int(c.objects[-1].label.lstrip("#")) for c in cards]


def test_a_lasso_on_the_map_fills_the_grid(state):
    view = MapView(state=state)
    view.plot()
    assert isinstance(view.selection_stream, hv.streams.Selection1D)
    view.selection_stream.event(index=[0, 3, 5])
    drawn = view.points().data["tile_id"].to_numpy()
    assert state.selection == [int(drawn[i]) for i in (0, 3, 5)]
    assert _grid_ids(SelectionView(state=state)) == state.selection


def test_a_box_on_a_rasterised_map_selects_by_coordinates(state, monkeypatch):
    monkeypatch.setattr(map_view, "RASTERIZE_ABOVE", 0)
    view = MapView(state=state)
    view.plot()
    assert isinstance(view.selection_stream, hv.streams.BoundsXY)
    tiles = state.tiles()
    x0, x1 = np.percentile(tiles["x"], [20, 70])
    y0, y1 = np.percentile(tiles["y"], [10, 90])
    view.selection_stream.event(bounds=(x0, y0, x1, y1))
    inside = tiles[tiles["x"].between(x0, x1) & tiles["y"].between(y0, y1)]["tile_id"].tolist()
    assert inside and state.selection == inside


def test_a_large_selection_shows_a_bounded_grid(state):
    state.selection = list(range(len(state.tiles())))
    grid = SelectionView(state=state).grid()
    assert len(grid.objects[1].objects) == min(MAX_THUMBS, len(state.selection))
    assert f"{len(state.selection)} tiles selected" in grid.objects[0].object


def test_bulk_label_writes_one_event_per_selected_tile_and_keeps_what_they_had(state, run):
    state.labels.add(4, labels=["COMPACT"], interest=2, tags=["double"])
    state.selection = [4, 7, 9, 12, 7]  # a repeat is labelled once
    view = SelectionView(state=state, label="PECULIAR", interest="5")
    before = len(state.labels.events())
    version = state.label_version
    assert view.label_all() == 4
    assert len(state.labels.events()) == before + 4 and state.label_version == version + 1
    current = LabelStore.for_run(run).current().set_index("tile_id")
    for tile in (4, 7, 9, 12):
        assert "PECULIAR" in current.loc[tile, "labels"] and current.loc[tile, "interest"] == 5
    assert current.loc[4, "labels"] == ("COMPACT", "PECULIAR") and current.loc[4, "tags"] == ("double",)
    assert "Labelled 4 tiles PECULIAR, interest 5" in view.message
    # without an interest the tiles keep theirs
    state.selection = [4]
    SelectionView(state=state, label="ARTEFACT").label_all()
    assert LabelStore.for_run(run).current().set_index("tile_id").loc[4, "interest"] == 5


def test_bulk_label_rows_need_no_store():
    current = pd.DataFrame({"tile_id": [1], "labels": [("EXTENDED",)], "interest": [np.nan], "tags": [()]})
    rows = bulk_label_rows(current, [1, 2], "FILAMENT", None)
    assert rows == [
        {"tile_id": 1, "labels": ["EXTENDED", "FILAMENT"], "interest": None, "tags": []},
        {"tile_id": 2, "labels": ["FILAMENT"], "interest": None, "tags": []},
    ]


def test_bulk_label_is_refused_to_a_read_only_session(run):
    hv.extension("bokeh")
    viewer = Annotator("visitor", can_label=False, why_not="visitor has read-only access")
    state = ExplorerState(run, annotator=viewer)
    state.selection = [1, 2, 3]
    view = SelectionView(state=state, label="PECULIAR", interest="3")
    assert view.label_all() == 0
    assert "read-only" in view.message and "Not labelled" in view.message
    assert not run.labels_db.is_file() or LabelStore.for_run(run).current().empty
    panel = view.__panel__()
    button = next(w for w in panel.select(pn.widgets.Button) if "selection-label" in w.css_classes)
    assert button.disabled


def test_an_empty_selection_is_not_labelled_searched_or_exported(state):
    view = SelectionView(state=state)
    assert view.label_all() == 0 and "no tiles selected" in view.message
    view.find_similar()
    assert "Select tiles on the map first" in view.message
    assert view.export() is None and "empty" in view.message


def test_the_selection_is_searched_by_its_mean_embedding(state):
    state.selection = [2, 5, 11]
    view = SelectionView(state=state, k=6)
    view.find_similar()
    expected = state.search().from_tiles([2, 5, 11], 6, "mean")
    assert view.hits["tile_id"].tolist() == expected["tile_id"].tolist()
    assert len(view.hits) == 6 and not set(view.hits["tile_id"]) & {2, 5, 11}


def test_the_selection_is_exported_as_csv_and_votable(state):
    from astropy.io.votable import parse_single_table

    state.labels.add(11, labels=["RADIO-GALAXY"], interest=4)
    state.selection = [11, 3, 20]
    view = SelectionView(state=state, fmt="csv")
    table = pd.read_csv(view.export())
    assert table["tile_id"].tolist() == [11, 3, 20]
    assert {"ra", "dec", "score", "labels"} <= set(table.columns)
    assert table.loc[0, "labels"] == "RADIO-GALAXY" and view.filename().endswith("_selection.csv")
    view.fmt = "votable"
    vot = parse_single_table(io.BytesIO(view.export().read())).to_table()
    assert list(vot["tile_id"]) == [11, 3, 20] and "Exported 3 tiles as votable" in view.message


def test_keys_work_on_the_explore_label_card_while_it_shows(state, run):
    panel, keys = LabelPanel(state=state), KeyboardShortcuts()
    panel.bind_keys(keys, when=lambda: state.tab == "Explore")
    state.selected_tile = 6
    keys.press("p")
    assert panel.labels == ["PECULIAR"]
    keys.press("4")  # an interest score saves
    assert LabelStore.for_run(run).current().set_index("tile_id").loc[6, "interest"] == 4
    state.tab = "Review queue"
    keys.press("e")
    assert panel.labels == ["PECULIAR"]


def test_export_top_is_typed_not_slid(state):
    view = ExportView(state=state)
    top = next(w for w in view.__panel__().select(pn.widgets.IntInput) if w.name == "Top")
    top.value = 20
    assert view.top == 20 and len(view.tile_ids()) == 20


def test_dqf_legend_is_ordered_in_distinct_colours(state):
    cats = ordered_categories(pd.Series(pd.array([1, 0, 3, None, 2, 1], dtype="Int64")))
    assert list(cats.categories) == ["0", "1", "2", "3", MISSING]
    state.colour_by = "dqf"
    view = MapView(state=state)
    fig = hv.render(view.plot().object)
    mapper = next(m for m in fig.select(CategoricalColorMapper))
    factors = list(mapper.factors)
    assert factors == sorted(factors, key=lambda f: (f == MISSING, float(f) if f != MISSING else 0))
    assert len(set(mapper.palette[: len(factors)])) == len(factors)
    drawn = view.points().data["dqf"].astype(str).tolist()
    assert list(dict.fromkeys(drawn)) == factors  # Bokeh's legend follows the order of first appearance


def test_noise_colour_bar_is_in_the_tables_unit(state):
    state.colour_by = "noise_rms"
    view = MapView(state=state)
    points = view.points()
    np.testing.assert_allclose(
        np.sort(points.data["noise_rms"].to_numpy()), np.sort(state.tiles()["noise_rms"].to_numpy() * 1e3)
    )
    fig = hv.render(view.plot().object)
    (bar,) = fig.select(ColorBar)
    assert bar.title == "noise_rms (mJy/beam)"


def test_one_tooltip_under_the_cursor(state):
    state.labels.add(3, labels=["COMPACT"])
    state.label_version += 1
    fig = hv.render(MapView(state=state).plot().object)
    hovers = list(fig.select(HoverTool))
    with_tooltips = [t for t in hovers if t.tooltips]
    assert len(hovers) == 2  # the labelled marks keep theirs (their label stays in the page's data), silent
    assert len(with_tooltips) == 1 and with_tooltips[0].limit == 1
