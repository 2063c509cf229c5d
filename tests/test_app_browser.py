"""The served app in headless Chromium: it shows the map, and a click on a point opens that tile."""

import pytest

from tests.browser import browser_page, data_to_screen, require_browser, served_app, wait_for_plot

pytestmark = pytest.mark.browser


def test_click_on_map_point_opens_the_tile(tiny_run):
    require_browser()
    tiles = tiny_run.read_map("vit", "umap")
    target = tiles.iloc[len(tiles) // 2]
    with served_app("--run", str(tiny_run.root)) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("Click a point on the map").first.wait_for(timeout=60_000)
        wait_for_plot(page, "coloured by field")
        x, y = data_to_screen(page, "coloured by field", float(target["x"]), float(target["y"]))
        page.mouse.click(x, y)
        title = page.locator(".tile-title h2").first
        title.wait_for(timeout=30_000)
        text = title.inner_text()
        assert text.startswith("Tile ")
        clicked = int(text.split()[1])
        # the click landed on the target or on a tile drawn on top of it at the same spot
        m = tiles.set_index("tile_id")
        assert abs(m.loc[clicked, "x"] - target["x"]) < 0.05 * (m["x"].max() - m["x"].min())
        assert abs(m.loc[clicked, "y"] - target["y"]) < 0.05 * (m["y"].max() - m["y"].min())
        page.get_by_text("nearest neighbours").first.wait_for(timeout=30_000)
        assert page.locator(".neighbour").count() == 8


def test_missing_run_page_names_the_command(tmp_path):
    require_browser()
    with served_app("--run", str(tmp_path / "nothing")) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("This run directory is not ready").first.wait_for(timeout=60_000)
        assert page.get_by_text("radioexplore demo --run").count() >= 1
