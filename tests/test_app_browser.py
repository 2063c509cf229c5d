"""The served app in headless Chromium: it shows the map, and a click on a point opens that tile."""

import numpy as np
import pytest

from tests.browser import (
    browser_page,
    click_map_point,
    data_to_screen,
    require_browser,
    served_app,
    wait_for_plot,
)

pytestmark = pytest.mark.browser


def test_click_on_map_point_opens_the_tile(tiny_run):
    require_browser()
    tiles = tiny_run.read_map("vit", "umap")
    target = tiles.iloc[len(tiles) // 2]
    with served_app("--run", str(tiny_run.root)) as url, browser_page() as page:
        text = click_map_point(page, url, float(target["x"]), float(target["y"]))
        assert text.startswith("Tile ")
        clicked = int(text.split()[1])
        # the click landed on the target or on a tile drawn on top of it at the same spot
        m = tiles.set_index("tile_id")
        assert abs(m.loc[clicked, "x"] - target["x"]) < 0.05 * (m["x"].max() - m["x"].min())
        assert abs(m.loc[clicked, "y"] - target["y"]) < 0.05 * (m["y"].max() - m["y"].min())
        page.get_by_text("nearest neighbours").first.wait_for(timeout=30_000)
        assert page.locator(".neighbour").count() == 8
        # a second click, on a tile of another field far away on the map, opens that tile; the parts
        # drawn after the tile (issue 23: its neighbours, the field view) follow it
        fields = tiny_run.read_tiles(columns=["field"])["field"].astype(str)
        others = tiles[fields.iloc[tiles["tile_id"]].to_numpy() != fields.iloc[clicked]]
        far = others.iloc[int(np.argmax(np.hypot(others["x"] - target["x"], others["y"] - target["y"])))]
        page.mouse.click(*data_to_screen(page, "coloured by field", float(far["x"]), float(far["y"])))
        now = int(_other_heading(page, text, timeout=60).split()[1])
        assert now != clicked
        assert abs(m.loc[now, "x"] - far["x"]) < 0.05 * (m["x"].max() - m["x"].min())
        assert abs(m.loc[now, "y"] - far["y"]) < 0.05 * (m["y"].max() - m["y"].min())
        page.locator(".field-selected", has_text=f"Tile {now} open").first.wait_for(timeout=60_000)
        page.get_by_text("nearest neighbours").first.wait_for(timeout=60_000)
        assert page.get_by_text("Finding the tiles most like this one").count() == 0
        assert page.locator(".neighbour").count() == 8


def _other_heading(page, before: str, timeout: float) -> str:
    """The tile view's heading once it is no longer ``before`` (the tile a click opened)."""
    heading = page.locator(".tile-title h2").first
    for _ in range(int(timeout * 10)):
        text = heading.inner_text()
        if text != before and text.startswith("Tile "):
            return text
        page.wait_for_timeout(100)
    raise AssertionError(f"the tile view still shows {before!r} {timeout} s after a click on another tile")


def test_missing_run_page_names_the_command(tmp_path):
    require_browser()
    with served_app("--run", str(tmp_path / "nothing")) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("This run directory is not ready").first.wait_for(timeout=60_000)
        assert page.get_by_text("radioexplore demo --run").count() >= 1


def test_label_from_the_queue_with_a_key_then_download_it(tiny_run, tmp_path):
    require_browser()
    import shutil

    import pandas as pd

    from radioexplore.run.labels.store import LabelStore
    from radioexplore.run.rundir import RunDir

    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*"))
    first = int(run.read_scores("vit").sort_values("rank")["tile_id"].iloc[0])
    with served_app("--run", str(run.root)) as url, browser_page() as page:
        page.goto(url + "?who=browser-test")
        page.get_by_text("Click a point on the map").first.wait_for(timeout=60_000)
        page.locator(".bk-tab", has_text="Review queue").first.click()
        page.locator(".queue-title h2").first.wait_for(timeout=30_000)
        assert f"tile {first}" in page.locator(".queue-title h2").first.inner_text()
        page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not an input
        page.keyboard.press("p")  # PECULIAR
        page.keyboard.press("5")  # interest 5, save and go to the next tile
        page.get_by_text(f"Saved tile {first}").first.wait_for(timeout=30_000)

        events = LabelStore.for_run(run).events()
        assert events["tile_id"].tolist() == [first]
        assert events["labels"].iloc[0] == ("PECULIAR",) and events["interest"].iloc[0] == 5
        assert events["who"].iloc[0] == "browser-test"

        page.locator(".bk-tab", has_text="Export").first.click()
        page.get_by_text("a label", exact=True).first.click()
        with page.expect_download(timeout=60_000) as download:
            page.locator(".export-download").first.click()
        path = tmp_path / "export.csv"
        download.value.save_as(path)
        table = pd.read_csv(path)
        assert table["tile_id"].tolist() == [first]
        assert "PECULIAR" in str(table["labels"].iloc[0])


@pytest.fixture(scope="module")
def scorpio_run(tmp_path_factory):
    """ScorpioS17Field.fits (ATCA, Jy/beam) through ingest, embed, index, map and rank, small and quick:
    sixteen 256 px tiles, a randomly initialised ViT, a PCA map. The demo ViT-tiny/8 shape is saved as
    the shipped checkpoint of a private assets folder, so the served app can draw attention too."""
    import torch

    from radioexplore.assets import DEMO_CHECKPOINT
    from radioexplore.cli import main
    from radioexplore.embed.embedding import FALLBACK_SPEC
    from radioexplore.models import build_backbone
    from radioexplore.models.checkpoint import save_backbone
    from radioexplore.run.rundir import RunDir
    from tests.conftest import REALDATA

    fits = REALDATA / "scorpio" / "ScorpioS17Field.fits"
    if not fits.is_file():
        pytest.skip(f"the real SCORPIO image {fits} is not there")
    base = tmp_path_factory.mktemp("scorpio-app")
    run = RunDir(base / "run")
    for args in (
        ["ingest", fits, "--run", run.root],
        ["embed", "--run", run.root, "--random-init", "--batch-size", "16"],
        ["index", "--run", run.root],
        ["map", "--run", run.root, "--method", "pca"],
        ["rank", "--run", run.root],
    ):
        assert main(["-q", *map(str, args)]) == 0, args
    torch.manual_seed(0)
    save_backbone(base / "assets" / DEMO_CHECKPOINT, build_backbone(FALLBACK_SPEC), FALLBACK_SPEC)
    return run, fits, base / "assets"


def test_real_scorpio_tile_opens_in_mjy_per_beam_with_its_beam(scorpio_run):
    require_browser()
    from radioexplore.io.fits import read_image
    from tests.browser import plot_titles

    run, fits, assets = scorpio_run
    beam = read_image(fits).beam
    beam_text = f"beam {beam.bmaj_arcsec:.1f}″×{beam.bmin_arcsec:.1f}″"
    tiles = run.read_map("vit", "pca")
    target = tiles.iloc[len(tiles) // 2]
    with (
        served_app("--run", str(run.root), env={"RADIOEXPLORE_ASSETS": str(assets)}) as url,
        browser_page() as page,
    ):
        clicked = click_map_point(page, url, float(target["x"]), float(target["y"])).split()[1]
        wait_for_plot(page, f"Tile {clicked} ·", timeout=30)
        # (the review queue's tab, hidden, draws its own tile plot: pick the clicked tile's)
        title = next(t for t in plot_titles(page) if t.startswith(f"Tile {clicked} ·"))
        assert "ScorpioS17Field" in title and "mJy/beam" in title and beam_text in title, title
        # the attention overlay of the (random) ViT draws over the tile, with what it shows
        page.locator(".bk-input-group", has_text="Attention").locator("select").first.select_option("mean")
        page.get_by_text("Attention: mean of the heads").first.wait_for(timeout=30_000)
        assert page.get_by_text("90th percentile").count() >= 1
