"""Helpers for browser tests: serve the app on a free port and drive Debian's chromium with Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("RADIOEXPLORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require_browser() -> None:
    """Skip when chromium or playwright is missing, unless RADIOEXPLORE_REQUIRE_BROWSER=1 (CI), then fail."""
    problems = []
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        problems.append(f"no chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("RADIOEXPLORE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {message}")
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(
    *args: str,
    env: dict | None = None,
    timeout: float = 120,
    serve_args: tuple[str, ...] = (),
    profile: Path | None = None,
) -> Iterator[str]:
    """Run ``panel serve app/`` with ``serve_args`` (server options, e.g. a login) and ``args`` after
    ``--args``; yields the page URL. With ``profile``, the server runs under cProfile and writes its
    statistics there when stopped (the server's page callbacks run on its main thread)."""
    port = free_port()
    cmd = [
        sys.executable,
        *(["-m", "cProfile", "-o", str(profile)] if profile else []),
        "-m",
        "panel",
        "serve",
        "app/",
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
        *serve_args,
    ]
    if args:
        cmd += ["--args", *args]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    # the server's log goes to a file: a pipe nobody drains fills up and stalls the server, and
    # reading a pipe to its end waits for a server that never exits
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}/app"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    # the first GET builds the whole page: on a busy machine that takes more than a few seconds
                    with urllib.request.urlopen(url, timeout=max(5.0, deadline - time.monotonic())) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    _stop(proc)
                    log.seek(0)
                    raise RuntimeError(f"panel serve did not come up at {url} within {timeout:.0f} s:\n{log.read()}")
                time.sleep(0.5)
            yield url
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # the Bokeh server stops its loop on SIGTERM (so cProfile writes its statistics)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1100):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
            yield page
        finally:
            browser.close()


#: JavaScript returning the data ranges and on-screen frame of every Bokeh plot whose title contains a text.
_PLOT_GEOMETRY_JS = """(needle) => {
  const out = [];
  const visit = (v) => {
    if (!v) return;
    if (v.frame && v.model && v.model.x_range && v.canvas_view) {
      const title = v.model.title && v.model.title.text ? v.model.title.text : "";
      if (title.includes(needle)) {
        const bb = v.frame.bbox, el = v.canvas_view.el.getBoundingClientRect();
        out.push({x0: v.model.x_range.start, x1: v.model.x_range.end, y0: v.model.y_range.start, y1: v.model.y_range.end,
                  left: el.left + bb.left, top: el.top + bb.top, width: bb.width, height: bb.height});
      }
    }
    if (v.child_views) for (const c of v.child_views) visit(c);
  };
  for (const v of Object.values(Bokeh.index)) visit(v);
  return out;
}"""


def plot_view(page, title_text: str) -> dict:
    """Data ranges (x0, x1, y0, y1) and on-screen frame (left, top, width, height) of the Bokeh plot
    whose title contains ``title_text``."""
    geoms = page.evaluate(_PLOT_GEOMETRY_JS, title_text)
    if not geoms:
        raise AssertionError(f"no Bokeh plot titled with {title_text!r} on the page")
    return geoms[0]


def data_to_screen(page, title_text: str, x: float, y: float) -> tuple[float, float]:
    """Screen position of data point (x, y) in the Bokeh plot whose title contains ``title_text``."""
    g = plot_view(page, title_text)
    sx = g["left"] + (x - g["x0"]) / (g["x1"] - g["x0"]) * g["width"]
    sy = g["top"] + (g["y1"] - y) / (g["y1"] - g["y0"]) * g["height"]
    return sx, sy


def plot_titles(page) -> list[str]:
    """Titles of every Bokeh plot on the page (they are drawn on canvas, so not in the DOM text)."""
    return page.evaluate(
        """() => {
      const out = [];
      const visit = (v) => {
        if (!v) return;
        if (v.model && v.model.title && typeof v.model.title.text === "string") out.push(v.model.title.text);
        if (v.child_views) for (const c of v.child_views) visit(c);
      };
      for (const v of Object.values(Bokeh.index)) visit(v);
      return out;
    }"""
    )


def wait_for_plot(page, title_text: str, timeout: float = 60.0) -> None:
    """Wait until a Bokeh plot whose title contains ``title_text`` is rendered (titles are drawn on canvas)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if page.evaluate(_PLOT_GEOMETRY_JS, title_text):
                return
        except Exception:  # Bokeh not loaded yet
            pass
        page.wait_for_timeout(250)
    raise AssertionError(f"no Bokeh plot titled with {title_text!r} appeared within {timeout} s")


def click_map_point(page, url: str, x: float, y: float, map_title: str = "coloured by field") -> str:
    """Open the app at ``url``, click map point (x, y) in data units and return the tile view's
    heading ("Tile N") once it shows."""
    page.goto(url)
    page.get_by_text("Click a point on the map").first.wait_for(timeout=60_000)
    wait_for_plot(page, map_title)
    page.mouse.click(*data_to_screen(page, map_title, x, y))
    heading = page.locator(".tile-title h2").first
    heading.wait_for(timeout=30_000)
    return heading.inner_text()
