"""Real data through ingest: the three ATCA SCORPIO images and FR-DEEP FIRST stamps (shared/realdata)."""

import json

import numpy as np
import pandas as pd
import pytest
import zarr
from PIL import Image

from radioexplore.ingest.noise import mad_rms
from radioexplore.io.fits import read_image
from radioexplore.run.rundir import RunDir
from tests.conftest import REALDATA

SCORPIO = sorted((REALDATA / "scorpio").glob("*.fits"))
needs_realdata = pytest.mark.skipif(
    len(SCORPIO) != 3 or not (REALDATA / "frdeep.npz").is_file(),
    reason=f"the real data folder {REALDATA} (SCORPIO images and frdeep.npz) is not there",
)


@pytest.fixture(scope="module")
def frdeep():
    with np.load(REALDATA / "frdeep.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def scorpio_run(tmp_path_factory, cli):
    run = tmp_path_factory.mktemp("scorpio") / "run"
    out = cli("ingest", *SCORPIO, "--run", run)
    return RunDir(run), out.stdout


@needs_realdata
def test_the_three_scorpio_images_ingest_end_to_end(scorpio_run):
    run, _ = scorpio_run
    tiles = run.read_tiles()
    assert len(tiles) == 3 * 16  # 1000 px in 256 px crops: 4 x 4 per image, 8 px overlap
    assert set(tiles["field"]) == {p.stem for p in SCORPIO}
    assert (tiles["bunit"] == "JY/BEAM").all() and (tiles["flag"] == "ok").all()
    assert tiles["ra"].between(256, 258).all() and tiles["dec"].between(-44, -42).all()  # NCP projection evaluated
    image = read_image(SCORPIO[0])
    assert image.header["CTYPE1"] == "RA---NCP" or image.wcs.wcs.ctype[0] == "RA---SIN"  # wcslib: NCP = SIN + PV
    assert abs(image.beam.bmaj_arcsec - 6.5) < 0.01 and abs(image.pixel_arcsec - 1.5) < 0.01
    # counts from our detector, thresholds in units of the measured rms (no catalogue given)
    assert (tiles["n_sources_from"] == "detector").all() and tiles["n_sources"].sum() > 50
    assert run.stage_config("ingest")["n_sources_from"] == ["detector"]


@needs_realdata
def test_scorpio_noise_is_robust_in_jy_per_beam_and_agrees_with_a_mad(scorpio_run):
    run, _ = scorpio_run
    tiles = run.read_tiles()
    images = {p.stem: read_image(p) for p in SCORPIO}
    mad = np.array([mad_rms(images[r.field].read_box(r.x0, r.y0, r.size)) for r in tiles.itertuples()])
    ratio = tiles["noise_rms"].to_numpy() / mad
    assert tiles["noise_rms"].between(3e-5, 1e-3).all()  # Jy/beam, ~0.1 mJy: thirty times MeerKAT's
    assert (np.abs(ratio - 1) < 0.2).mean() >= 0.85, np.round(ratio, 2)
    assert abs(np.median(ratio) - 1) < 0.1
    assert (ratio < 1.05).all()  # where emission fills a crop the MAD reads high; the masked estimate does not


@needs_realdata
def test_the_shared_footprint_warning_names_all_three_files(scorpio_run):
    run, stdout = scorpio_run
    report = json.loads(run.ingest_report.read_text())
    warning = [w for w in report["warnings"] if "same sky footprint" in w]
    assert len(warning) == 1 and "3 files" in warning[0]
    assert all(p.name in warning[0] for p in SCORPIO) and all(p.name in stdout for p in SCORPIO)


@needs_realdata
def test_frdeep_first_pngs_with_a_labels_csv_ingest_with_their_labels(tmp_path, cli_main, frdeep):
    images, labels, names = frdeep["x_first"][:40], frdeep["y_first"][:40], frdeep["label_names"]
    folder = tmp_path / "png"
    folder.mkdir()
    rows = []
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(img).save(folder / f"first_{i:03d}.png")
        rows.append({"file": f"first_{i:03d}.png", "label": names[y]})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    run = tmp_path / "run"
    cli_main("ingest", "--stamps", folder, "--labels", tmp_path / "labels.csv", "--run", run, "--tile", "128")
    tiles = RunDir(run).read_tiles()
    assert list(tiles["label"]) == [str(names[y]) for y in labels]
    assert (tiles["orig_width"] == 150).all() and (tiles["orig_height"] == 150).all()
    assert (tiles["x0"] == 11).all() and tiles["ra"].isna().all()  # centre-cropped; no WCS in a PNG
    store = np.asarray(zarr.open_array(str(run / "tiles.zarr"), mode="r")[:], dtype=np.float32)
    stamp = images[0][::-1].astype(np.float32)  # PNG rows flipped: row 0 at the bottom, as in FITS
    lo, hi = stamp.min(), stamp.max()  # per-stamp min-max (seed 001): each stamp is its own field
    expected = (stamp[11:139, 11:139] - lo) / (hi - lo)
    assert np.allclose(store[0, 0], expected, atol=2e-3)
    # the same folder with --stamp-fit resample keeps the whole 150 px stamp in the 128 px tile
    cli_main("ingest", "--stamps", folder, "--run", tmp_path / "r2", "--tile", "128", "--stamp-fit", "resample")
    t2 = RunDir(tmp_path / "r2").read_tiles()
    assert (t2["size"] == 150).all() and np.allclose(t2["zoom"], 128 / 150) and (t2["finite_fraction"] == 1).all()
    assert RunDir(tmp_path / "r2").stage_config("ingest")["stamp_fit"] == "resample"
