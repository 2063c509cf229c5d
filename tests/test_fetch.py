"""``radioexplore fetch`` against a local SIA / SIA2 service the test starts on 127.0.0.1.

The service answers queries with a VOTable listing access URLs and serves FITS cutouts the test
made; it can fail or truncate on request, so retries, the cache and resumption are exercised.
Nothing here touches any other network.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table

from radioexplore.io.fetch import FetchConfig, FetchError, fetch_cutouts, read_manifest, read_positions
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.instrument import field_wcs

SOURCES = {"a": (150.10, 2.20), "b": (10.50, -45.25), "c": (200.00, 30.00)}


def cutout_bytes(ra: float, dec: float, size: int = 64) -> bytes:
    data = np.random.default_rng(int(ra * 100)).normal(0, 1e-4, (size, size)).astype(np.float32)
    hdu = fits.PrimaryHDU(data, field_wcs(ra, dec, size, 1.8).to_header())
    hdu.header["BUNIT"] = "JY/BEAM"
    from io import BytesIO

    buf = BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


SIA1_FIELDS = """
<FIELD name="title" datatype="char" arraysize="*" ucd="VOX:Image_Title"/>
<FIELD name="ra" datatype="double" ucd="POS_EQ_RA_MAIN"/>
<FIELD name="dec" datatype="double" ucd="POS_EQ_DEC_MAIN"/>
<FIELD name="naxes" datatype="int" ucd="VOX:Image_Naxes"/>
<FIELD name="naxis" datatype="int" arraysize="*" ucd="VOX:Image_Naxis"/>
<FIELD name="format" datatype="char" arraysize="*" ucd="VOX:Image_Format"/>
<FIELD name="url" datatype="char" arraysize="*" ucd="VOX:Image_AccessReference"/>
"""
SIA2_FIELDS = """
<FIELD name="obs_publisher_did" datatype="char" arraysize="*"/>
<FIELD name="s_ra" datatype="double"/>
<FIELD name="s_dec" datatype="double"/>
<FIELD name="access_format" datatype="char" arraysize="*"/>
<FIELD name="access_url" datatype="char" arraysize="*"/>
"""


def votable(fields: str, rows: list[str]) -> bytes:
    body = "".join(f"<TR>{r}</TR>" for r in rows)
    return (
        '<?xml version="1.0"?><VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
        '<RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/><TABLE>'
        f"{fields}<DATA><TABLEDATA>{body}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
    ).encode()


class SiaService:
    """State of the local service: what it serves, what it should fail, what it was asked."""

    def __init__(self):
        self.files = {name: cutout_bytes(ra, dec) for name, (ra, dec) in SOURCES.items()}
        self.fail: dict[str, int] = {}  # path prefix -> number of 503 answers still to give
        self.truncate: set[str] = set()
        self.log: list[str] = []
        self.lock = threading.Lock()

    def near(self, ra: float, dec: float, radius: float) -> list[str]:
        return [n for n, (r, d) in SOURCES.items() if abs(r - ra) < radius and abs(d - dec) < radius]


def make_handler(state: SiaService):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output quiet
            pass

        def send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlparse(self.path)
            query = {k.upper(): v[0] for k, v in parse_qs(url.query).items()}
            with state.lock:
                state.log.append(url.path)
                for prefix, left in state.fail.items():
                    if url.path.startswith(prefix) and left > 0:
                        state.fail[prefix] = left - 1
                        return self.send(503, b"busy", "text/plain")
            base = f"http://127.0.0.1:{self.server.server_port}/files"
            if url.path == "/sia":
                ra, dec = (float(v) for v in query["POS"].split(","))
                rows = [
                    f"<TD>{n}</TD><TD>{SOURCES[n][0]}</TD><TD>{SOURCES[n][1]}</TD><TD>2</TD><TD>64 64</TD>"
                    f"<TD>image/fits</TD><TD>{base}/{n}.fits</TD>"
                    for n in state.near(ra, dec, float(query.get("SIZE", "0.05")))
                ]
                return self.send(200, votable(SIA1_FIELDS, rows), "text/xml")
            if url.path == "/sia2":
                _, ra, dec, radius = query["POS"].split()
                rows = [
                    f"<TD>ivo://test/{n}</TD><TD>{SOURCES[n][0]}</TD><TD>{SOURCES[n][1]}</TD>"
                    f"<TD>image/fits</TD><TD>{base}/{n}.fits</TD>"
                    for n in state.near(float(ra), float(dec), 2 * float(radius))
                ]
                return self.send(200, votable(SIA2_FIELDS, rows), "text/xml")
            if url.path.startswith("/files/"):
                name = url.path.rsplit("/", 1)[-1].removesuffix(".fits")
                if name not in state.files:
                    return self.send(404, b"no such file", "text/plain")
                body = state.files[name]
                return self.send(200, body[:3000] if name in state.truncate else body, "application/fits")
            return self.send(404, b"unknown endpoint", "text/plain")

    return Handler


@pytest.fixture
def service():
    state = SiaService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def positions(tmp_path):
    path = tmp_path / "positions.csv"
    rows = [{"name": n, "ra": ra, "dec": dec} for n, (ra, dec) in SOURCES.items()]
    rows.append({"name": "empty sky", "ra": 80.0, "dec": -10.0})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def config(service, **kw) -> FetchConfig:
    return FetchConfig(service=f"{service.url}/sia", backoff_s=0.0, timeout_s=5.0, **kw)


def downloads(service, name):
    return service.log.count(f"/files/{name}.fits")


def test_fetch_downloads_valid_fits_and_a_second_run_uses_the_cache(tmp_path, service, positions):
    out = tmp_path / "cutouts"
    report = fetch_cutouts(read_positions(positions), out, config(service), progress=False)
    assert sorted(report.downloaded) == ["a", "b", "c"] and report.empty == ["empty_sky"] and not report.failed
    for name, (ra, dec) in SOURCES.items():
        header = fits.getheader(out / f"{name}.fits")
        assert header["CRVAL1"] == pytest.approx(ra) and header["CRVAL2"] == pytest.approx(dec)
    manifest = read_manifest(out)
    assert manifest["a"]["status"] == "done" and manifest["a"]["urls"] == [f"{service.url}/files/a.fits"]
    again = fetch_cutouts(read_positions(positions), out, config(service), progress=False)
    assert sorted(again.cached) == ["a", "b", "c"] and not again.downloaded
    assert all(downloads(service, n) == 1 for n in SOURCES)  # nothing fetched twice


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, service, positions):
    out = tmp_path / "cutouts"
    service.fail["/files/b"] = 10**6  # b's file is unreachable during the first run
    first = fetch_cutouts(read_positions(positions), out, config(service, retries=1), progress=False)
    assert list(first.failed) == ["b"] and "503" in first.failed["b"] and "after 2 attempts" in first.failed["b"]
    assert not (out / "b.fits").exists() and not list(out.glob(".b.fits*"))  # no half file that looks whole
    assert read_manifest(out)["b"]["status"] == "failed"
    service.fail.clear()
    second = fetch_cutouts(read_positions(positions), out, config(service), progress=False)
    assert second.downloaded == ["b"] and sorted(second.cached) == ["a", "c"]
    assert downloads(service, "a") == 1 and (out / "b.fits").is_file()


def test_transient_failures_are_retried_a_bounded_number_of_times(tmp_path, service, positions):
    service.fail["/sia"] = 2  # the first two queries fail
    ok = fetch_cutouts(read_positions(positions), tmp_path / "one", config(service, retries=2), progress=False)
    assert not ok.failed and len(ok.downloaded) == 3
    service.fail["/sia"] = 3
    waits = []
    bad = fetch_cutouts(
        read_positions(positions), tmp_path / "two", config(service, retries=1), progress=False, sleep=waits.append
    )
    assert list(bad.failed) == ["a"] and bad.downloaded == ["b", "c"]  # a failed twice; b once, then fine
    assert waits == [0.0, 0.0]  # one wait before each retry, none after the last attempt


def test_a_corrupt_cached_file_and_a_truncated_download_are_not_trusted(tmp_path, service, positions):
    out = tmp_path / "cutouts"
    fetch_cutouts(read_positions(positions), out, config(service), progress=False)
    (out / "c.fits").write_bytes((out / "c.fits").read_bytes()[:1000])  # damaged on disk
    service.truncate.add("a")
    (out / "a.fits").unlink()
    report = fetch_cutouts(read_positions(positions), out, config(service, retries=1), progress=False)
    assert report.downloaded == ["c"] and downloads(service, "c") == 2
    assert "not a complete FITS image" in report.failed["a"] and not (out / "a.fits").exists()


def test_sia2_and_votable_positions(tmp_path, service):
    table = Table({"RAJ2000": [SOURCES["a"][0]], "DEJ2000": [SOURCES["a"][1]]})
    table.write(tmp_path / "pos.xml", format="votable")
    pos = read_positions(tmp_path / "pos.xml")
    assert list(pos["name"]) == ["J150.1000+02.2000"]
    cfg = FetchConfig(service=f"{service.url}/sia2", protocol="sia2", backoff_s=0.0)
    report = fetch_cutouts(pos, tmp_path / "out", cfg, progress=False)
    assert report.downloaded == ["J150.1000+02.2000"] and (tmp_path / "out" / "J150.1000+02.2000.fits").is_file()


def test_positions_problems_are_named(tmp_path):
    (tmp_path / "p.csv").write_text("x,y\n1,2\n")
    with pytest.raises(FetchError, match="p.csv: needs ra and dec"):
        read_positions(tmp_path / "p.csv")
    (tmp_path / "q.csv").write_text("ra,dec\n1,2\n3,95\n")
    with pytest.raises(FetchError, match="q.csv: row 2"):
        read_positions(tmp_path / "q.csv")


def test_fetch_cli_then_ingest_the_cutouts_as_stamps(tmp_path, service, positions, cli, cli_main):
    out = tmp_path / "cutouts"
    res = cli("fetch", positions, "--service", f"{service.url}/sia", "--out", out, "--backoff", "0")
    assert "downloaded 3" in res.stdout and "no image 1" in res.stdout
    run = tmp_path / "run"
    cli_main("ingest", "--stamps", out, "--run", run, "--tile", "64")
    tiles = RunDir(run).read_tiles().set_index("field")
    for name, (ra, dec) in SOURCES.items():
        assert tiles.loc[name, "ra"] == pytest.approx(ra, abs=1e-3)
        assert tiles.loc[name, "dec"] == pytest.approx(dec, abs=1e-3)
    service.fail["/sia"] = 10**6
    code, stdout, _ = cli_main(
        "fetch", positions, "--service", f"{service.url}/sia", "--out", tmp_path / "x", "--retries", "0", check=False
    )
    assert code == 1 and "run the same command again" in stdout
