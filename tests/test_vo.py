"""Out to the astronomer's other tools: UCDs and units in the VOTable, MOCs of the candidates and of
the reviewed sky, SAMP to and from a hub the test starts, and the review coverage summary."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.io.votable.ucd import check_ucd

from radioexplore.run.atomic import write_npy
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.planted import PlantedConfig, planted_embeddings
from tests.conftest import ingest_with_truth

#: Planted kinds of the sky run's embeddings, and the interest an astronomer gives each.
PLANTED = PlantedConfig(
    n=256,
    dim=32,
    latent=8,
    clusters=4,
    extended_fraction=0.1,
    peculiar_fraction=0.08,
    peculiar_shift=8,
    spread=0.3,
    seed=2,
)
INTEREST = {"peculiar": 5, "extended": 3, "ordinary": 1, "boring": 1}


@pytest.fixture(scope="module")
def sky_run(tmp_path_factory) -> RunDir:
    """Four simulated 256 px fields (1.5 arcsec pixels) in 32 px tiles (256), with planted embeddings, ranked."""
    from radioexplore.ranking.rank import rank_run
    from radioexplore.simulation import SimulationConfig, simulate_survey

    survey = tmp_path_factory.mktemp("sky_survey")
    simulate_survey(survey, SimulationConfig(fields=4, size_px=256, seed=3), progress=False)
    run = ingest_with_truth(survey, tmp_path_factory.mktemp("sky") / "run", tile_px=32)
    emb, _ = planted_embeddings(PLANTED)
    assert len(emb) == len(run.read_tiles())
    write_npy(emb, run.embeddings("planted"))
    rank_run(run, "planted")
    run.record("embed", {}, key="planted", default_embedding="planted")
    return run


def _tile_area_deg2(run: RunDir, ids) -> tuple[float, float]:
    """Sum of the tiles' areas and outlines in deg2 and deg, from the pixel boxes and each header's pixel scale."""
    tiles = run.read_tiles().set_index("tile_id").loc[list(ids)]
    area = perimeter = 0.0
    for row in tiles.itertuples():
        header = fits.getheader(row.file)
        side = row.size * abs(header["CDELT2"])
        area += side**2
        perimeter += 4 * side
    return area, perimeter


def test_votable_export_carries_ucds_and_units(sky_run, tmp_path, cli_main):
    out = tmp_path / "c.xml"
    cli_main("export", "--run", sky_run.root, "--tiles", "3,17,20", "--format", "votable", "--out", out)
    table = parse_single_table(out)
    fields = {f.name: f for f in table.fields}
    assert fields["ra"].ucd == "pos.eq.ra;meta.main" and str(fields["ra"].unit) == "deg"
    assert fields["dec"].ucd == "pos.eq.dec;meta.main" and str(fields["dec"].unit) == "deg"
    assert fields["tile_id"].ucd == "meta.id;meta.main"
    assert fields["noise_rms"].ucd.startswith("instr.det.noise") and fields["noise_rms"].unit.to_string() == "Jy / beam"
    assert str(fields["x0"].unit) == "pix" and fields["x0"].ucd == "pos.cartesian.x;instr.det"
    for f in table.fields:  # every column has a UCD of the IVOA vocabulary
        assert f.ucd and check_ucd(f.ucd, check_controlled_vocabulary=True), f.name
    tiles = sky_run.read_tiles().set_index("tile_id")
    data = table.to_table()
    assert list(data["tile_id"]) == [3, 17, 20]
    np.testing.assert_allclose(data["noise_rms"], tiles.loc[[3, 17, 20], "noise_rms"])


def test_moc_of_the_candidates_has_the_tiles_area(sky_run, tmp_path, cli_main):
    from mocpy import MOC

    ids = [0, 1, 2, 5, 20]  # 0, 1 and 2 touch: the MOC is their union
    out = tmp_path / "c.moc.fits"
    cli_main("export", "--run", sky_run.root, "--tiles", ",".join(map(str, ids)), "--format", "moc", "--out", out)
    moc = MOC.from_fits(out)
    area = moc.sky_fraction * 4 * np.pi * (180 / np.pi) ** 2
    expected, perimeter = _tile_area_deg2(sky_run, ids)
    cell = MOC.order_to_spatial_resolution(moc.max_order).to_value("deg")
    # a MOC holds every cell a box touches: at least the boxes, at most about one cell more along their outline
    assert expected * (1 - 1e-4) <= area <= expected + perimeter * cell
    assert cell * 3600 <= 2 * 1.5  # the default order: cells no wider than two pixels
    tiles = sky_run.read_tiles().set_index("tile_id")
    inside = moc.contains_lonlat(tiles["ra"].to_numpy() * u.deg, tiles["dec"].to_numpy() * u.deg)
    assert set(np.flatnonzero(inside)) == set(ids)

    from radioexplore.review.moc import footprint_moc, tiles_moc

    every = tiles_moc(sky_run.read_tiles(), 15)  # the survey: one box per tile, or one per field, alike
    survey = footprint_moc(sky_run.read_tiles(), 15)
    all_ids = sky_run.read_tiles()["tile_id"]
    expected, perimeter = _tile_area_deg2(sky_run, all_ids)
    cell = MOC.order_to_spatial_resolution(15).to_value("deg")
    for m in (every, survey):
        assert expected * (1 - 1e-4) <= m.area_deg2 <= expected + perimeter * cell and m.n_without_wcs == 0
    assert survey.area_deg2 == pytest.approx(every.area_deg2, rel=0.02)


def test_moc_of_the_reviewed_sky_grows_with_the_labels(sky_run, tmp_path, cli_main):
    import shutil

    from mocpy import MOC

    run = RunDir(tmp_path / "run")
    shutil.copytree(sky_run.root, run.root)
    code, _, err = cli_main("labels", "moc", "--run", run.root, "--out", tmp_path / "none.fits", check=False)
    assert code == 2 and "no tile" in err and "label" in err and len(err.strip().splitlines()) == 1
    store = LabelStore.for_run(run, who="ada")
    store.add(4, "COMPACT", interest=2)
    store.add(30, "PECULIAR")
    event = store.add(9, interest=5)
    store.undo(event.event_id)  # retracted: tile 9 carries nothing
    _, out, _ = cli_main("labels", "moc", "--run", run.root, "--out", tmp_path / "r.fits", "--order", 16)
    assert "2 labelled tiles" in out and "order 16" in out
    moc = MOC.from_fits(tmp_path / "r.fits")
    assert moc.max_order == 16
    expected, perimeter = _tile_area_deg2(run, [4, 30])
    area = moc.sky_fraction * 4 * np.pi * (180 / np.pi) ** 2
    assert expected * (1 - 1e-4) <= area <= expected + perimeter * MOC.order_to_spatial_resolution(16).to_value("deg")
    tiles = run.read_tiles().set_index("tile_id")
    inside = moc.contains_lonlat(tiles["ra"].to_numpy() * u.deg, tiles["dec"].to_numpy() * u.deg)
    assert set(np.flatnonzero(inside)) == {4, 30}


# -- SAMP -------------------------------------------------------------------------------------------
WAIT = 20  # seconds any one message may take to arrive


@pytest.fixture
def hub(tmp_path):
    """A SAMP hub on localhost (standard profile only, its lock file in the test's folder), stopped after."""
    from pyvo.samp import SAMPHubServer

    server = SAMPHubServer(web_profile=False, lockfile=str(tmp_path / "samp.lock"), label="test")
    server.start(wait=False)
    yield server
    server.stop()


class _Viewer:
    """A stand-in for DS9 / TOPCAT: a client that records what it is sent."""

    def __init__(self, hub) -> None:
        import queue

        from pyvo.samp import SAMPIntegratedClient

        self.received: queue.Queue = queue.Queue()
        self.client = SAMPIntegratedClient(name="viewer")
        self.client.connect(hub_params=hub.params)
        for mtype in ("image.load.fits", "table.load.votable"):
            self.client.bind_receive_notification(mtype, self._got)

    def _got(self, private_key, sender_id, mtype, params, extra) -> None:
        self.received.put((mtype, params))

    def next(self) -> tuple[str, dict]:
        return self.received.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()


def test_samp_sends_the_tile_and_a_table_and_maps_positions_and_rows_back(sky_run, hub, tmp_path):
    import queue

    from astropy.wcs import WCS

    from radioexplore.io.fits import read_image
    from radioexplore.review.export import candidate_table
    from radioexplore.review.samp import SampLink, url_path

    tiles = sky_run.read_tiles().set_index("tile_id")
    opened: queue.Queue = queue.Queue()
    viewer = _Viewer(hub)
    link = SampLink(sky_run, on_tile=opened.put, workdir=tmp_path / "sent").connect(hub_params=hub.params)
    try:
        # out: the tile as a FITS image with its WCS
        assert link.send_tile(17) == [viewer.client.get_public_id()]
        mtype, params = viewer.next()
        assert mtype == "image.load.fits" and params["url"].startswith("file://")
        with fits.open(url_path(params["url"])) as hdul:
            data, header = hdul[0].data, hdul[0].header
        box = tiles.loc[17]
        source = read_image(box["file"])
        assert header["TILE_ID"] == 17
        np.testing.assert_array_equal(data, source.read_box(int(box["x0"]), int(box["y0"]), int(box["size"])))
        ra, dec = WCS(header).pixel_to_world_values(5.0, 7.0)
        ra0, dec0 = source.pixel_to_world(np.array([box["x0"] + 5.0]), np.array([box["y0"] + 7.0]))
        assert ra == pytest.approx(ra0[0]) and dec == pytest.approx(dec0[0])
        # out: a candidate table as a VOTable with UCDs
        ids = [40, 3, 200]
        link.send_table(candidate_table(sky_run, ids), "top3")
        mtype, params = viewer.next()
        assert mtype == "table.load.votable" and params["name"] == "top3"
        table = parse_single_table(url_path(params["url"]))
        assert list(table.array["tile_id"]) == ids
        assert {f.name: f.ucd for f in table.fields}["ra"] == "pos.eq.ra;meta.main"

        # back: a sky position (a call, answered with the tile) and a highlighted row (a notification)
        me = link.client.get_public_id()
        ra, dec = source.pixel_to_world(np.array([box["x0"] + 2.0]), np.array([box["y0"] + 29.0]))
        reply = viewer.client.ecall_and_wait(me, "coord.pointAt.sky", str(WAIT), ra=str(ra[0]), dec=str(dec[0]))
        assert reply["samp.status"] == "samp.ok" and reply["samp.result"]["tile_id"] == "17"
        assert opened.get(timeout=WAIT) == 17
        far = viewer.client.ecall_and_wait(me, "coord.pointAt.sky", str(WAIT), ra="10.0", dec="45.0")
        assert far["samp.status"] == "samp.warning" and opened.empty()  # on no tile: nothing opens
        viewer.client.enotify(
            me, "table.highlight.row", **{"table-id": params["table-id"], "url": params["url"], "row": "2"}
        )
        assert opened.get(timeout=WAIT) == 200
        # a row of a table this link did not send: read from the table at the URL
        reply = viewer.client.ecall_and_wait(
            me, "table.highlight.row", str(WAIT), **{"table-id": "elsewhere", "url": params["url"], "row": "1"}
        )
        assert reply["samp.result"]["tile_id"] == "3" and opened.get(timeout=WAIT) == 3
    finally:
        link.close()
        viewer.close()
    assert not link.connected


def test_samp_without_a_hub_says_so_in_one_line(sky_run, tmp_path):
    from radioexplore.review.samp import SampLink, SampUnavailable

    missing = {"samp.hub.xmlrpc.url": "http://127.0.0.1:9/", "samp.secret": "x", "samp.profile.version": "1.3"}
    link = SampLink(sky_run)
    with pytest.raises(SampUnavailable) as info:
        link.connect(hub_params=missing)
    assert "no SAMP hub is running" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SampUnavailable):
        link.send_tile(0)
    link.close()
    assert not link.workdir.exists()


def test_app_sends_over_samp_opens_what_comes_back_and_says_when_no_hub_runs(sky_run, hub, tmp_path):
    import shutil

    from app.state import ExplorerState
    from app.views.samp import SampView

    run = RunDir(tmp_path / "run")
    shutil.copytree(sky_run.root, run.root)
    state = ExplorerState(run)
    missing = {"samp.hub.xmlrpc.url": "http://127.0.0.1:9/", "samp.secret": "x", "samp.profile.version": "1.3"}
    offline = SampView(state=state, hub_params=missing)
    state.selected_tile = 4
    offline.send_tile()
    assert offline.message.startswith("No SAMP hub is running") and "\n" not in offline.message
    assert state.selected_tile == 4  # the rest goes on

    viewer = _Viewer(hub)
    view = SampView(state=state, hub_params=hub.params)
    try:
        view.send_tile()
        mtype, params = viewer.next()
        assert mtype == "image.load.fits" and "tile 4" in params["name"]
        assert view.message == "Sent tile 4 as FITS to viewer."
        view.top = 5
        view.send_table()
        mtype, params = viewer.next()
        top5 = state.top_anomalies(5)["tile_id"].tolist()
        assert mtype == "table.load.votable" and list(parse_single_table(params["url"][7:]).array["tile_id"]) == top5
        assert view.message == "Sent 5 candidates as a VOTable to viewer."
        tiles = run.read_tiles().set_index("tile_id")
        me = view.link.client.get_public_id()
        viewer.client.ecall_and_wait(
            me, "coord.pointAt.sky", str(WAIT), ra=str(tiles.loc[150, "ra"]), dec=str(tiles.loc[150, "dec"])
        )
        assert state.selected_tile == 150 and "Opened tile 150" in view.message
    finally:
        view.close()
        viewer.close()


# -- review coverage and the stopping signal --------------------------------------------------------
def _estimate(out: str) -> int:
    import re

    found = re.search(r"left unseen: about (\d+) of (\d+) unseen ranked tiles", out)
    assert found, out
    return int(found.group(1))


def test_labels_summary_prints_coverage_and_the_estimate_falls_as_high_interest_tiles_are_labelled(
    sky_run, tmp_path, cli_main
):
    import re
    import shutil

    from radioexplore.ranking.active import ActiveRanker

    run = RunDir(tmp_path / "run")
    shutil.copytree(sky_run.root, run.root)
    _, out, _ = cli_main("labels", "summary", "--run", run.root)
    assert "seen 0 (0.0%), labelled 0 (0.0%)" in out and "no interest scores yet" in out
    assert "labelled 0.0000 of" in out and out.count("field_00") == 4

    _, truth = planted_embeddings(PLANTED)
    kind = truth["kind"].to_numpy()
    exclude = ActiveRanker.from_run(run, "planted").exclude
    ranked = np.ones(len(kind), dtype=bool) if exclude is None else ~exclude
    rng = np.random.default_rng(0)
    peculiar = rng.permutation(np.flatnonzero((kind == "peculiar") & ranked))
    extended = rng.permutation(np.flatnonzero((kind == "extended") & ranked))
    ordinary = rng.permutation(np.flatnonzero(np.isin(kind, ["ordinary", "boring"]) & ranked))
    store = LabelStore.for_run(run, who="ada")
    first = [*peculiar[:5], *extended[:5], *ordinary[:15]]
    for tile in first:
        store.add(int(tile), interest=INTEREST[kind[tile]])
    looked = store.add(int(ordinary[15]), "COMPACT")
    store.undo(looked.event_id)  # seen, but carries nothing now
    _, out, _ = cli_main("labels", "summary", "--run", run.root)
    n = len(kind)
    assert f"seen 26 ({100 * 26 / n:.1f}%), labelled 25 ({100 * 25 / n:.1f}%)" in out
    fields = run.read_tiles()["field"].to_numpy()
    for field in np.unique(fields):  # per field: tiles, seen, labelled
        row = next(line.split() for line in out.splitlines() if line.strip().startswith(field))
        on_field = fields[np.array(first)] == field
        assert int(row[1]) == (fields == field).sum() and int(row[3]) == on_field.sum()
    area = float(re.search(r"sky: labelled ([\d.]+) of", out).group(1))
    expected, perimeter = _tile_area_deg2(run, first)
    assert expected * (1 - 1e-3) <= area <= expected + perimeter * 3 / 3600 + 1e-4
    remaining = len(peculiar) - 5
    before = _estimate(out)
    assert 0 < before <= remaining + 2  # the model finds most of the unseen peculiar tiles, few others

    for tile in peculiar[5:12]:  # the astronomer finds seven more
        store.add(int(tile), interest=5)
    _, out, _ = cli_main("labels", "summary", "--run", run.root)
    after = _estimate(out)
    assert after < before

    for tile in peculiar[12:]:  # and then the rest
        store.add(int(tile), interest=5)
    _, out, _ = cli_main("labels", "summary", "--run", run.root)
    assert _estimate(out) < after and _estimate(out) <= 1


def test_app_shows_the_coverage(sky_run, tmp_path):
    import shutil

    from app.state import ExplorerState
    from app.views.coverage import CoverageView

    run = RunDir(tmp_path / "run")
    shutil.copytree(sky_run.root, run.root)
    LabelStore.for_run(run, who="ada").add(7, "COMPACT", interest=1)
    view = CoverageView(state=ExplorerState(run))
    view.refresh()
    assert view.text.startswith("<pre>tiles: 256 in 4 field(s); seen 1 (0.4%), labelled 1 (0.4%)")
    assert "left unseen: about" in view.text


def test_the_readme_commands_for_other_tools_run_as_written(sky_run, tmp_path, monkeypatch, cli_main):
    import re
    import shlex
    import shutil

    from mocpy import MOC

    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"<!-- test: vo -->\s*```bash\n(.*?)```", text, flags=re.S)
    shutil.copytree(sky_run.root, tmp_path / "runs" / "mine")
    LabelStore.for_run(RunDir(tmp_path / "runs" / "mine"), who="ada").add(12, "PECULIAR", interest=5)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "radioexplore"
            outputs.append(cli_main(*words[1:])[1])
    assert (
        MOC.from_fits(tmp_path / "reviewed.moc.fits")
        .contains_lonlat(
            sky_run.read_tiles().loc[[12], "ra"].to_numpy() * u.deg,
            sky_run.read_tiles().loc[[12], "dec"].to_numpy() * u.deg,
        )
        .all()
    )
    assert "labelled 1" in outputs[1] and "left unseen: about" in outputs[1]


def test_a_run_without_celestial_wcs_has_no_moc_and_says_so(tmp_path, cli_main):
    from radioexplore.ingest.images import IngestConfig, ingest

    image = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)).writeto(image)
    run = RunDir(tmp_path / "run")
    ingest([image], run, IngestConfig(tile_px=32), progress=False)
    LabelStore.for_run(run, who="ada").add(1, "COMPACT", interest=2)
    code, _, err = cli_main("labels", "moc", "--run", run.root, "--out", tmp_path / "m.fits", check=False)
    assert code == 2 and "celestial WCS" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.fits").exists()
    _, out, _ = cli_main("labels", "summary", "--run", run.root)
    assert "seen 1 (25.0%), labelled 1 (25.0%)" in out and "no tile has a celestial WCS" in out
    assert "no estimate" in out and "radioexplore rank" in out
