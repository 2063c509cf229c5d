"""Ingest of wide-field images: bad files reported by name, noise and counts against the truth,
catalogues, DQF from header or field table, our detector, three-channel tiles."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import zarr
from astropy.io import fits

from radioexplore.ingest.fields import read_field_table
from radioexplore.ingest.images import IngestConfig, ingest
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.schema import CONTRACT_COLUMNS
from radioexplore.simulation.run_truth import attach_truth
from tests.conftest import ingest_with_truth


@pytest.fixture(scope="module")
def truth_run(tmp_path_factory, small_survey) -> RunDir:
    """The small survey ingested in 128 px tiles with its catalogue and truth."""
    return ingest_with_truth(small_survey, tmp_path_factory.mktemp("ingest") / "run", tile_px=128)


def test_noise_is_within_20_percent_of_the_truth_for_90_percent_of_tiles(truth_run):
    tiles = truth_run.read_tiles()
    tiles = tiles[tiles["flag"] != "blank"]
    ratio = tiles["noise_rms"] / tiles["truth_noise"]
    assert (abs(ratio - 1) < 0.2).mean() >= 0.9, ratio.describe()
    assert abs(ratio.median() - 1) < 0.07


def test_catalogue_counts_equal_truth_counts_and_say_so(truth_run):
    tiles = truth_run.read_tiles()
    assert set(CONTRACT_COLUMNS) <= set(tiles.columns)
    assert (tiles["n_sources"] == tiles["truth_n_sources"]).all()
    assert (tiles["n_sources_from"] == "catalogue").all()
    assert truth_run.stage_config("ingest")["n_sources_from"] == ["catalogue"]
    assert tiles["file"].map(lambda f: f.startswith("/")).all()  # absolute: the app finds the pixels


def test_a_bad_batch_ingests_the_rest_and_names_each_bad_file(tmp_path, small_survey, cli_main):
    good = small_survey / "field_001.fits"
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes((small_survey / "field_000.fits").read_bytes()[:20000])
    blank = tmp_path / "all_nan.fits"
    data, header = fits.getdata(good, header=True)
    fits.PrimaryHDU(np.full_like(data, np.nan), header).writeto(blank)
    nowcs = tmp_path / "no_wcs.fits"
    fits.PrimaryHDU(data[0, 0], fits.Header({"BUNIT": "JY/BEAM"})).writeto(nowcs)
    run = tmp_path / "run"
    _, stdout, _ = cli_main("ingest", good, truncated, blank, nowcs, "--run", run, "--tile", "128")
    assert "FAILED" in stdout
    failed = {line for line in stdout.splitlines() if "FAILED" in line}
    assert any("truncated.fits" in x and "truncated" in x.split(":", 1)[1] for x in failed)
    assert any("all_nan.fits" in x and "no finite pixels" in x for x in failed)
    assert not any("no_wcs.fits" in x for x in failed)
    assert "no_wcs.fits: no celestial WCS; ingesting in pixel-only mode" in stdout
    report = json.loads((run / "ingest_report.json").read_text())
    assert set(report["failed"]) == {str(truncated), str(blank)} and len(report["ingested"]) == 2
    tiles = RunDir(run).read_tiles()
    assert len(tiles) == 32
    pixel_only = tiles[tiles["field"] == "no_wcs"]
    assert pixel_only["ra"].isna().all() and pixel_only["n_sources_from"].eq("detector").all()
    assert tiles.loc[tiles["field"] == "field_001", "ra"].notna().all()
    code, _, _ = cli_main("ingest", good, truncated, "--run", tmp_path / "run2", "--strict", check=False)
    assert code == 1


def test_pybdsf_catalogue_counts_with_and_without_multi_gaussian_sources(tmp_path, small_survey):
    truth = pd.read_csv(small_survey / "truth.csv")
    files = sorted(small_survey.glob("field_*.fits"))
    counts = {}
    for exclude in (False, True):
        run = RunDir(tmp_path / f"run{exclude}")
        config = IngestConfig(tile_px=128, catalog=str(small_survey / "pybdsf_srl.fits"), exclude_multi=exclude)
        ingest(files, run, config, progress=False)
        counts[exclude] = attach_truth(run, small_survey)
    # without the 'M' (extended) sources the PyBDSF list gives exactly the compact truth counts
    assert (counts[True]["n_sources"] == counts[True]["truth_n_sources"]).all()
    n_multi = int(((truth["kind"] != "compact") & truth["in_image"]).sum())
    assert n_multi > 0
    assert int(counts[False]["n_sources"].sum() - counts[True]["n_sources"].sum()) >= n_multi


def test_a_catalogue_on_a_pixel_only_image_falls_back_to_the_detector(tmp_path, small_survey):
    data = fits.getdata(small_survey / "field_002.fits")[0, 0]
    fits.PrimaryHDU(data).writeto(tmp_path / "plain.fits")
    report = ingest(
        [tmp_path / "plain.fits"],
        RunDir(tmp_path / "run"),
        IngestConfig(tile_px=256, catalog=str(small_survey / "catalogue.csv")),
        progress=False,
    )
    assert any("plain.fits" in w and "detector" in w for w in report.warnings)
    assert (RunDir(tmp_path / "run").read_tiles()["n_sources_from"] == "detector").all()


def test_dqf_comes_from_the_field_table_else_the_header(tmp_path, small_survey):
    files = sorted(small_survey.glob("field_*.fits"))[:2]
    header_dqf = [fits.getheader(f)["DQF"] for f in files]
    table = tmp_path / "fields.csv"
    table.write_text("field,dqf\nfield_000,3\n")  # field_001 is not in the table
    run = RunDir(tmp_path / "run")
    report = ingest(files, run, IngestConfig(tile_px=256, field_table=str(table), detect=False), progress=False)
    tiles = run.read_tiles()
    assert (tiles.loc[tiles["field"] == "field_000", "dqf"] == 3).all()
    assert (tiles.loc[tiles["field"] == "field_001", "dqf"] == header_dqf[1]).all()
    assert any("field_001.fits: not in the field table" in w for w in report.warnings)
    assert tiles["n_sources"].isna().all() and (tiles["n_sources_from"] == "").all()  # --no-detect
    by_file = tmp_path / "by_file.csv"
    by_file.write_text("file,dqf\nfield_001.fits,2\n")
    assert read_field_table(by_file)["field_001"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("field,dqf\nfield_000,7\n")
    with pytest.raises(ValueError, match="bad.csv: row 2: dqf must be 0, 1, 2 or 3"):
        read_field_table(bad)


def test_without_a_catalogue_our_detector_counts_sources_close_to_the_truth(tmp_path, small_survey):
    run = RunDir(tmp_path / "run")
    ingest(sorted(small_survey.glob("field_*.fits")), run, IngestConfig(tile_px=128), progress=False)
    tiles = attach_truth(run, small_survey)
    assert (tiles["n_sources_from"] == "detector").all() and tiles["n_sources"].notna().all()
    ok = tiles[tiles["flag"] != "blank"]
    detected, truth = ok["n_sources"].astype(float), ok["truth_n_sources"].astype(float)
    # sources near 5 sigma scatter across the threshold both ways (seed 000, sec. 2.3: catalogue
    # counts are noisy labels), so small tiles agree to a source or two, not exactly
    assert np.corrcoef(detected, truth)[0, 1] > 0.75
    assert (detected - truth).abs().mean() < 1.5
    assert abs(detected.sum() / truth.sum() - 1) < 0.2


def test_three_channel_scaling_gives_three_channel_tiles_end_to_end(tmp_path, small_survey, cli_main):
    run = tmp_path / "run"
    cli_main("ingest", small_survey / "field_003.fits", "--run", run, "--tile", "128", "--scaling", "three_channel")
    store = zarr.open_array(str(run / "tiles.zarr"), mode="r")
    assert store.shape == (16, 3, 128, 128)
    tiles = np.asarray(store[:], dtype=np.float32)
    # sigma-clip 5/30, zscale 0.25, zscale 0.4 (seed 002): three different views of the same pixels
    assert not np.allclose(tiles[:, 0], tiles[:, 1]) and not np.allclose(tiles[:, 1], tiles[:, 2])
    assert RunDir(run).stage_config("ingest")["channels"] == 3
    cli_main("embed", "--run", run, "--name", "vit", "--batch-size", "8")
    assert RunDir(run).read_embeddings("vit").shape[0] == 16


def test_scaling_parameters_reach_the_scaler(tmp_path, small_survey, cli_main):
    run = tmp_path / "run"
    cli_main("ingest", small_survey / "field_003.fits", "--run", run, "--tile", "256", "--scaling-param", "high=99.9")
    state = RunDir(run).stage_config("ingest")
    assert state["scaling_params"] == {"high": 99.9}
    code, _, err = cli_main(
        "ingest", small_survey / "field_003.fits", "--run", run, "--scaling-param", "high", check=False
    )
    assert code != 0 and "NAME=NUMBER" in err


def test_errors_say_what_to_do(tmp_path, small_survey, cli_main):
    code, _, err = cli_main("ingest", "--run", tmp_path / "r", check=False)
    assert code != 0 and "--stamps" in err
    stamps = tmp_path / "s"
    stamps.mkdir()
    shutil.copy(small_survey / "field_000.fits", stamps)
    code, _, err = cli_main(
        "ingest", small_survey / "field_000.fits", "--stamps", stamps, "--run", tmp_path / "r", check=False
    )
    assert code != 0 and "not both" in err
