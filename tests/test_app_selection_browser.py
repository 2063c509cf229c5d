"""The selection workbench and the layout in headless Chromium (issue 23, items 4 and 5): at 1280x800
and 1920x1080 nothing runs off the page or out of the sidebar, and a box drawn on the map fills the
selection grid and a bulk label lands in the label store, one event per selected tile."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from tests.browser import browser_page, data_to_screen, plot_view, require_browser, served_app, wait_for_plot

pytestmark = pytest.mark.browser

MAP_TITLE = "coloured by"

#: JavaScript: widths of the page and the main area, and the sidebar's inputs (in shadow roots too)
#: against the sidebar's box.
LAYOUT_JS = """() => {
  const sidebar = document.querySelector('#sidebar'), main = document.querySelector('#main');
  const s = sidebar.getBoundingClientRect();
  const inputs = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) visit(el.shadowRoot);
      if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(el.tagName)) {
        const b = el.getBoundingClientRect();
        if (b.width > 0) inputs.push({tag: el.tagName, left: b.left, right: b.right});
      }
    }
  };
  visit(sidebar);
  return {pageWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          mainScroll: main.scrollWidth, mainClient: main.clientWidth,
          sidebarLeft: s.left, sidebarRight: s.right, inputs};
}"""


@pytest.fixture
def run(tiny_run, tmp_path):
    from radioexplore.run.rundir import RunDir

    dest = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, dest.root, ignore=shutil.ignore_patterns("labels.sqlite*", "active"))
    return dest


def check_layout(page, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(1500)  # the layout settles
    got = page.evaluate(LAYOUT_JS)
    assert got["pageWidth"] <= got["innerWidth"], f"{width}x{height}: the page scrolls sideways: {got}"
    assert got["mainScroll"] <= got["mainClient"] + 1, f"{width}x{height}: the main area overflows: {got}"
    assert len(got["inputs"]) >= 4, got
    for box in got["inputs"]:
        assert got["sidebarLeft"] - 1 <= box["left"] and box["right"] <= got["sidebarRight"] + 1, (width, box, got)


def box_around(tiles: pd.DataFrame, tile_id: int, fraction: float) -> tuple[float, float, float, float]:
    """A box of ``fraction`` of the map's extent centred on ``tile_id``."""
    row = tiles.set_index("tile_id").loc[tile_id]
    dx = fraction * (tiles["x"].max() - tiles["x"].min())
    dy = fraction * (tiles["y"].max() - tiles["y"].min())
    x, y = float(row["x"]), float(row["y"])
    return x - float(dx), y - float(dy), x + float(dx), y + float(dy)


def inside(tiles: pd.DataFrame, box: tuple[float, float, float, float]) -> set[int]:
    x0, y0, x1, y1 = box
    hit = tiles["x"].between(x0, x1) & tiles["y"].between(y0, y1)
    return set(tiles.loc[hit, "tile_id"].astype(int))


def test_layout_fits_and_a_box_selection_is_labelled_in_bulk(run):
    require_browser()
    from radioexplore.run.labels.store import LabelStore

    tiles = pd.read_parquet(run.map("vit", "umap"))
    box = box_around(tiles, int(tiles["tile_id"].iloc[0]), 0.2)
    with served_app("--run", str(run.root)) as url, browser_page(1280, 800) as page:
        page.goto(url + "?who=selection-test")
        page.get_by_text("Click a point on the map").first.wait_for(timeout=90_000)
        wait_for_plot(page, MAP_TITLE, timeout=90)
        first = tiles.iloc[0]
        page.mouse.click(*data_to_screen(page, MAP_TITLE, float(first["x"]), float(first["y"])))  # open a tile:
        page.locator(".tile-title h2").first.wait_for(timeout=60_000)  # the widest view
        for size in ((1920, 1080), (1280, 800)):
            check_layout(page, *size)

        # draw a box with the map's box-select tool
        page.locator(".bk-tool-icon-box-select").first.click()
        (sx0, sy0), (sx1, sy1) = (data_to_screen(page, MAP_TITLE, x, y) for x, y in (box[:2], box[2:]))
        frame = plot_view(page, MAP_TITLE)
        assert frame["width"] > 0
        page.mouse.move(sx0, sy0)
        page.mouse.down()
        page.mouse.move((sx0 + sx1) / 2, (sy0 + sy1) / 2, steps=5)
        page.mouse.move(sx1, sy1, steps=5)
        page.mouse.up()
        count = page.get_by_text(re.compile(r"^\d+ tiles selected$")).first
        count.wait_for(timeout=60_000)
        n = int(count.inner_text().split()[0])
        # every tile well inside the box is selected, none well outside
        shrink = (box[2] - box[0]) * 0.02, (box[3] - box[1]) * 0.02
        surely = inside(tiles, (box[0] + shrink[0], box[1] + shrink[1], box[2] - shrink[0], box[3] - shrink[1]))
        maybe = inside(tiles, (box[0] - shrink[0], box[1] - shrink[1], box[2] + shrink[0], box[3] + shrink[1]))
        assert len(surely) <= n <= len(maybe) and n >= 1
        assert page.locator(".selection-thumb").count() == min(n, 48)
        print(f"\nthe box selected {n} tiles ({len(surely)} surely inside, {len(maybe)} at most)")

        # label them all PECULIAR with interest 4
        page.locator(".selection-interest").first.get_by_role("button", name="4", exact=True).click()
        page.locator(".selection-label button").first.click()
        page.get_by_text(f"Labelled {n} tiles PECULIAR, interest 4").first.wait_for(timeout=60_000)

    current = LabelStore.for_run(run).current()
    labelled = set(current["tile_id"].astype(int))
    assert len(current) == n and surely <= labelled <= maybe
    assert all("PECULIAR" in labs for labs in current["labels"]) and set(current["interest"]) == {4}
    assert len(LabelStore.for_run(run).events()) == n  # one event per tile
