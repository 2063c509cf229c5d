"""Latency of the served app, as a user meets it (issue 23's speed items), with the server's CPU time.

Serves a copy of a run (its label store and active ranking are thrown away) and drives headless
Chromium through: the map's first paint after the page is asked for; pans of the map until the new
raster arrives from the server (rasterised maps only, above app.views.map.RASTERIZE_ABOVE tiles);
clicks on map points until the tile view shows the clicked tile (and until the field view and the
neighbours, drawn after it, follow); and labels in the review queue,
key press to the next tile's heading. Each figure is printed per try and as mean, median and max,
with the server process's CPU seconds (user + system, all threads) per operation, which a loaded
machine does not inflate as much as the wall clock. Issue 23 asks for: a label < 0.5 s, a map click
to its tile < 1 s, a pan of a 10^6-point map < 0.5 s and its first paint < 5 s.

    python benchmarks/app_latency.py --run runs/demo
    python benchmarks/app_latency.py --run /tmp/scale1m --pans 5 --clicks 3 --labels 10
    python benchmarks/app_latency.py --run runs/demo --profile /tmp/app.prof   # cProfile of the server
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, header, load  # noqa: F401  (puts the checkout on sys.path)

from radioexplore.run.rundir import RunDir
from tests.browser import browser_page, data_to_screen, plot_view, served_app
from tests.test_app_workbench import QUEUE_HEADING_JS

MAP_TITLE = "coloured by"

#: JavaScript: what the map plot (title contains the needle) shows: its ranges, the bounds of its
#: raster image (null for a point-by-point map) and the number of points drawn.
MAP_STATE_JS = """(needle) => {
  let out = null;
  const visit = (v) => {
    if (!v || out) return;
    if (v.frame && v.model && v.model.x_range && v.canvas_view) {
      const title = v.model.title && v.model.title.text ? v.model.title.text : "";
      if (title.includes(needle)) {
        let raster = null, points = 0;
        for (const r of v.model.renderers) {
          const d = r.data_source && r.data_source.data;
          if (!d) continue;
          if (d.image !== undefined && d.image.length) raster = [d.x[0], d.y[0], d.dw[0], d.dh[0]];
          else if (d.x !== undefined) points = Math.max(points, d.x.length);
        }
        out = {x0: v.model.x_range.start, x1: v.model.x_range.end, raster: raster, points: points};
        return;
      }
    }
    if (v.child_views) for (const c of v.child_views) visit(c);
  };
  if (typeof Bokeh === "undefined") return null;
  for (const v of Object.values(Bokeh.index)) visit(v);
  return out;
}"""


class Server:
    """CPU seconds (user + system, every thread) of the ``panel serve`` process this script started."""

    def __init__(self) -> None:
        import psutil

        kids = [p for p in psutil.Process().children() if "panel" in " ".join(p.cmdline())]
        self.proc = kids[0] if kids else None

    def cpu(self) -> float:
        if self.proc is None:
            return float("nan")
        t = self.proc.cpu_times()
        return t.user + t.system


def wait_until(page, test, timeout: float, step_ms: int = 20):
    """Poll ``test()`` until it returns something truthy (returned) or ``timeout`` seconds pass (None)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        got = test()
        if got:
            return got
        page.wait_for_timeout(step_ms)
    return None


def summary(name: str, times: list[float], cpus: list[float]) -> str:
    if not times:
        return f"{name}: not measured"
    spread = f" ± {statistics.stdev(times):.3f} (sd)" if len(times) > 1 else ""
    cpu = f"; server CPU mean {statistics.mean(cpus):.3f} s per operation" if cpus else ""
    return (
        f"{name}: n={len(times)} mean {statistics.mean(times):.3f}{spread} s, median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s{cpu}"
    )


def map_state(page) -> dict | None:
    try:
        return page.evaluate(MAP_STATE_JS, MAP_TITLE)
    except Exception:  # Bokeh not loaded yet
        return None


def first_paint(page, url: str, server: Server) -> tuple[float, float]:
    c0, t0 = server.cpu(), time.perf_counter()
    page.goto(url, timeout=600_000)  # (the page of a large run takes long on a loaded machine)
    state = wait_until(page, lambda: (s := map_state(page)) and (s["raster"] or s["points"]) and s, 600, 100)
    if not state:
        raise RuntimeError("the map was not drawn within 600 s")
    return time.perf_counter() - t0, server.cpu() - c0


def pan(page, server: Server, step: int) -> tuple[float, float] | None:
    """Drag the map by a quarter of its width (alternately left and right); seconds and server CPU
    until the raster for the new range is shown (None for a point-by-point map)."""
    before = map_state(page)
    if not before or not before["raster"]:
        return None
    g = plot_view(page, MAP_TITLE)
    cx, cy = g["left"] + g["width"] / 2, g["top"] + g["height"] / 2
    dx = g["width"] / 4 * (1 if step % 2 else -1)
    c0 = server.cpu()
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + dx, cy + g["height"] / 8, steps=4)
    t0 = time.perf_counter()  # from the release of the mouse: the pan is made then
    page.mouse.up()
    got = wait_until(page, lambda: (s := map_state(page)) and s["raster"] and s["raster"] != before["raster"], 120)
    if not got:
        raise RuntimeError("no new raster within 120 s of a pan")
    took = time.perf_counter() - t0
    page.wait_for_timeout(300)  # let the server finish the update before its CPU is read
    return took, server.cpu() - c0


def tile_heading(page) -> str | None:
    heading = page.locator(".tile-title h2")
    return heading.first.inner_text() if heading.count() else None


def rest_followed(page, tile: str) -> bool:
    """Whether the parts drawn after a click's tile (the field view's line on the open tile and the
    neighbour cards) show ``tile`` ("Tile N")."""
    field = page.locator(".field-selected", has_text=f"{tile} open")
    finding = page.get_by_text("Finding the tiles most like this one")
    return field.count() > 0 and finding.count() == 0


def click(page, server: Server, run: RunDir, embedding: str, step: int) -> tuple[float, float, float, int]:
    """Click the tile drawn nearest a point of the current view (a different one each step); seconds
    and server CPU until the tile view's heading names it, seconds until the field view and the
    neighbours follow (the page is left to settle then, so a click does not wait for the last one's
    work), and the tile's row."""
    m = run.read_map(embedding, run.map_methods(embedding)[0])  # the map the app opens on
    g = plot_view(page, MAP_TITLE)
    spots = [(0.5, 0.5), (0.3, 0.6), (0.7, 0.4), (0.4, 0.3), (0.6, 0.7), (0.25, 0.25), (0.75, 0.75), (0.2, 0.8)]
    fx, fy = spots[step % len(spots)]
    want = np.array([g["x0"] + fx * (g["x1"] - g["x0"]), g["y0"] + fy * (g["y1"] - g["y0"])])
    xy = m[["x", "y"]].to_numpy()
    target = int(np.argmin(np.hypot(*((xy - want) / np.ptp(xy, axis=0)).T)))
    before = tile_heading(page)
    c0, t0 = server.cpu(), time.perf_counter()
    page.mouse.click(*data_to_screen(page, MAP_TITLE, float(xy[target, 0]), float(xy[target, 1])))
    got = wait_until(page, lambda: (h := tile_heading(page)) and h != before and h.startswith("Tile") and h, 120)
    if not got:
        raise RuntimeError("the tile view did not change within 120 s of a map click")
    took = time.perf_counter() - t0
    heading = " ".join(got.split()[:2])  # "Tile N"
    if not wait_until(page, lambda: rest_followed(page, heading), 120, 50):
        raise RuntimeError(f"the field view and neighbours did not follow {heading} within 120 s")
    rest = time.perf_counter() - t0
    page.wait_for_timeout(300)
    return took, server.cpu() - c0, rest, int(heading.split()[1])


def open_queue_tab(page) -> None:
    """Switch the open page to the review queue (no reload: a new session of a large run takes long)."""
    page.locator(".bk-tab", has_text="Review queue").first.click()
    page.locator(".queue-title h2").first.wait_for(timeout=300_000)
    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not an input


def labels(page, server: Server, n: int) -> tuple[list[float], list[float]]:
    """Label ``n`` queue tiles with interest keys; seconds from key press to the next tile's heading,
    and the server's CPU per label (read 300 ms after the heading changed: prefetching included)."""
    times, cpus = [], []
    for i in range(n):
        before = page.evaluate(QUEUE_HEADING_JS)
        c0, t0 = server.cpu(), time.perf_counter()
        page.keyboard.press(str(1 + (i * 3) % 5))
        page.wait_for_function(
            f"(before) => {{ const t = ({QUEUE_HEADING_JS})(); return t !== null && t !== before; }}",
            arg=before,
            timeout=120_000,
        )
        times.append(time.perf_counter() - t0)
        page.wait_for_timeout(300)
        cpus.append(server.cpu() - c0)
    return times, cpus


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="a complete run (it is copied, not changed)")
    p.add_argument("--pans", type=int, default=5)
    p.add_argument("--clicks", type=int, default=5, help="map clicks (up to 8 different spots)")
    p.add_argument("--labels", type=int, default=10)
    p.add_argument("--width", type=int, default=1600)
    p.add_argument("--height", type=int, default=1000)
    p.add_argument("--profile", type=Path, help="write the server's cProfile statistics here")
    p.add_argument("--screenshot", type=Path, help="save a PNG of the page after the pans (to see the map)")
    args = p.parse_args()
    header(f"app latency: {args.run}")
    source = RunDir(args.run)
    embedding = source.default_embedding()
    print(f"{len(source.read_tiles(columns=['tile_id'])):,} tiles, embedding {embedding}")
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(Path(tmp) / "run")
        shutil.copytree(source.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*", "active", "simulated"))
        with (
            served_app("--run", str(run.root), timeout=900, profile=args.profile) as url,
            browser_page(args.width, args.height) as page,
        ):
            server = Server()
            url += "?who=benchmark"
            seconds, cpu = first_paint(page, url, server)
            print(
                f"first paint of the map: {seconds:.2f} s after the page was asked for (server CPU {cpu:.2f} s; {load()})"
            )
            pans = [pan(page, server, i) for i in range(args.pans)]
            pans = [x for x in pans if x is not None]
            for i, (t, c) in enumerate(pans, 1):
                print(f"pan {i}: new raster {t:.3f} s after the mouse was released (server CPU {c:.3f} s)")
            if args.screenshot:
                page.screenshot(path=str(args.screenshot))
            clicks = [click(page, server, run, embedding, i) for i in range(args.clicks)]
            fields = run.read_tiles(columns=["field"])["field"].astype(str).to_numpy()
            for i, (t, c, rest, tile) in enumerate(clicks, 1):
                print(
                    f"click {i}: tile {tile} ({fields[tile]}) shown {t:.3f} s after the click, field view and "
                    f"neighbours {rest:.3f} s (server CPU {c:.3f} s, all of it)"
                )
            open_queue_tab(page)
            times, cpus = labels(page, server, args.labels)
            for i, (t, c) in enumerate(zip(times, cpus, strict=True), 1):
                print(f"label {i}: next tile {t:.3f} s after the key (server CPU {c:.3f} s)")
            print()
            print(summary("pan to new raster", [t for t, _ in pans], [c for _, c in pans]))
            print(summary("map click to tile", [t for t, *_ in clicks], [c for _, c, *_ in clicks]))
            print(summary("map click to field view and neighbours", [r for _, _, r, _ in clicks], []))
            print(summary("label to next queue tile", times, cpus))
            print(f"({load()})")
    if args.profile:
        print(f"server profile: {args.profile} (python -m pstats {args.profile}; sort cumtime; stats 40)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
