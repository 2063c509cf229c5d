"""A large synthetic run through index, map and ranking, served by the app: the browser pans the
rasterised map and clicks a point (issue 7's acceptance).

CI runs it at 60,000 tiles of 32 dimensions (above the sizes where the index turns approximate and the
map rasterised); the acceptance size is set by environment variables:

    RADIOEXPLORE_SCALE_TILES=1000000 RADIOEXPLORE_SCALE_DIM=384 RADIOEXPLORE_SCALE_SAMPLE=100000 \\
        .venv/bin/python -m pytest tests/test_scale_browser.py -s

Stage times are printed (``-s``), not asserted.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.rank import rank_run
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.synthetic import SyntheticConfig, make_synthetic_run
from radioexplore.space.index import index_run
from radioexplore.space.maps import MapConfig, map_run
from tests.browser import browser_page, data_to_screen, plot_view, require_browser, served_app, wait_for_plot

pytestmark = pytest.mark.browser

TILES = int(os.environ.get("RADIOEXPLORE_SCALE_TILES", 60_000))
DIM = int(os.environ.get("RADIOEXPLORE_SCALE_DIM", 32))
SAMPLE = int(os.environ.get("RADIOEXPLORE_SCALE_SAMPLE", 5_000))
MAP_TITLE = "coloured by"


@pytest.fixture(scope="module")
def large_run(tmp_path_factory) -> RunDir:
    run = RunDir(tmp_path_factory.mktemp("large") / "run")
    stages = {
        "synthetic run": lambda: make_synthetic_run(run, SyntheticConfig(tiles=TILES, dim=DIM, fields=50)),
        "index": lambda: index_run(run, "synthetic"),
        "map": lambda: map_run(
            run, "synthetic", MapConfig(method="umap", sample_above=SAMPLE, sample_size=SAMPLE), progress=False
        ),
        "rank": lambda: rank_run(run, "synthetic", RankConfig()),
    }
    for name, stage in stages.items():
        t0 = time.perf_counter()
        stage()
        print(f"{TILES} x {DIM}: {name} in {time.perf_counter() - t0:.1f} s")
    return run


def test_large_run_is_built_column_wise(large_run):
    meta = large_run.stage_config("map", "synthetic.umap")
    assert meta["n"] == TILES and meta["fitted_on"] == SAMPLE and meta["placed_by"] == "neighbours"
    assert large_run.stage_config("index", "synthetic")["factory_used"].startswith("IVF")
    xy = large_run.read_map("synthetic", "umap")[["x", "y"]].to_numpy()
    assert len(xy) == TILES and np.isfinite(xy).all()
    assert len(large_run.read_scores("synthetic")) == TILES


def test_browser_pans_the_large_map_and_clicks_a_point(large_run):
    require_browser()
    m = large_run.read_map("synthetic", "umap").set_index("tile_id")
    span = (m["x"].max() - m["x"].min(), m["y"].max() - m["y"].min())
    with served_app("--run", str(large_run.root), timeout=600) as url, browser_page() as page:
        t0 = time.perf_counter()
        page.goto(url)
        page.get_by_text("Click a point on the map").first.wait_for(timeout=300_000)
        wait_for_plot(page, MAP_TITLE, timeout=300)
        print(f"{TILES} tiles: map on screen {time.perf_counter() - t0:.1f} s after the page was asked for")
        before = plot_view(page, MAP_TITLE)
        # the pan tool is the map's active drag tool
        cx, cy = before["left"] + before["width"] / 2, before["top"] + before["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx - before["width"] / 4, cy + before["height"] / 6, steps=8)
        page.mouse.up()
        deadline = time.monotonic() + 30
        while (after := plot_view(page, MAP_TITLE))["x0"] == before["x0"] and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        # dragged to the left and down: the view moved right and up in data units
        assert after["x0"] > before["x0"] and after["y0"] > before["y0"]
        page.wait_for_timeout(2000)  # the rasterised image follows the new range from the server
        # click the tile drawn nearest the centre of the panned view
        centre = np.array([(after["x0"] + after["x1"]) / 2, (after["y0"] + after["y1"]) / 2])
        target = int(np.argmin(np.hypot(*((m[["x", "y"]].to_numpy() - centre) / span).T)))
        tx, ty = float(m["x"].iloc[target]), float(m["y"].iloc[target])
        page.mouse.click(*data_to_screen(page, MAP_TITLE, tx, ty))
        heading = page.locator(".tile-title h2").first
        heading.wait_for(timeout=120_000)
        clicked = int(heading.inner_text().split()[1])
        # the click landed on the target or on a tile drawn at the same spot
        assert abs(m.loc[clicked, "x"] - tx) < 0.02 * span[0] and abs(m.loc[clicked, "y"] - ty) < 0.02 * span[1]
        page.get_by_text("nearest neighbours").first.wait_for(timeout=120_000)
