"""The astronomer's workbench in headless Chromium (issue 23): label ten tiles in the review queue
with keys (the time from key press to the next tile is printed, not asserted), re-rank in the app,
reload, and find the active ranking in the table, the labels marked on the map, and the ranking
exported by ``radioexplore export --ranking active``."""

from __future__ import annotations

import shutil
import statistics
import time

import pandas as pd
import pytest

from tests.browser import browser_page, require_browser, served_app, wait_for_plot
from tests.conftest import run_cli

pytestmark = pytest.mark.browser

#: JavaScript: the text of the review queue's heading (Panel panes live in shadow roots).
QUEUE_HEADING_JS = """() => {
  const find = (root) => {
    const host = root.querySelector('.queue-title');
    if (host) return host;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; }
    }
    return null;
  };
  const host = find(document);
  const h2 = host && (host.shadowRoot || host).querySelector('h2');
  return h2 ? h2.textContent : null;
}"""

#: JavaScript: per Bokeh data source with a ``your_label`` column (the map's layer of labelled tiles), its tile ids.
LABELLED_ON_MAP_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.data && m.data.your_label !== undefined) out.push(Array.from(m.data.tile_id));
    }
  }
  return out;
}"""


def open_queue(page, url: str) -> str:
    """Open the app at ``url``, switch to the review queue and return its first heading."""
    page.goto(url)
    page.get_by_text("Click a point on the map").first.wait_for(timeout=60_000)
    page.locator(".bk-tab", has_text="Review queue").first.click()
    page.locator(".queue-title h2").first.wait_for(timeout=60_000)
    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not an input
    return page.evaluate(QUEUE_HEADING_JS)


def label_with_keys(page, keys: list[str]) -> list[float]:
    """Press each key (an interest score, which saves and moves on) and time it until the queue's
    heading shows the next tile; returns the seconds per label."""
    times = []
    for key in keys:
        before = page.evaluate(QUEUE_HEADING_JS)
        t0 = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(
            f"(before) => {{ const t = ({QUEUE_HEADING_JS})(); return t !== null && t !== before; }}",
            arg=before,
            timeout=60_000,
        )
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> str:
    return (
        f"{len(times)} labels: mean {statistics.mean(times):.3f} s, median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s"
    )


@pytest.fixture
def run(tiny_run, tmp_path):
    from radioexplore.run.rundir import RunDir

    dest = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, dest.root, ignore=shutil.ignore_patterns("labels.sqlite*", "active"))
    return dest


def test_label_ten_rerank_reload_and_export_the_active_ranking(run, tmp_path):
    require_browser()
    from radioexplore.run.labels.store import LabelStore

    keys = ["5", "1", "1", "4", "1", "2", "1", "5", "1", "3"]
    with served_app("--run", str(run.root)) as url, browser_page() as page:
        first = open_queue(page, url + "?who=workbench-test")
        assert first.startswith("Queue 1 /")
        times = label_with_keys(page, keys)
        print(f"\nkey press to next queue tile: {summary(times)}")
        current = LabelStore.for_run(run).current()
        assert len(current) == 10 and sorted(current["interest"].astype(int)) == sorted(map(int, keys))

        page.locator(".rerank-now button").first.click()
        page.get_by_text("saved to scores/active/vit.parquet").first.wait_for(timeout=120_000)
        assert run.active_scores("vit").is_file()
        stored = pd.read_parquet(run.active_scores("vit"))
        assert int(stored["labelled"].sum()) == 10
        assert run.stage_config("rerank", "vit")["n_labelled"] == 10

        # a reload (or a colleague's browser) sees the active ranking and the labels
        page.reload()
        page.get_by_text("re-ranked with your interest scores").first.wait_for(timeout=60_000)
        wait_for_plot(page, "coloured by")
        table = page.locator(".anomaly-table").first
        table.wait_for(timeout=30_000)
        top = stored.sort_values("active_rank")["tile_id"].head(10).tolist()
        first_row = table.locator(".tabulator-row").first
        assert first_row.locator('[tabulator-field="tile_id"]').inner_text().strip() == str(top[0])
        deadline = time.monotonic() + 30
        while not (on_map := page.evaluate(LABELLED_ON_MAP_JS)) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert on_map and sorted(on_map[0]) == sorted(current["tile_id"].tolist())

    out = tmp_path / "active.csv"
    run_cli("export", "--run", run.root, "--ranking", "active", "--top", "5", "--format", "csv", "--out", out)
    exported = pd.read_csv(out)
    assert exported["tile_id"].tolist() == stored.sort_values("active_rank")["tile_id"].head(5).tolist()
