"""The app's state and views without a browser (Panel's testing ladder: params first)."""

import holoviews as hv
import panel as pn
import pytest

from app.dashboard import build_dashboard, resolve_run
from app.state import ExplorerState, is_categorical
from app.views.map import MapView
from app.views.ranking import RankingView
from app.views.tile import TileView
from radioexplore.run.rundir import RunDir


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


def test_ranking_table_says_why_and_names_the_method(state):
    view = RankingView(state=state, top_n=10)
    frame = view.table_frame()
    assert {"why", "artefact_score"} <= set(frame.columns)
    assert (frame["why"].str.len() > 0).all()  # every top tile says why it is there
    heading = view.view().objects[0].object
    assert "most peculiar tiles" in heading and "artefact score" in heading and "Isolation Forest" not in heading


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


# -- attention overlay (issue 5) ------------------------------------------------------------------
@pytest.fixture
def vit_assets(tmp_path, monkeypatch):
    """A small random ViT shipped as the demo checkpoint (tiny_run itself was embedded without one)."""
    import torch

    from radioexplore.assets import DEMO_CHECKPOINT
    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.models.checkpoint import save_backbone

    spec = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=64, depth=2)
    torch.manual_seed(1)
    save_backbone(tmp_path / DEMO_CHECKPOINT, build_backbone(spec), spec)
    monkeypatch.setenv("RADIOEXPLORE_ASSETS", str(tmp_path))
    return tmp_path / DEMO_CHECKPOINT


def test_tile_image_rows_run_north_up_in_pixel_coordinates(state):
    import numpy as np

    img = TileView(state=state).image(5)
    row = state.tile_row(5)
    pixels = state.sky_pixels(5)[0] * 1e3  # row 0 is y0, as in the FITS file
    np.testing.assert_allclose(img.dimension_values(2, flat=False), pixels)  # HoloViews lists rows bottom up
    x0, y0 = int(row["x0"]), int(row["y0"])
    assert img[x0 + 3, y0 + 1] == pytest.approx(pixels[1, 3])
    assert img[x0 + 3, y0 + int(row["size"]) - 2] == pytest.approx(pixels[-2, 3])


def test_attention_overlay_covers_the_tile_in_its_pixel_bounds(state, vit_assets):
    import numpy as np

    state.selected_tile = 5
    view = TileView(state=state)
    assert view.param.attention.objects == ["off", "mean"]
    assert view.figure(5)[1] is None  # off by default
    view.attention = "mean"
    element, note = view.figure(5)
    assert isinstance(element, hv.Overlay)
    image, shade, outline = element.values()
    assert shade.bounds.lbrt() == image.bounds.lbrt()
    size = int(state.tile_row(5)["size"])
    assert shade.dimension_values(2, flat=False).shape == image.dimension_values(2, flat=False).shape == (size, size)
    # the shade is the mean attention, in the same row order as the tile, kept above the 90th percentile
    mean = state.attention(5).mean
    shaded = shade.dimension_values(2, flat=False)
    kept = np.isfinite(shaded)
    np.testing.assert_allclose(shaded[kept], mean[kept], rtol=1e-6)
    assert mean[kept].min() >= np.percentile(mean, 90) - 1e-9 > mean[~kept].max() - 1e-9
    assert 0.05 <= kept.mean() <= 0.3  # patch blocks tie at the threshold
    assert len(outline.data) >= 1
    assert "3 heads" in note.object and "90th percentile" in note.object
    assert "vit_tiny/16" in note.object
    title = hv.render(element).title.text  # the overlay keeps the tile's title
    assert title.startswith("Tile 5") and "mJy/beam" in title
    # once loaded, each head is a choice; a lower percentile shades more
    assert view.param.attention.objects == ["off", "mean", "head 0", "head 1", "head 2"]
    view.param.update(attention="head 2", attention_percentile=50.0)
    shaded2 = view.attention_layer(5).get(0).dimension_values(2, flat=False)
    assert np.isfinite(shaded2).mean() > 0.4
    np.testing.assert_allclose(shaded2[np.isfinite(shaded2)], state.attention(5).maps[2][np.isfinite(shaded2)])


def test_attention_outline_sits_on_the_attended_patch(state, vit_assets, monkeypatch):
    """A made-up map whose attention is all in one 32 x 64 px block at the tile's bottom edge (rows 0-31)."""
    import numpy as np

    from radioexplore.embed.attention import TileAttention

    row = state.tile_row(6)
    x0, y0, size = int(row["x0"]), int(row["y0"]), int(row["size"])
    maps = np.full((2, size, size), 0.001, dtype=np.float32)
    maps[:, :32, 32:96] = 0.5  # first rows of the tile: y0..y0+31; columns x0+32..x0+95 (12.5 %)
    fake = TileAttention(6, np.zeros((size, size)), maps, "fake.pt", None)
    monkeypatch.setattr(state, "attention", lambda tile_id: fake)
    view = TileView(state=state, attention="mean", attention_percentile=90.0)
    layer = view.attention_layer(6)
    shade, outline = layer.values()
    assert np.isfinite(shade[x0 + 80, y0 + 10]) and np.isnan(shade[x0 + 80, y0 + size - 10])
    xs = np.concatenate([p["x"] for p in outline.data])
    ys = np.concatenate([p["y"] for p in outline.data])
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    assert x0 + 31 <= xs.min() < x0 + 33 and x0 + 94 < xs.max() <= x0 + 96
    assert y0 - 1 <= ys.min() and y0 + 30 < ys.max() <= y0 + 32


def test_without_a_vit_checkpoint_the_overlay_says_why(state, tmp_path, monkeypatch):
    monkeypatch.setenv("RADIOEXPLORE_ASSETS", str(tmp_path / "none"))  # no shipped checkpoint
    monkeypatch.setattr(type(state.run), "stage_config", lambda *a, **k: {})  # and the embedding names none
    state.selected_tile = 2
    view = TileView(state=state, attention="mean")
    element, note = view.figure(2)
    assert isinstance(element, hv.Image)  # the tile is still shown
    assert isinstance(note, pn.pane.Alert) and "No attention overlay" in note.object
    assert "checkpoint" in note.object
    pane = view._figure_pane()
    assert any(isinstance(o, pn.pane.Alert) for o in pane.objects)


# -- on-demand linear probes (issue 6) --------------------------------------------------------------
@pytest.fixture
def two_embedding_run(tiny_run, tmp_path):
    """A copy of tiny_run with a second embedding set (pixel noise) and an empty label store."""
    import shutil

    import numpy as np

    from radioexplore.run.atomic import write_npy

    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*"))
    n = len(run.read_tiles())
    write_npy(np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32), run.embeddings("noise"))
    return run


def test_probe_regresses_the_source_count_on_the_right_rows(state):
    import numpy as np

    from app.views.probe import ProbeView, result_table
    from radioexplore.evaluation.probes import linear_probe

    view = ProbeView(state=state)
    assert view.target == "n_sources" and view.embeddings == ["vit"]
    assert (view.pca_dims, view.folds) == (100, 5)  # seed 000
    assert "field" in view.param.target.objects and "x" not in view.param.target.objects
    assert "score" not in view.param.target.objects  # computed from the embedding itself
    view.run()
    table = result_table(view.results)
    assert list(table["metric"]) == ["mse", "r2"] and list(table["embedding"]) == ["vit", "vit"]
    assert np.isfinite(table["value"]).all() and (table["tiles"] == 64).all() and (table["folds"] == 5).all()
    tiles = state.tiles()
    direct = linear_probe(
        state.run.read_embeddings("vit")[tiles["tile_id"].to_numpy()],
        tiles["n_sources"].astype(float).to_numpy(),
        "regression",
        pca_dims=100,
        folds=5,
    )
    assert table["value"].iloc[0] == pytest.approx(direct.metrics["mse"])
    assert table["±"].iloc[0] == pytest.approx(np.std(direct.per_fold["mse"]))
    (scatter,) = view.plots()
    points = scatter.get(0)
    assert isinstance(points, hv.Scatter) and len(points) == 64
    assert "regression of 'n_sources' on 64 tiles" in view.message
    pane = view._results_pane()
    assert isinstance(pane.objects[1], pn.widgets.Tabulator) and len(pane.objects[1].value) == 2


def test_probe_on_a_categorical_column_gives_a_confusion_matrix(state):
    import asyncio

    from app.views.probe import ProbeView, probe_task

    assert probe_task(state.tiles()["dqf"], "dqf") == "classification"
    assert probe_task(state.tiles()["n_sources"], "n_sources") == "regression"
    view = ProbeView(state=state, target="field")
    seen = []
    compute = view.compute
    view.compute = lambda *a: seen.append(view.running) or compute(*a)
    asyncio.run(view.run_async())  # what the Run button does: the probe in a worker thread
    assert seen == [True] and not view.running  # the spinner shows while it runs
    res = view.results["vit"]
    assert res.task == "classification" and res.class_names == sorted(state.tiles()["field"].unique())
    assert res.confusion.shape == (4, 4) and res.confusion.sum() == 64
    (heatmap,) = view.plots()
    heat = heatmap.get(0)
    assert isinstance(heat, hv.HeatMap) and heat.dimension_values("tiles").sum() == 64
    assert "confusion" in hv.render(heatmap).title.text
    from app.views.probe import result_table

    assert list(result_table(view.results)["metric"]) == ["accuracy", "error", "macro_f1"]


def test_probe_compares_embedding_sets_and_label_store_targets(two_embedding_run):
    import numpy as np

    from app.views.probe import ProbeView, result_table

    state = ExplorerState(two_embedding_run, who="probe-test")
    view = ProbeView(state=state, target="field", embeddings=["vit", "noise"])
    view.run()
    table = result_table(view.results)
    assert set(table["embedding"]) == {"vit", "noise"} and len(view.plots()) == 2
    assert (table.loc[table["embedding"] == "noise", "PCA dims"] == 16).all()  # capped by the 16 features
    # the astronomer's labels become targets once there are some
    assert "user_labels" not in view.param.target.objects
    for t in range(12):
        state.labels.add(t, labels=["COMPACT" if t % 2 else "EXTENDED"], interest=1 + t % 5)
    state.label_version += 1
    assert {"user_labels", "user_interest"} <= set(view.param.target.objects)
    view.target = "user_labels"
    view.run()
    res = view.results["vit"]
    assert res.n_samples == 12 and res.class_names == ["COMPACT", "EXTENDED"]  # unlabelled tiles left out
    view.target = "user_interest"
    view.run()
    assert view.results["vit"].task == "regression" and view.results["vit"].n_samples == 12
    assert np.isfinite(view.results["vit"].predicted).all()


def test_probe_says_why_it_cannot_run(state):
    import pandas as pd

    from app.views.probe import ProbeInputError, ProbeView, probe_target

    view = ProbeView(state=state, target="field", task="regression")
    view.run()
    assert view.results == {} and "Cannot probe" in view.message and "numeric value of 'field'" in view.message
    view.param.update(task="auto", embeddings=[])
    view.run()
    assert "at least one embedding" in view.message
    frame = pd.DataFrame({"tile_id": range(7), "label": ["a", "a", "a", "", None, "b", "unlabelled"]})
    with pytest.raises(ProbeInputError, match="at least two classes"):
        probe_target(frame, "label")
    frame["label"] = ["a", "a", "b", "b", "c", "", None]
    target = probe_target(frame, "label")
    assert list(target.rows) == [0, 1, 2, 3] and "single tile: c" in target.notes[0]
    frame["value"] = [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0]
    with pytest.raises(ProbeInputError, match="6 tiles .* needs at least 10"):
        probe_target(frame, "value", folds=5)


def test_dashboard_has_a_probe_tab(tiny_run):
    hv.extension("bokeh")
    page = build_dashboard(tiny_run)
    tabs = page.main[0]
    assert [t.name for t in tabs] == ["Explore", "Review queue", "Find similar", "Export", "Probe"]


def test_neighbours_slider_refills_the_open_tiles_neighbours(tiny_run):
    """The sidebar's N-neighbours slider changes the open tile's neighbour cards in place (issue 23)."""
    hv.extension("bokeh")
    page = build_dashboard(tiny_run)
    controls = page.sidebar[-1]
    state = controls.object
    (slider,) = [w for w in controls.select(pn.widgets.IntSlider) if w.name == "N neighbours"]
    state.selected_tile = 4
    holder = page.main[0][0][1][1]  # Explore tab, right column, the live tile view
    layout = holder.objects[0]
    grid = layout.objects[-1]
    assert layout.objects[0].object == "## Tile 4" and len(grid.objects) == 8
    image = layout.select(pn.pane.HoloViews)[0]
    for n in (3, 12, 5):
        slider.value = n
        assert state.n_neighbours == n
        assert len(grid.objects) == n
        assert layout.objects[-2].object.startswith(f"#### {n} nearest neighbours")
    assert holder.objects[0] is layout and layout.select(pn.pane.HoloViews)[0] is image  # changed in place
    state.tab = "Review queue"  # hidden: put off until Explore shows again
    slider.value = 2
    assert len(grid.objects) == 5
    state.tab = "Explore"
    assert len(grid.objects) == 2


def test_mark_labelled_tiles_checkbox_refreshes_the_open_tiles_neighbours(tiny_run_copy):
    """The sidebar's "Mark labelled tiles" checkbox shows and hides the label marks of the open tile's
    neighbour cards in place (issue 23). It labels a tile, so it works on a copy of the shared run."""
    hv.extension("bokeh")
    page = build_dashboard(tiny_run_copy)
    controls = page.sidebar[-1]
    state = controls.object
    (checkbox,) = [w for w in controls.select(pn.widgets.Checkbox) if w.name == "Mark labelled tiles"]
    state.selected_tile = 4
    holder = page.main[0][0][1][1]  # Explore tab, right column, the live tile view
    layout = holder.objects[0]
    grid = layout.objects[-1]
    neighbour = int(state.neighbours(4)["tile_id"].iloc[0])
    state.labels.add(neighbour, labels=["PECULIAR"], interest=5)
    state.label_version += 1
    state.selected_tile = 5
    state.selected_tile = 4  # opened again: its first card carries the new label
    (card,) = [o for o in grid.objects if "labelled" in o.css_classes]
    assert card.objects[1].visible and "PECULIAR" in card.objects[1].object
    image = layout.select(pn.pane.HoloViews)[0]
    checkbox.value = False
    assert state.show_marks is False
    assert not card.objects[1].visible and all("labelled" not in o.css_classes for o in grid.objects)
    checkbox.value = True
    assert card.objects[1].visible and "labelled" in card.css_classes
    assert holder.objects[0] is layout and layout.select(pn.pane.HoloViews)[0] is image  # changed in place
    state.tab = "Review queue"  # hidden: put off until Explore shows again
    checkbox.value = False
    assert card.objects[1].visible
    state.tab = "Explore"
    assert not card.objects[1].visible


def test_tile_image_shows_it_is_loading_while_a_figure_is_computed(state):
    """The image column is ``loading`` while a new tile or new settings are drawn, and not after,
    also when drawing fails; the layout and its column are kept (issue 23)."""
    view = TileView(state=state)
    state.selected_tile = 2
    layout = view.view()
    column = view._figure
    assert column.loading is False
    seen = []
    compose = view._composed

    def spying(tile_id):
        seen.append((tile_id, column.loading))
        return compose(tile_id)

    view._composed = spying
    state.selected_tile = 6  # another tile
    assert view.view() is layout and view._figure is column
    view.stretch = "linear"  # another setting: a new figure in the same column
    assert seen == [(6, True), (6, True)] and column.loading is False
    assert layout.objects[0].object == "## Tile 6"

    def failing(tile_id):
        raise RuntimeError("no pixels")

    view._composed = failing
    with pytest.raises(RuntimeError, match="no pixels"):
        view.contours = True
    assert column.loading is False
