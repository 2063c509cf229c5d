"""The radio image viewer (issue 23): the tile view's sky readout, stretches, contours, beam, scale
bar and catalogue, and the field view; first as objects, then served in headless Chromium."""

import html
import re
import shutil

import holoviews as hv
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from app.state import ExplorerState
from app.views.field import FieldView
from app.views.tile import UNITS, TileView, describe

RADEC = re.compile(r"\d{2}h\d{2}m[\d.]+s [+-]\d{2}d\d{2}m[\d.]+s")


@pytest.fixture
def state(tiny_run):
    hv.extension("bokeh")
    return ExplorerState(tiny_run)


def _tile_with_sources(state) -> int:
    tiles = state.tiles()
    return int(tiles.sort_values("n_sources", ascending=False)["tile_id"].iloc[0])


def _palette(img: hv.Image) -> list:
    return list(img.opts.get().kwargs["cmap"])


def test_units_are_mjy_per_beam_everywhere(state):
    view = TileView(state=state)
    row = state.tile_row(3)
    assert UNITS[0] == "sky (mJy/beam)"
    assert f"{row['noise_rms'] * 1e3:.3g} mJy/beam" in describe(row)
    img = view.image(3)
    assert img.vdims[0].name == "mJy/beam"
    snr = view.image(3, units=UNITS[1])
    assert f"σ = {row['noise_rms'] * 1e3:.3g} mJy/beam" in snr.opts.get().kwargs["title"]
    np.testing.assert_allclose(snr.dimension_values(2), img.dimension_values(2) / (row["noise_rms"] * 1e3), rtol=1e-4)


def test_stretch_presets_change_the_colours_not_the_values(state):
    view = TileView(state=state)
    noise_mjy = float(state.tile_row(4)["noise_rms"]) * 1e3
    seen = {}
    for name in ("linear", "asinh", "log", "zscale", "percentile"):
        view.stretch = name
        img = view.image(4)
        seen[name] = (_palette(img), img.opts.get().kwargs["clim"])
        np.testing.assert_allclose(img.dimension_values(2, flat=False), state.sky_pixels(4)[0] * 1e3, rtol=1e-6)
    assert seen["linear"][1] == pytest.approx((-3 * noise_mjy, 50 * noise_mjy))
    assert seen["log"][1] == seen["linear"][1] and seen["log"][0] != seen["linear"][0]
    assert seen["asinh"][0] != seen["linear"][0] and seen["zscale"][0] == seen["linear"][0]
    assert seen["zscale"][1] != seen["percentile"][1]
    view.param.update(stretch="linear", min_sigma=-1.0, max_sigma=200.0)
    assert view.image(4).opts.get().kwargs["clim"] == pytest.approx((-noise_mjy, 200 * noise_mjy))
    view.param.update(stretch="percentile", low_percentile=10.0, high_percentile=90.0)
    lo, hi = view.image(4).opts.get().kwargs["clim"]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(state.sky_pixels(4)[0] * 1e3, [10, 90])), rel=1e-4)


def test_contours_beam_scale_bar_and_catalogue_are_drawn(state):
    tile = _tile_with_sources(state)
    state.selected_tile = tile
    view = TileView(state=state)
    img = view.image(tile)
    kinds = [type(e).__name__ for e in view.decorations(tile, img)]
    assert "Contours" not in kinds and "Ellipse" in kinds and "Text" in kinds  # beam and scale bar
    assert kinds.count("Path") == 2  # the catalogue's components and the scale bar
    comps = view.components(tile)
    assert len(comps) == int(state.tile_row(tile)["n_sources"])
    view.contours = True
    contours = next(e for e in view.decorations(tile, img) if type(e).__name__ == "Contours")
    noise_mjy = float(state.tile_row(tile)["noise_rms"]) * 1e3
    values = contours.dimension_values("mJy/beam")
    levels = sorted(set(values[np.isfinite(values)]))  # NaNs separate the paths; a NaN in a set sorts anywhere
    assert levels[0] == pytest.approx(3 * noise_mjy, rel=1e-4) and levels[1] == pytest.approx(5 * noise_mjy, rel=1e-4)
    assert "contours at 3, 5, 10" in view.caption(tile, img)
    view.contour_levels = "5, 10, 20, …"
    assert "contours at 5, 10" in view.caption(tile, img)
    pane = view._figure_pane()
    assert any("radec-readout" in o.css_classes for o in pane.objects)


def test_a_tile_without_contours_keeps_the_figure(state):
    """With contours on, a tile whose peak is below the first level draws an empty contour layer, so
    the next tile is new data in the same figure, not a new one (issue 23: click to tile)."""
    tile = _tile_with_sources(state)
    other = next(t for t in range(len(state.tiles())) if t != tile)
    state.selected_tile = tile
    view = TileView(state=state)
    view.view()
    view.contours = True
    pipe = view._pipe
    (lines,) = [e for e in pipe.data if type(e).__name__ == "Contours"]
    assert len(lines.split()) > 0  # the bright tile has contours
    noise = view.noise
    view.noise = lambda t: noise(t) * 1e6 if t == other else noise(t)  # its peak far below 3 sigma
    state.selected_tile = other
    view.view()
    assert view._pipe is pipe  # the same figure, new data
    (lines,) = [e for e in pipe.data if type(e).__name__ == "Contours"]
    assert len(lines) == 0 and lines.vdims == view.image(other).vdims
    assert "contours at none" in view._caption.object


def test_readout_gives_the_sky_position_under_the_cursor(state):
    view = TileView(state=state)
    row = state.tile_row(6)
    cx, cy = row["x0"] + (row["size"] - 1) / 2, row["y0"] + (row["size"] - 1) / 2
    text = html.unescape(view.readout(6, cx, cy))  # Markdown character references, as the browser shows it
    pos = SkyCoord(RADEC.search(text).group(0), unit=("hourangle", "deg"))
    assert pos.separation(SkyCoord(row["ra"], row["dec"], unit="deg")).arcsec < 0.1  # ingest's tile centre
    assert "mJy/beam" in text and "S/N" in text
    assert "Move the cursor" in view.readout(6, None, None)


def test_field_view_marks_tiles_and_a_click_opens_the_tile_under_it(tiny_run, tmp_path):
    from radioexplore.run.rundir import RunDir

    hv.extension("bokeh")
    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*"))
    state = ExplorerState(run)
    state.labels.add(2, ["PECULIAR"], 4)
    state.label_version += 1
    state.selected_tile = 2
    view = FieldView(state=state)
    row = state.tile_row(2)
    assert view.field == str(row["field"])
    img = view.field_image()
    image = state.sky_pixels(2)[1]
    left, bottom, right, top = img.bounds.lbrt()
    assert left == -0.5 and right >= image.nx - 0.5 and top >= image.ny - 0.5
    tiles, top_boxes, labelled, chosen = view.marks(2).values()
    assert len(tiles) == len(view.field_tiles()) and len(labelled) == 1 and len(chosen) == 1
    other = view.field_tiles().query("tile_id != 2").iloc[-1]
    view._on_tap(other["x0"] + other["size"] / 2, other["y0"] + other["size"] / 2)
    assert state.selected_tile == int(other["tile_id"])
    near = view.neighbourhood(int(other["tile_id"]))
    nimg = near.get(0)
    assert nimg.dimension_values(2, flat=False).shape == (3 * other["size"], 3 * other["size"])
    assert nimg.bounds.lbrt()[0] == other["x0"] - other["size"] - 0.5
    view._on_tap_near(other["x0"] - 1.0, other["y0"] + 1.0)  # just left of it: its western neighbour, if any
    left_tile = view.field_tiles().query("x0 < @other.x0 and y0 == @other.y0")
    if len(left_tile):
        assert state.selected_tile == int(left_tile.sort_values("x0")["tile_id"].iloc[-1])


# -- in the browser ---------------------------------------------------------------------------------
_TILE_PLOT_JS = """(needle) => {
  const out = [];
  const visit = (v) => {
    if (!v) return;
    if (v.frame && v.model && v.model.title && v.model.title.text && v.model.title.text.startsWith(needle)) {
      const bb = v.frame.bbox, el = v.canvas_view.el.getBoundingClientRect();
      if (bb.width > 0 && el.width > 0) {
        const glyphs = v.model.renderers.map((r) => r.glyph ? r.glyph.type : r.type);
        const image = v.model.renderers.find((r) => r.glyph && r.glyph.type === "Image");
        out.push({x0: v.model.x_range.start, x1: v.model.x_range.end, y0: v.model.y_range.start,
                  y1: v.model.y_range.end, left: el.left + bb.left, top: el.top + bb.top,
                  width: bb.width, height: bb.height, lines: glyphs.filter((g) => g === "MultiLine").length,
                  palette: image ? image.glyph.color_mapper.palette.slice(0, 200).join() : ""});
      }
    }
    if (v.child_views) for (const c of v.child_views) visit(c);
  };
  for (const v of Object.values(Bokeh.index)) visit(v);
  return out;
}"""


def _tile_plot(page, needle: str, timeout: float = 120.0) -> dict:
    for _ in range(int(timeout * 4)):
        found = page.evaluate(_TILE_PLOT_JS, needle)
        if found:
            return found[0]
        page.wait_for_timeout(250)
    raise AssertionError(f"no visible plot titled {needle!r}")


@pytest.mark.browser
def test_viewer_readout_stretch_contours_and_field_click(tiny_run):
    from tests.browser import browser_page, data_to_screen, require_browser, served_app, wait_for_plot

    require_browser()
    tiles = tiny_run.read_map("vit", "umap")
    target = tiles.iloc[len(tiles) // 3]
    with served_app("--run", str(tiny_run.root)) as url, browser_page() as page:
        # as tests.browser.click_map_point, with room for a busy machine (the page draws seven views)
        page.goto(url)
        page.get_by_text("Click a point on the map").first.wait_for(timeout=120_000)
        wait_for_plot(page, "coloured by field", timeout=120)
        page.mouse.click(*data_to_screen(page, "coloured by field", float(target["x"]), float(target["y"])))
        heading = page.locator(".tile-title h2").first
        heading.wait_for(timeout=120_000)
        clicked = int(heading.inner_text().split()[1])
        needle = f"Tile {clicked} ·"
        g = _tile_plot(page, needle)
        row = ExplorerState(tiny_run).tile_row(clicked)
        # the cursor over the tile's centre: the readout gives its sky position
        cx, cy = row["x0"] + row["size"] / 2, row["y0"] + row["size"] / 2
        sx = g["left"] + (cx - g["x0"]) / (g["x1"] - g["x0"]) * g["width"]
        sy = g["top"] + (g["y1"] - cy) / (g["y1"] - g["y0"]) * g["height"]
        page.mouse.move(sx - 5, sy - 5)
        page.mouse.move(sx, sy, steps=4)
        # (Panel draws panes in shadow roots: text locators and CSS locators reach into them, innerText does not)
        readout = page.locator(".radec-readout").get_by_text(re.compile(r"RA/Dec \d\dh")).first
        readout.wait_for(timeout=90_000)
        pos = SkyCoord(RADEC.search(readout.inner_text()).group(0), unit=("hourangle", "deg"))
        from radioexplore.io.fits import read_image

        pixel_arcsec = read_image(row["file"]).pixel_arcsec
        sep = pos.separation(SkyCoord(row["ra"], row["dec"], unit="deg")).arcsec
        assert sep < 0.1 * row["size"] * pixel_arcsec, (readout.inner_text(), sep)

        # another stretch: the colour map's palette changes
        before = g["palette"]
        page.locator(".stretch-select select").first.select_option("zscale")
        page.get_by_text("Stretch zscale").first.wait_for(timeout=90_000)
        after = _tile_plot(page, needle)
        assert after["palette"] and after["palette"] != before
        # contours on: more line glyphs drawn over the tile, and the levels are named
        page.locator(".contour-toggle input").first.check()
        page.get_by_text("contours at 3, 5").first.wait_for(timeout=90_000)
        page.wait_for_timeout(500)
        assert _tile_plot(page, needle)["lines"] > after["lines"]

        # the field view (a card of the Explore tab): click another tile's box, it opens
        page.locator(".field-image").first.scroll_into_view_if_needed()
        field_title = f"Field {row['field']}"
        _tile_plot(page, field_title)
        state = ExplorerState(tiny_run)
        same = state.tiles().query("field == @row.field and tile_id != @clicked")
        other = same.iloc[len(same) // 2]
        page.mouse.click(
            *data_to_screen(page, field_title, other["x0"] + other["size"] / 2, other["y0"] + other["size"] / 2)
        )
        page.get_by_text(f"Tile {int(other['tile_id'])} open").first.wait_for(timeout=90_000)
        # and the tile view follows (it redraws after the field's heading)
        page.locator(".tile-title h2", has_text=f"Tile {int(other['tile_id'])}").first.wait_for(timeout=90_000)
        assert page.locator(".tile-title h2").first.inner_text().strip() == f"Tile {int(other['tile_id'])}"
