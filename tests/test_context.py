"""Context from other surveys against a local stand-in for hips2fits and SIMBAD's TAP service
(started by the test on 127.0.0.1); offline, one line says so. Nothing here touches any other network."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from astropy.io import fits

from radioexplore.io.context import SURVEYS, ContextConfig, ContextUnavailable, hips_cutout, links, simbad_cone
from tests.test_fetch import cutout_bytes, votable

SIMBAD_FIELDS = """
<FIELD name="main_id" datatype="char" arraysize="*"/>
<FIELD name="ra" datatype="double" unit="deg"/>
<FIELD name="dec" datatype="double" unit="deg"/>
<FIELD name="otype" datatype="char" arraysize="*"/>
<FIELD name="dist" datatype="double" unit="deg"/>
"""


@pytest.fixture
def stand_in():
    """A local hips2fits and SIMBAD TAP stand-in; ``asked`` records each request's path and parameters."""
    asked: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            asked.append((url.path, q))
            if url.path == "/hips2fits":
                body, kind = cutout_bytes(float(q["ra"]), float(q["dec"]), int(q["width"])), "application/fits"
            elif url.path == "/tap/sync" and "FROM basic" in q.get("QUERY", ""):
                rows = ["<TD>NAME Test Radio Galaxy</TD><TD>150.1</TD><TD>2.2</TD><TD>RadioG</TD><TD>0.001</TD>"]
                body, kind = votable(SIMBAD_FIELDS, rows), "application/x-votable+xml"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, asked
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_cutouts_and_simbad_come_from_the_service_then_from_the_cache(stand_in, tmp_path):
    base, asked = stand_in
    config = ContextConfig(str(tmp_path / "cache"), f"{base}/hips2fits", f"{base}/tap/sync", timeout_s=10, cutout_px=48)
    path = hips_cutout("NVSS", 150.1, 2.2, 0.05, config)
    with fits.open(path) as hdul:
        assert hdul[0].data.shape == (48, 48)
    assert asked[0][0] == "/hips2fits" and asked[0][1]["hips"] == SURVEYS["NVSS"] and asked[0][1]["fov"] == "0.05"
    objects = simbad_cone(150.1, 2.2, 1.0, config)
    assert list(objects["main_id"]) == ["NAME Test Radio Galaxy"] and objects.loc[0, "otype"] == "RadioG"
    assert "CIRCLE('ICRS', 150.100000, 2.200000, 0.016667)" in asked[1][1]["QUERY"]
    # the same again: from the cache, no request
    assert hips_cutout("NVSS", 150.1, 2.2, 0.05, config) == path
    assert list(simbad_cone(150.1, 2.2, 1.0, config)["main_id"]) == ["NAME Test Radio Galaxy"]
    assert len(asked) == 2


def test_offline_says_so_in_one_line_and_links_still_work(tmp_path):
    config = ContextConfig(str(tmp_path), "http://127.0.0.1:9/hips2fits", "http://127.0.0.1:9/tap/sync", timeout_s=2)
    for call in (lambda: hips_cutout("RACS", 10.0, -45.0, 0.1, config), lambda: simbad_cone(10.0, -45.0, 1, config)):
        with pytest.raises(ContextUnavailable) as info:
            call()
        assert "unavailable" in str(info.value) and "127.0.0.1:9" in str(info.value) and "\n" not in str(info.value)
    found = links(10.0, -45.0, 0.1)
    assert set(SURVEYS) <= set(found) and {"SIMBAD", "NED", "Legacy Survey viewer"} <= set(found)
    assert "survey=CSIRO%2FP%2FRACS%2Flow%2FI" in found["RACS"] and "target=10.000000%20-45.000000" in found["RACS"]


def test_the_context_panel_uses_the_service_and_offline_says_so_in_one_line(stand_in, tmp_path, tiny_run):
    import holoviews as hv

    from app.state import ExplorerState
    from app.views.context import ContextView
    from app.views.tile import TileView

    hv.extension("bokeh")
    base, asked = stand_in
    state = ExplorerState(tiny_run)
    state.selected_tile = 5
    row = state.tile_row(5)
    online = ContextConfig(str(tmp_path / "on"), f"{base}/hips2fits", f"{base}/tap/sync", timeout_s=10, cutout_px=32)
    view = ContextView(state=state, config=online, surveys=["NVSS", "WISE"])
    assert "Aladin" in view.links_pane().object and "simbad.cds.unistra.fr" in view.links_pane().object
    view.fetch()
    assert [q["hips"] for path, q in asked if path == "/hips2fits"] == [SURVEYS["NVSS"], SURVEYS["WISE"]]
    assert float(asked[0][1]["ra"]) == pytest.approx(row["ra"], abs=1e-5)
    assert len(view.cutouts.objects) == 2 and "NAME Test Radio Galaxy" in view.objects.object
    assert view.message.startswith("2 cutout(s) and 1 SIMBAD object(s)")

    offline = ContextConfig(str(tmp_path / "off"), "http://127.0.0.1:9/hips2fits", "http://127.0.0.1:9/tap/sync", 2)
    view = ContextView(state=state, config=offline)
    view.fetch()
    assert "unavailable" in view.message and "\n" not in view.message and not view.cutouts.objects
    assert "NED" in view.links_pane().object  # links need no network
    assert TileView(state=state).view().objects[0].object == "## Tile 5"  # and the rest of the app goes on
