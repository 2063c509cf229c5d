"""The diffuse-emission overlay in the browser (issue 22's acceptance on the real SCORPIO fields).

    python benchmarks/diffuse_overlay_shot.py --run RUN --out docs/diffuse_overlay.png

prints, per field of RUN's segmentation (``radioexplore segment --run RUN`` first), the fraction of
pixels at or above segment.json's threshold; then serves the app on RUN in headless Chromium, opens
the tile with the highest ``diffuse_mean``, switches the overlay on and saves the tile view and the
field view as PNG files (``OUT`` and ``OUT`` with ``_field`` before the suffix), with the seconds
each step took. Needs chromium and playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from _common import ROOT, header  # noqa: F401  (puts the checkout on sys.path)

from radioexplore.run.rundir import RunDir
from radioexplore.segmentation.read import flagged_area, segment_command, segment_info, segment_tiles


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="a run directory with segments/")
    p.add_argument("--out", type=Path, required=True, help="PNG of the tile view; the field view beside it")
    p.add_argument("--tile", type=int, default=None, help="tile to open (default: highest diffuse_mean)")
    p.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for each step")
    args = p.parse_args(argv)
    header("diffuse-emission overlay in the browser")
    run = RunDir(args.run)
    info = segment_info(run)
    if info is None or segment_tiles(run) is None:
        raise SystemExit(
            f"{run.root}: no segmentation (segments/segment.json, tiles.parquet); run {segment_command(run)}"
        )
    print(f"model {info.model}, pixel threshold {info.threshold:g}, R threshold {info.r_threshold:g}")
    table = flagged_area(run, info.threshold)
    for row in table.itertuples():
        print(f"  {row.field:40s} {row.pixels:>10d} px  flagged {100 * row.flagged_fraction:6.2f}%")

    from app.state import read_table
    from tests.browser import browser_page, data_to_screen, served_app, wait_for_plot

    scores = read_table(segment_tiles(run))
    tile = args.tile if args.tile is not None else int(scores.sort_values("diffuse_mean")["tile_id"].iloc[-1])
    embedding = run.default_embedding()
    xy = run.read_map(embedding, "umap").set_index("tile_id").loc[tile]
    wait_ms = int(args.timeout * 1000)
    t0 = time.perf_counter()
    with served_app("--run", str(run.root), timeout=args.timeout) as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("Click a point on the map").first.wait_for(timeout=wait_ms)
        wait_for_plot(page, "coloured by", timeout=args.timeout)
        t_page = time.perf_counter()
        page.mouse.click(*data_to_screen(page, "coloured by", float(xy["x"]), float(xy["y"])))
        heading = page.locator(".tile-title h2").first
        heading.wait_for(timeout=wait_ms)
        opened = int(heading.inner_text().split()[1])
        t_tile = time.perf_counter()
        page.locator(".tile-diffuse input").first.check()
        note = page.get_by_text(re.compile(r"Diffuse emission \(U-Net\).*% of the tile")).first
        note.wait_for(timeout=wait_ms)
        page.wait_for_timeout(1500)  # let Bokeh paint the shade
        t_overlay = time.perf_counter()
        print(f"tile {opened} (asked {tile}): {note.inner_text().strip()}")
        page.locator(".tile-image").first.screenshot(path=str(args.out))
        field = page.locator(".field-image").first
        field.scroll_into_view_if_needed()
        page.get_by_text("% of the field").first.wait_for(timeout=wait_ms)
        page.wait_for_timeout(1500)
        field_out = args.out.with_name(f"{args.out.stem}_field{args.out.suffix}")
        field.screenshot(path=str(field_out))
        print(f"field: {page.get_by_text('% of the field').first.inner_text().strip()}")
    print(
        f"seconds: page {t_page - t0:.1f}, open tile {t_tile - t_page:.1f}, overlay on {t_overlay - t_tile:.1f}"
        f"; wrote {args.out} and {field_out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
