"""A shared server: with a login the annotator is the logged-in user (``?who=`` ignored), a read-only
user can look but not label, and text from a URL, a field name or BUNIT renders as text, never as HTML."""

import json
import shutil
from urllib.parse import quote

import pandas as pd
import pytest

from app.access import ReadOnlyLabelStore, annotator, readonly_users
from app.text import md_code, md_lines, md_text
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.labels.values import LabelError
from radioexplore.run.rundir import RunDir
from tests.browser import browser_page, require_browser, served_app

WHO_PAYLOAD = '<img src=x onerror="window.__xss=document.domain">'
FIELD_PAYLOAD = '<img src=y onerror="window.__xss=1">[link](https://example.org)'
BUNIT_PAYLOAD = '<img src=z onerror="window.__xss=2">Jy/beam'
#: Every element a payload would create if it were rendered as HTML.
INJECTED = 'img[src="x"], img[src="y"], img[src="z"], a[href="https://example.org"]'


def _render(markdown: str) -> str:
    """HTML of ``markdown`` as Panel's Markdown pane renders it."""
    import panel as pn

    return pn.pane.Markdown()._get_parser("markdown-it", ()).render(markdown)


# -- without a browser -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        WHO_PAYLOAD,
        "[a](javascript:alert(1)) ![i](https://example.org/x.png) <https://example.org> example.org a@b.org",
        "# heading",
        "1. item",
        "    code",
        "**bold** _it_ ~~no~~ `code` $x$ :smile: a|b &lt;",
    ],
)
def test_outside_text_renders_as_that_text_in_markdown(text):
    import html

    for markdown in (md_text(text), f"| a |\n|---|\n| {md_text(text)} |", md_lines(f"{text}\n{text}")):
        out = _render(markdown)
        assert "<img" not in out and "<a " not in out and "<h1" not in out and "<ol" not in out
        assert "<pre" not in out and "<em" not in out and "<strong" not in out and "<code" not in out
        assert html.escape(text, quote=False) in out.replace("&quot;", '"')
    code = _render(md_code("x `` y |<b>z</b>", table=True).join(["| a |\n|---|\n| ", " |"]))
    assert "<code>x `` y |&lt;b&gt;z&lt;/b&gt;</code>" in code


def test_tile_metadata_and_the_sidebar_show_payloads_as_text():
    import html

    from app.access import Annotator
    from app.dashboard import annotator_text
    from app.views.tile import describe

    row = pd.Series(
        {"field": FIELD_PAYLOAD, "survey": WHO_PAYLOAD, "bunit": BUNIT_PAYLOAD, "noise_rms": 2e-5}
        | {"x0": 0, "y0": 0, "size": 64}
    )
    table = _render(describe(row))
    side = _render(annotator_text(Annotator(WHO_PAYLOAD)) + "  \n" + annotator_text(Annotator(WHO_PAYLOAD, False)))
    for out in (table, side):
        assert "<img" not in out and "<a " not in out
    for text in (FIELD_PAYLOAD, WHO_PAYLOAD, BUNIT_PAYLOAD):
        assert html.escape(text, quote=False) in table.replace("&quot;", '"')
    assert side.replace("&quot;", '"').count(html.escape(WHO_PAYLOAD, quote=False)) == 2


def test_the_annotator_is_the_logged_in_user_and_the_url_cannot_change_it():
    assert annotator(True, "ada", "mallory").name == "ada"
    ada = annotator(True, "ada", None, readonly={"bob"})
    assert ada.can_label and ada.logged_in
    bob = annotator(True, "bob", "ada", readonly={"bob"})
    assert bob.name == "bob" and not bob.can_label and "read-only" in bob.why_not
    guest = annotator(True, None, "ada")
    assert guest.name == "guest" and not guest.can_label
    assert annotator(False, None, " carol ").name == "carol" and not annotator(False, None, "carol").logged_in
    assert not annotator(False, None, "carol", readonly={"*"}).can_label
    assert readonly_users(["--run", "r", "--readonly-users", "bob, eve", "--readonly-users", "zed"], {}) == {
        "bob",
        "eve",
        "zed",
    }
    assert readonly_users([], {"RADIOEXPLORE_READONLY_USERS": "bob"}) == {"bob"}


def test_a_read_only_store_reads_but_refuses_every_write(tmp_path):
    LabelStore(tmp_path / "labels.sqlite", who="ada").add(3, "PECULIAR")
    store = ReadOnlyLabelStore(tmp_path / "labels.sqlite", who="bob", why_not="bob has read-only access")
    assert store.labels_of(3)["labels"] == ("PECULIAR",)
    csv = store.export_csv(tmp_path / "all.csv")
    for write in (
        lambda: store.add(4, "COMPACT"),
        lambda: store.add_many([{"tile_id": 4, "labels": "COMPACT"}]),
        lambda: store.undo(),
        lambda: store.import_csv(csv),
    ):
        with pytest.raises(LabelError, match="bob has read-only access"):
            write()
    assert len(LabelStore(tmp_path / "labels.sqlite")) == 1


# -- in the browser --------------------------------------------------------------------------------
def hostile_copy(tiny_run: RunDir, dest) -> RunDir:
    """A copy of the tiny run whose field names and BUNIT carry HTML (as a hostile FITS header or file
    name could); written into tiles.parquet directly, which ingest would refuse for such a BUNIT."""
    run = RunDir(dest)
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*"))
    tiles = pd.read_parquet(run.tiles_table)
    tiles["field"] = FIELD_PAYLOAD + tiles["field"].astype(str)
    tiles["bunit"] = BUNIT_PAYLOAD
    tiles.to_parquet(run.tiles_table, index=False)
    return run


def open_first_ranked_tile(page) -> int:
    """Click the top row of the anomaly table; returns the tile id the tile view then shows."""
    page.get_by_text("Click a point on the map").first.wait_for(timeout=60_000)
    page.locator(".anomaly-table .tabulator-row").first.click()
    heading = page.locator(".tile-title h2").first
    heading.wait_for(timeout=30_000)
    return int(heading.inner_text().split()[1])


def assert_rendered_as_text(page, *texts: str) -> None:
    """No element a payload would create, no script of one ran, and each text shows as it is."""
    for text in texts:
        page.get_by_text(text).first.wait_for(timeout=30_000)
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("() => typeof window.__xss") == "undefined"


def log_in(page, url: str, user: str, password: str) -> None:
    """Ask for the app as ``?who=mallory``, log in on Panel's login page and come back to that URL."""
    page.goto(url + "?who=mallory")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click(no_wait_after=True)
    page.get_by_text("Click a point on the map").first.wait_for(timeout=90_000)
    assert page.url.endswith("/app?who=mallory"), page.url


#: Makes the first Bokeh button whose label starts with a text clickable in the browser (as a
#: hostile client could), to check that the server refuses what the page would not offer.
_ENABLE_JS = """(prefix) => {
  let n = 0;
  const visit = (v) => {
    if (!v) return;
    if (v.model && typeof v.model.label === "string" && v.model.label.startsWith(prefix)) { v.model.disabled = false; n++; }
    if (v.child_views) for (const c of v.child_views) visit(c);
  };
  for (const v of Object.values(Bokeh.index)) visit(v);
  return n;
}"""


@pytest.mark.browser
def test_without_a_login_the_url_names_the_annotator_and_its_html_is_text(tiny_run, tmp_path):
    require_browser()
    run = hostile_copy(tiny_run, tmp_path / "run")
    with served_app("--run", str(run.root)) as url, browser_page() as page:
        page.goto(url + "?who=" + quote(WHO_PAYLOAD))
        tile = open_first_ranked_tile(page)
        assert_rendered_as_text(page, WHO_PAYLOAD, FIELD_PAYLOAD, BUNIT_PAYLOAD)
        page.locator(".label-buttons button", has_text="PECULIAR").first.click()
        page.locator(".save-label button").first.click()
        page.get_by_text(f"Saved tile {tile}").first.wait_for(timeout=30_000)
        assert_rendered_as_text(page, WHO_PAYLOAD)
    events = LabelStore.for_run(run).events()
    assert events["tile_id"].tolist() == [tile] and events["who"].tolist() == [WHO_PAYLOAD]


@pytest.mark.browser
def test_with_a_login_labels_carry_the_user_and_a_read_only_user_cannot_label(tiny_run, tmp_path):
    require_browser()
    run = hostile_copy(tiny_run, tmp_path / "run")
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"ada": "ada-password", "bob": "bob-password"}))
    login = ("--basic-auth", str(credentials), "--cookie-secret", "a-test-cookie-secret-of-some-length")
    with (
        served_app("--run", str(run.root), "--readonly-users", "bob", serve_args=login) as url,
        browser_page() as page,
    ):
        log_in(page, url, "ada", "ada-password")
        tile = open_first_ranked_tile(page)
        page.get_by_text("labelling as ada (logged in)").first.wait_for(timeout=30_000)
        assert_rendered_as_text(page, FIELD_PAYLOAD, BUNIT_PAYLOAD)
        page.locator(".label-buttons button", has_text="PECULIAR").first.click()
        page.locator(".save-label button").first.click()
        page.get_by_text(f"Saved tile {tile}").first.wait_for(timeout=30_000)
        events = LabelStore.for_run(run).events()
        assert events["tile_id"].tolist() == [tile] and events["who"].tolist() == ["ada"]

        page.context.clear_cookies()
        log_in(page, url, "bob", "bob-password")
        assert open_first_ranked_tile(page) == tile
        page.get_by_text("viewing as bob, read-only").first.wait_for(timeout=30_000)
        save = page.locator(".save-label button").first
        assert save.is_disabled() and page.locator(".label-buttons button").first.is_disabled()
        # forced writes: the disabled button enabled in the page, and the queue's keys
        assert page.evaluate(_ENABLE_JS, "Save label") >= 1
        page.wait_for_function("() => true")
        assert not save.is_disabled()
        save.click()
        page.get_by_text(f"Not saved (tile {tile}): bob has read-only access").first.wait_for(timeout=30_000)
        page.locator(".bk-tab", has_text="Review queue").first.click()
        title = page.locator(".queue-title h2").first
        title.wait_for(timeout=30_000)
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("n")  # the queue's second tile, so its refusal is told apart from the first
        page.locator(".queue-title h2", has_text="Queue 2 /").first.wait_for(timeout=30_000)
        second = int(title.inner_text().split()[-1])
        page.keyboard.press("p")
        page.keyboard.press("5")
        page.get_by_text(f"Not saved (tile {second}): bob has read-only access").first.wait_for(timeout=30_000)
    events = LabelStore.for_run(run).events()
    assert events["who"].tolist() == ["ada"], events
