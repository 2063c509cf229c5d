"""The app's side of the diffuse-emission segmentation (issue 22): the probability overlay on the tile
and field views, the map's diffuse colours and the R-threshold card, on a run with a made-up
``segments/`` folder (tests/segments_fixture.py), and the one line shown when a run has none."""

import re

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from app.state import ExplorerState
from app.text import md_text
from app.views.diffuse import DiffuseView, overlay_controls
from app.views.field import FieldView
from app.views.map import MapView
from app.views.tile import TileView, tile_bounds
from tests.segments_fixture import R_THRESHOLD, THRESHOLD, copy_run, write_segments

BLOB_TILE = 5


@pytest.fixture
def seg_run(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    write_segments(run, blob_tile=BLOB_TILE)
    return run


@pytest.fixture
def state(seg_run):
    hv.extension("bokeh")
    return ExplorerState(seg_run)


def _layers(element) -> list:
    return list(element.values()) if isinstance(element, hv.Overlay) else [element]


def _probability(layers: list) -> hv.Image:
    return next(e for e in layers if isinstance(e, hv.Image) and e.vdims[0].name == "probability")


def test_map_can_be_coloured_by_the_diffuse_columns(state):
    choices = state.param.colour_by.objects
    assert "diffuse_mean" in choices and "diffuse_area" in choices
    tiles = state.tiles()  # joined by tile_id, though segments/tiles.parquet lists them in another order
    assert tiles.loc[BLOB_TILE, "diffuse_mean"] == tiles["diffuse_mean"].max() > 0.05
    assert tiles.loc[BLOB_TILE, "diffuse_area"] > 0
    state.colour_by = "diffuse_mean"
    assert hv.render(MapView(state=state).plot().object) is not None


def test_threshold_comes_from_segment_json(state):
    assert state.diffuse_threshold == THRESHOLD and not state.diffuse_overlay
    assert DiffuseView(state=state).r_threshold == R_THRESHOLD


def test_tile_view_overlays_the_probability_on_the_tile_grid(state, seg_run):
    state.selected_tile = BLOB_TILE
    view = TileView(state=state)
    img = view.image(BLOB_TILE)
    assert not any(e.vdims and e.vdims[0].name == "probability" for e in view.decorations(BLOB_TILE, img))
    controls = overlay_controls(state, "tile-diffuse")
    assert isinstance(controls, pn.Row)  # toggle and slider, not the "no segmentation" line
    state.diffuse_overlay = True
    layers = view.decorations(BLOB_TILE, img)
    shade = _probability(layers)
    assert shade.bounds.lbrt() == img.bounds.lbrt() == tile_bounds(state.tile_row(BLOB_TILE))
    assert any(type(e).__name__ == "Contours" for e in layers)
    # the shade is the map's pixels over the tile, row 0 at y0 as the tile image, kept at p >= threshold
    row = state.tile_row(BLOB_TILE)
    x0, y0, size = int(row["x0"]), int(row["y0"]), int(row["size"])
    from astropy.io import fits

    full = fits.getdata(seg_run.root / "segments" / f"{row['field']}.fits")
    box = full[y0 : y0 + size, x0 : x0 + size]
    shaded = shade.dimension_values(2, flat=False)
    np.testing.assert_allclose(shaded, np.where(box >= THRESHOLD, box, np.nan))
    assert shade[x0 + size / 2, y0 + size / 2] == pytest.approx(0.9, abs=0.01)  # the blob's centre
    from app.views.tile import describe

    assert "| diffuse_mean |" in describe(row) and "| diffuse_area |" in describe(row)
    caption = view.caption(BLOB_TILE, img)
    assert f"{100 * (box >= THRESHOLD).mean():.1f}% of the tile" in caption
    # a higher threshold shades less
    state.diffuse_threshold = 0.8
    assert (
        np.isfinite(_probability(view.decorations(BLOB_TILE, img)).dimension_values(2)).sum()
        < np.isfinite(shaded).sum()
    )
    pane = view._figure_pane()
    tile_pane = next(o for o in pane.objects if isinstance(o, pn.pane.HoloViews))
    assert hv.render(tile_pane.object) is not None


def test_field_view_overlays_the_probability_and_reports_the_flagged_area(state):
    state.selected_tile = BLOB_TILE
    view = FieldView(state=state)
    assert isinstance(view.field_pane(), pn.pane.HoloViews)  # off: the field as before
    state.diffuse_overlay = True
    pane = view.field_pane()
    plot, note = pane.objects
    img = view.field_image()
    layer, text = view.diffuse_layer()
    assert text == note.object
    shade = _probability(list(layer.values()))
    assert shade.bounds.lbrt() == img.bounds.lbrt()
    assert shade.dimension_values(2, flat=False).shape == img.dimension_values(2, flat=False).shape
    from astropy.io import fits

    full = fits.getdata(state.run.root / "segments" / f"{view.field}.fits")
    assert f"over {100 * (full >= THRESHOLD).mean():.2f}% of the field" in note.object and "1:" in note.object
    assert hv.render(plot.object) is not None
    near = view.neighbourhood(BLOB_TILE)
    assert _probability(list(near.values())).bounds.lbrt() == near.get(0).bounds.lbrt()
    # a field of another size than its map: said, not drawn
    other = next(f for f in view.param.field.objects if f != view.field)
    seg = state.run.root / "segments" / f"{other}.fits"
    fits.PrimaryHDU(np.zeros((10, 12), np.float32)).writeto(seg, overwrite=True)
    view.field = other
    layer, text = view.diffuse_layer()
    assert layer is None and "12x10 px" in text and "radioexplore segment --run" in text


def test_field_view_rings_the_clusters_segment_scored(state):
    import pandas as pd

    row = state.tile_row(BLOB_TILE)
    cx, cy = row["x0"] + row["size"] / 2, row["y0"] + row["size"] / 2
    clusters = pd.DataFrame(
        {
            "name": ["halo", "quiet", "elsewhere"],
            "ra": 0.0,
            "dec": 0.0,
            "r_pix": [30.0, 20.0, 25.0],
            "R": [0.5, 0.001, 0.2],
            "detected": [True, False, True],
            "threshold": 0.015,
            "field": [row["field"], row["field"], "another"],
            "x": [cx, cx + 150.0, 10.0],
            "y": [cy, cy, 10.0],
        }
    )
    clusters.to_parquet(state.run.root / "segments" / "clusters.parquet")
    state.selected_tile = BLOB_TILE
    state.diffuse_overlay = True
    view = FieldView(state=state)
    layer, text = view.diffuse_layer()
    assert hv.render(view.field_pane().objects[0].object) is not None
    rings = [e for e in layer.values() if type(e) is hv.Path]  # (contours are paths too)
    detected, missed = rings
    assert len(detected.data) == 1 and len(missed.data) == 1
    ring = detected.split()[0]
    xs, ys = ring.dimension_values("x"), ring.dimension_values("y")
    assert np.hypot(xs - cx, ys - cy) == pytest.approx(np.full(len(xs), 30.0))
    labels = next(e for e in layer.values() if isinstance(e, hv.Labels))
    assert sorted(labels.dimension_values("text")) == ["halo R=0.5", "quiet R=0.001"]
    assert "2 cluster(s), 1 detected by segment" in text


def test_without_segments_the_controls_say_what_to_run(tiny_run):
    hv.extension("bokeh")
    state = ExplorerState(tiny_run)
    assert "diffuse_mean" not in state.param.colour_by.objects
    line = overlay_controls(state, "tile-diffuse")
    assert isinstance(line, pn.pane.Markdown)
    assert line.object.startswith("no segmentation in this run: run ") and "radioexplore segment --run" in line.object
    assert str(tiny_run.root) in line.object
    state.selected_tile = 3
    state.diffuse_overlay = True  # even switched on, the tile and field still draw
    view = TileView(state=state)
    assert "No diffuse-emission overlay: no probability map" in view.caption(3, view.image(3))
    assert view.diffuse_layer(3) is None
    assert DiffuseView(state=state).report().object.startswith("no segmentation in this run")
    assert FieldView(state=state).diffuse_layer()[0] is None


def test_r_threshold_card_scores_labels(state):
    card = DiffuseView(state=state)
    assert "Nothing to score yet" in card.report().object
    tiles = state.tiles()
    quiet = int(tiles.sort_values("diffuse_mean")["tile_id"].iloc[0])
    state.labels.add(BLOB_TILE, labels=["DIFFUSE-LARGE"])
    state.labels.add(quiet, labels=["COMPACT"])
    state.label_version += 1
    text = card.report().object
    assert "| 100% | 100% | 0% | 2 |" in text and "TP 1 · FP 0 · FN 0 · TN 1" in text
    assert "Missed" not in text and "False detections" not in text
    card.r_threshold = 0.99  # nothing detected: the diffuse tile is missed
    text = card.report().object
    assert "| 50% | – | 100% | 2 |" in text
    assert f"Missed: tile {BLOB_TILE} (R " in text and "False detections" not in text
    card.r_threshold = 0.0  # everything detected: the compact tile is a false detection
    assert f"False detections: tile {quiet} (R " in card.report().object
    # the flagged area per field follows the overlay's threshold
    field = str(state.tile_row(BLOB_TILE)["field"])
    from astropy.io import fits

    full = fits.getdata(state.run.root / "segments" / f"{field}.fits")
    assert f"| {md_text(field)} | {100 * (full >= THRESHOLD).mean():.2f}% |" in card.flagged().object
    state.diffuse_threshold = 0.95  # above the blob's peak
    assert f"| {md_text(field)} | 0.00% |" in card.flagged().object


# -- in the browser ---------------------------------------------------------------------------------
_GLYPHS_JS = """(needle) => {
  const out = [];
  const visit = (v) => {
    if (!v) return;
    if (v.frame && v.model && v.model.title && v.model.title.text && v.model.title.text.startsWith(needle)) {
      out.push(v.model.renderers.map((r) => r.glyph ? r.glyph.type : r.type));
    }
    if (v.child_views) for (const c of v.child_views) visit(c);
  };
  for (const v of Object.values(Bokeh.index)) visit(v);
  return out;
}"""


def _glyphs(page, needle: str, images: int, timeout: float = 120.0) -> list[str]:
    """The glyph types of the plot titled ``needle``, once it draws ``images`` Image glyphs."""
    seen: list = []
    for _ in range(int(timeout * 4)):
        seen = page.evaluate(_GLYPHS_JS, needle)
        if seen and seen[0].count("Image") == images:
            return seen[0]
        page.wait_for_timeout(250)
    raise AssertionError(f"plot {needle!r} has glyphs {seen}, not {images} images")


@pytest.mark.browser
def test_overlay_renders_in_the_tile_and_field_views(tiny_run, tmp_path):
    from tests.browser import browser_page, data_to_screen, require_browser, served_app, wait_for_plot

    require_browser()
    run = copy_run(tiny_run, tmp_path / "run")
    write_segments(run, blob_tile=BLOB_TILE)
    target = run.read_map("vit", "umap").set_index("tile_id").loc[BLOB_TILE]
    with served_app("--run", str(run.root)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("Click a point on the map").first.wait_for(timeout=120_000)
        wait_for_plot(page, "coloured by field", timeout=120)
        page.mouse.click(*data_to_screen(page, "coloured by field", float(target["x"]), float(target["y"])))
        heading = page.locator(".tile-title h2").first
        heading.wait_for(timeout=120_000)
        clicked = int(heading.inner_text().split()[1])
        row = ExplorerState(run).tile_row(clicked)
        tile_glyphs = _glyphs(page, f"Tile {clicked} ·", images=1)
        page.locator(".field-image").first.scroll_into_view_if_needed()
        _glyphs(page, f"Field {row['field']}", images=1)
        # switch the overlay on in the tile view: the shade and its outline draw over the tile and the field
        page.locator(".tile-diffuse input").first.check()
        page.get_by_text("Diffuse emission (U-Net): probability ≥ 0.4 over").first.wait_for(timeout=120_000)
        shown = _glyphs(page, f"Tile {clicked} ·", images=2)
        assert shown.count("MultiLine") >= tile_glyphs.count("MultiLine")
        page.get_by_text(re.compile(r"over [\d.]+% of the field")).first.wait_for(timeout=120_000)
        _glyphs(page, f"Field {row['field']}", images=2)
        # and off again
        page.locator(".tile-diffuse input").first.uncheck()
        _glyphs(page, f"Tile {clicked} ·", images=1)
