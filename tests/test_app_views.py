"""The app's state and views without a browser (Panel's testing ladder: params first)."""

import holoviews as hv
import panel as pn
import pytest

from app.dashboard import build_dashboard, resolve_run
from app.state import ExplorerState, is_categorical
from app.views.map import MapView
from app.views.ranking import RankingView
from app.views.tile import TileView
from radioexplore.rundir import RunDir


@pytest.fixture
def state(tiny_run):
    hv.extension("bokeh")
    return ExplorerState(tiny_run)


def test_colour_choices_offer_the_science_columns_first(state):
    choices = state.param.colour_by.objects
    assert choices[:5] == ["field", "noise_rms", "dqf", "n_sources", "score"]
    assert "tile_id" not in choices and "x" not in choices
    assert state.embedding == "vit" and state.map_method == "umap"


def test_categorical_detection(state):
    tiles = state.tiles()
    assert is_categorical(tiles["field"]) and is_categorical(tiles["dqf"])
    assert not is_categorical(tiles["noise_rms"]) and not is_categorical(tiles["score"])


def test_click_resolves_to_the_nearest_tile(state):
    tiles = state.tiles()
    row = tiles.iloc[7]
    assert state.nearest_on_map(row["x"], row["y"]) == int(row["tile_id"])
    far = tiles["x"].max() + 10 * (tiles["x"].max() - tiles["x"].min())
    assert state.nearest_on_map(far, row["y"]) is None


def test_map_tap_selects_a_tile_and_the_tile_view_follows(state):
    view = MapView(state=state)
    pane = view.plot()
    assert isinstance(pane, pn.pane.HoloViews)
    row = state.tiles().iloc[11]
    view._tap.event(x=float(row["x"]), y=float(row["y"]))
    assert state.selected_tile == 11
    tile = TileView(state=state).view()
    text = tile.objects[0].object
    assert text == "## Tile 11"
    neighbours = tile.objects[-1]
    assert len(neighbours.objects) == 8


@pytest.mark.parametrize("colour", ["field", "noise_rms", "dqf", "n_sources", "score"])
def test_map_draws_for_every_colour(state, colour):
    state.colour_by = colour
    pane = MapView(state=state).plot()
    rendered = hv.render(pane.object)
    assert rendered is not None


def test_tile_image_is_in_mjy_per_beam_with_the_beam(state):
    img = TileView(state=state).image(0)
    assert img.vdims[0].name == "mJy/beam"
    assert "beam 7.8″×7.4″" in img.opts.get().kwargs["title"]


def test_ranking_table_lists_top_anomalies_and_clicks_open_them(state):
    view = RankingView(state=state, top_n=10)
    frame = view.table_frame()
    assert list(frame["rank"]) == list(range(1, 11))
    view._on_click(type("Click", (), {"row": 2})())
    assert state.selected_tile == int(frame["tile_id"].iloc[2])


def test_run_resolution_order(tmp_path):
    assert (
        resolve_run(["--run", str(tmp_path / "a")], {"RADIOEXPLORE_RUN": str(tmp_path / "b")}).root
        == (tmp_path / "a").resolve()
    )
    assert resolve_run([], {"RADIOEXPLORE_RUN": str(tmp_path / "b")}).root == (tmp_path / "b").resolve()
    assert resolve_run([], {}).root.name == "demo"


def test_incomplete_run_gets_a_page_with_the_commands(tmp_path, tiny_run):
    run = RunDir(tmp_path / "partial")
    run.root.mkdir()
    (run.root / "tiles.parquet").write_bytes(tiny_run.tiles_table.read_bytes())
    missing = dict(run.missing())
    assert "embed" in missing and "radioexplore embed --run" in missing["embed"]
    page = build_dashboard(run)
    alert = page.main[0].objects[0]
    assert "radioexplore embed --run" in alert.object and "ingest" in alert.object
