"""What keeps the app fast at scale (issue 23), checked as behaviour: a label replaces only the label
columns of the joined table, and a rasterised map sends one value per pixel that the browser colours."""

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

import app.views.map as map_view
from app.state import ExplorerState
from app.views.legend import MISSING, MISSING_COLOUR, colour_frame, ordered_categories
from app.views.map import CODE, MapView
from radioexplore.run.tiletable.join import label_columns


@pytest.fixture
def state(tiny_run, tmp_path):
    import shutil

    from radioexplore.run.rundir import RunDir

    hv.extension("bokeh")
    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*", "active"))
    return ExplorerState(run, who="speed-test")


def test_label_columns_are_categorical_codes():
    current = pd.DataFrame({"tile_id": [3, 1], "labels": [["PECULIAR", "EXTENDED"], []], "interest": [5, 2]})
    labels, interest = label_columns(current, 5)
    assert isinstance(labels, pd.Categorical)
    assert list(labels.astype(str)) == [
        "unlabelled",
        "(interest only)",
        "unlabelled",
        "PECULIAR;EXTENDED",
        "unlabelled",
    ]
    assert labels.categories[0] == "unlabelled"  # the lowest code: labelled tiles win a rasterised pixel
    np.testing.assert_array_equal(interest, [np.nan, 2, np.nan, 5, np.nan])


def test_a_label_replaces_only_the_label_columns(state):
    before = state.tiles()
    joined = state._joined()
    state.labels.add(4, labels=["PECULIAR"], interest=5)
    state.label_version += 1
    after = state.tiles()
    assert state._joined() is joined  # the join of tiles, map, scores is not made again
    assert after is not before and "user_labels" not in before.columns
    assert after["user_labels"].iloc[4] == "PECULIAR" and after["user_interest"].iloc[4] == 5
    assert (after["user_labels"] != "unlabelled").sum() == 1
    assert "user_labels" in state.param.colour_by.objects
    np.testing.assert_array_equal(after["x"].to_numpy(), before["x"].to_numpy())


def test_sessions_share_the_joined_tile_table_until_a_file_changes(state):
    """A second page of the same run does not join the tile table again (issue 23: first paint of a
    10^6-tile map); a session with its own re-ranking, or a changed file, joins its own."""
    joined = state._joined()
    other = ExplorerState(state.run, who="speed-test-2")
    assert other._joined() is joined
    n = len(joined)
    ranks = np.arange(n, dtype=float)
    other._active = pd.DataFrame(  # a re-ranking of its own, not saved (a read-only session's)
        {"tile_id": np.arange(n), "active_score": -ranks, "active_rank": ranks + 1}
        | {"predicted_interest": ranks, "touches_liked": np.zeros(n, dtype=bool)}
    )
    other.ranking_version += 1
    assert other._joined() is not joined and state._joined() is joined
    scores = state.run.scores(state.embedding)
    pd.read_parquet(scores).to_parquet(scores)  # the same scores written again: a new file time
    assert ExplorerState(state.run, who="speed-test-3")._joined() is not joined


def _raster(pane) -> tuple[np.ndarray, object]:
    """The image values and the colour mapper of the rasterised layer of a rendered map."""
    fig = hv.render(pane.object)
    images = [r for r in fig.renderers if type(r.glyph).__name__ in ("Image", "ImageStack", "ImageRGBA")]
    assert len(images) == 1
    glyph = images[0].glyph
    assert type(glyph).__name__ == "Image"  # one value per pixel, not a layer per category
    return np.asarray(images[0].data_source.data["image"][0]), glyph.color_mapper


@pytest.mark.parametrize("colour", ["field", "dqf", "user_labels"])
def test_rasterised_map_of_a_category_sends_codes_the_browser_colours(state, colour, monkeypatch):
    monkeypatch.setattr(map_view, "RASTERIZE_ABOVE", 10)
    state.labels.add(2, labels=["PECULIAR"], interest=5)
    state.label_version += 1
    state.colour_by = colour
    view = MapView(state=state)
    pane = view.plot()
    values, mapper = _raster(pane)
    n = len(view.points().data[colour].cat.categories)
    drawn = values[np.isfinite(values)]
    assert drawn.size and set(np.unique(drawn)) <= set(range(n))  # spread by max: no sums of codes
    assert len(mapper.palette) == n and (mapper.low, mapper.high) == (-0.5, n - 0.5)
    assert CODE in view.points().data.columns
    if colour == "user_labels":  # the placeholder takes the lowest code: a labelled tile wins a shared pixel
        assert view._raster_names[0] == "unlabelled"


def test_rasterised_map_of_a_number_keeps_its_range(state, monkeypatch):
    monkeypatch.setattr(map_view, "RASTERIZE_ABOVE", 10)
    state.colour_by = "noise_rms"
    view = MapView(state=state)
    values, _ = _raster(view.plot())
    noise = view.points().data["noise_rms"]  # in the map's display unit (mJy/beam)
    drawn = values[np.isfinite(values)]
    # a pixel shows the mean of its tiles (spread by max, not summed with its neighbours)
    assert drawn.size and drawn.min() >= noise.min() - 1e-12 and drawn.max() <= noise.max() + 1e-12


@pytest.mark.parametrize("colour", ["dqf", "field", "user_labels"])
def test_rasterised_category_map_keeps_tile_order_and_codes_match_categories(state, colour, monkeypatch):
    monkeypatch.setattr(map_view, "RASTERIZE_ABOVE", 10)
    state.labels.add(2, labels=["PECULIAR"], interest=5)
    state.label_version += 1
    state.colour_by = colour
    view = MapView(state=state)
    frame = view.points().data
    tiles = state.tiles()
    # no sort by category: the rows stay in tile order (the raster's colours follow the category order)
    np.testing.assert_array_equal(frame["tile_id"].to_numpy(), tiles["tile_id"].to_numpy())
    expected = tiles[colour].astype(object).where(tiles[colour].notna(), MISSING).astype(str)
    assert frame[colour].astype(str).tolist() == expected.tolist()
    # each point's raster code names its own category
    names = np.array(view._raster_names)
    assert names[frame[CODE].to_numpy()].tolist() == frame[colour].astype(str).tolist()


def test_ordered_categories_text_only_the_distinct_values():
    values = pd.Series(pd.Categorical(["b", None, "a", "b"], categories=["b", "a", "unused"]))
    cats = ordered_categories(values)
    assert list(cats.categories) == ["a", "b", MISSING] and cats.ordered  # unused categories dropped
    assert list(cats.astype(str)) == ["b", MISSING, "a", "b"]
    frame, _, colours = colour_frame(pd.DataFrame({"c": values, "i": range(4)}), "c", True, sort=False)
    assert frame["i"].tolist() == [0, 1, 2, 3] and colours[MISSING] == MISSING_COLOUR
    frame, _, _ = colour_frame(pd.DataFrame({"c": values, "i": range(4)}), "c", True)
    assert frame["i"].tolist() == [2, 0, 3, 1]  # sorted (stably) for a point map's ordered legend
