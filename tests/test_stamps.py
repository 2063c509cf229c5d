"""Stamp collections: one tile per FITS/PNG/JPEG file, fitted to the tile, with labels and WCS positions."""

import numpy as np
import pandas as pd
import pytest
import zarr
from astropy.io import fits
from PIL import Image

from radioexplore.ingest.stamp_files import StampError, read_stamp
from radioexplore.ingest.stamp_fit import fit_stamp
from radioexplore.ingest.stamps import StampConfig, ingest_stamps
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.schema import CONTRACT_COLUMNS
from radioexplore.simulation.instrument import field_wcs


def fits_stamp(path, size, ra, dec, wcs=True, seed=0, pixel_arcsec=1.8):
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1e-4, (size, size)).astype(np.float32)
    data[size // 2 - 2 : size // 2 + 3, size // 2 - 2 : size // 2 + 3] += 5e-3  # a source at the centre
    header = field_wcs(ra, dec, size, pixel_arcsec).to_header() if wcs else fits.Header()
    header["BUNIT"] = "JY/BEAM"
    fits.PrimaryHDU(data[None, None] if wcs else data, header).writeto(path)
    return data


def test_fits_stamps_larger_than_the_tile_ingest_with_their_wcs_positions(tmp_path, cli_main):
    folder = tmp_path / "stamps"
    folder.mkdir()
    positions = {"a": (150.1, 2.2), "b": (10.5, -45.25), "c": (359.9, 60.0)}
    for i, (name, (ra, dec)) in enumerate(positions.items()):
        fits_stamp(folder / f"{name}.fits", 300 + 2 * i, ra, dec, seed=i)
    run = tmp_path / "run"
    cli_main("ingest", "--stamps", folder, "--run", run, "--tile", "128")
    tiles = RunDir(run).read_tiles()
    assert set(CONTRACT_COLUMNS) <= set(tiles.columns)
    assert list(tiles["field"]) == ["a", "b", "c"] and list(tiles["tile_id"]) == [0, 1, 2]
    for row in tiles.itertuples():
        ra, dec = positions[row.field]
        assert (
            abs((row.ra - ra + 180) % 360 - 180) * np.cos(np.deg2rad(dec)) < 2 / 3600 and abs(row.dec - dec) < 2 / 3600
        )
    assert list(tiles["orig_width"]) == [300, 302, 304] and (tiles["size"] == 128).all() and (tiles["zoom"] == 1).all()
    assert (tiles["bunit"] == "JY/BEAM").all() and tiles["noise_rms"].between(0.9e-4, 1.1e-4).all()
    assert (tiles["n_sources"] == 1).all() and (tiles["n_sources_from"] == "detector").all()
    assert RunDir(run).stage_config("ingest")["stamp_fit"] == "pad"
    store = zarr.open_array(str(run / "tiles.zarr"), mode="r")
    assert store.shape == (3, 1, 128, 128)
    first = np.asarray(store[0, 0], dtype=np.float32)
    iy, ix = np.unravel_index(np.argmax(first), first.shape)
    assert 61 <= iy <= 66 and 61 <= ix <= 66 and first.max() == 1  # the central source, centre-cropped, min-max


def test_smaller_stamps_are_padded_or_resampled_or_enlarged(tmp_path):
    small = np.arange(60 * 40, dtype=np.float32).reshape(40, 60)  # 60 wide, 40 high
    tile, box, zoom = fit_stamp(small, 128, "pad")
    assert tile.shape == (128, 128) and box == (-34, -44, 128) and zoom == 1.0
    assert np.isfinite(tile).sum() == 60 * 40 and tile[44, 34] == small[0, 0]
    tile, box, zoom = fit_stamp(small, 128, "resample")
    assert box == (0, -10, 60) and zoom == pytest.approx(128 / 60)
    assert np.isnan(tile[0]).all() and np.isfinite(tile[64]).all()  # longer side fills, shorter padded
    tile, box, zoom = fit_stamp(small, 128, "crop")
    assert box == (10, 0, 40) and np.isfinite(tile).all()  # no padding: the shorter side fills the tile
    with pytest.raises(ValueError, match="pad, resample, crop"):
        fit_stamp(small, 128, "stretch")


def test_label_pattern_stamps_without_wcs_and_bad_files(tmp_path):
    folder = tmp_path / "stamps"
    (folder / "FRII").mkdir(parents=True)
    (folder / "FRI").mkdir()
    fits_stamp(folder / "FRI" / "src1.fits", 100, 0, 0, wcs=False)
    Image.fromarray((np.random.default_rng(1).random((64, 80)) * 255).astype(np.uint8)).save(
        folder / "FRII" / "src2.jpg"
    )
    (folder / "FRII" / "broken.png").write_bytes(b"not a picture")
    run = RunDir(tmp_path / "run")
    report = ingest_stamps(folder, run, StampConfig(tile_px=64, label_pattern=r"^(FRI|FRII)/"), progress=False)
    tiles = run.read_tiles()
    assert list(tiles["label"]) == ["FRI", "FRII"] and tiles["ra"].isna().all()
    assert list(tiles["orig_width"]) == [100, 80] and list(tiles["orig_height"]) == [100, 64]
    assert list(report.failed) == [str(folder / "FRII" / "broken.png")]
    assert "not a readable picture" in report.failed[str(folder / "FRII" / "broken.png")]
    assert zarr.open_array(str(run.tile_pixels), mode="r").shape == (2, 1, 64, 64)
    with pytest.raises(StampError, match="needs one group"):
        ingest_stamps(folder, run, StampConfig(label_pattern="FRI"), progress=False)


def test_labels_csv_problems_are_named(tmp_path):
    folder = tmp_path / "stamps"
    folder.mkdir()
    fits_stamp(folder / "a.fits", 64, 0, 0)
    fits_stamp(folder / "b.fits", 64, 0, 0)
    (tmp_path / "labels.csv").write_text("file,label\na.fits,FRI\nzzz.fits,FRII\n")
    report = ingest_stamps(
        folder, RunDir(tmp_path / "run"), StampConfig(labels=str(tmp_path / "labels.csv")), progress=False
    )
    assert any("zzz.fits" in w for w in report.warnings) and any(
        "1 stamp(s) have no label" in w for w in report.warnings
    )
    labels = RunDir(tmp_path / "run").read_tiles()["label"]
    assert labels.iloc[0] == "FRI" and pd.isna(labels.iloc[1])
    (tmp_path / "bad.csv").write_text("name,class\na.fits,FRI\n")
    with pytest.raises(StampError, match="bad.csv: a labels table needs columns file,label"):
        ingest_stamps(folder, RunDir(tmp_path / "run2"), StampConfig(labels=str(tmp_path / "bad.csv")), progress=False)


def test_sixteen_bit_png_and_rgb_jpeg_read_as_grey_levels(tmp_path):
    ramp = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert np.array_equal(read_stamp(tmp_path / "deep.png").pixels, ramp[::-1].astype(np.float32))
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(rgb).save(tmp_path / "colour.jpg")
    stamp = read_stamp(tmp_path / "colour.jpg")
    assert stamp.pixels.shape == (20, 30) and stamp.kind == "picture" and 100 < stamp.pixels.mean() < 140


def test_a_stamps_run_embeds_with_the_real_checkpoint_unless_told_otherwise(tmp_path, monkeypatch):
    """Without --checkpoint, stamps are embedded with the shipped checkpoint trained on more real stamps;
    an explicit choice, and runs of wide-field images, keep theirs."""
    import torch

    from radioexplore.assets import SHIPPED_CHECKPOINTS
    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.models.checkpoint import save_backbone

    spec = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=32, depth=1)
    assets = tmp_path / "assets"
    monkeypatch.setenv("RADIOEXPLORE_ASSETS", str(assets))
    for seed, name in enumerate(("demo", "real")):
        torch.manual_seed(seed)
        save_backbone(assets / SHIPPED_CHECKPOINTS[name], build_backbone(spec), spec)
    folder = tmp_path / "stamps"
    folder.mkdir()
    for i in range(3):
        fits_stamp(folder / f"s{i}.fits", 40, 10.0 + i, 5.0, seed=i)
    run = RunDir(tmp_path / "run")
    ingest_stamps(folder, run, StampConfig(tile_px=32), progress=False)
    embed_run(run, EmbedConfig(name="auto"), progress=False)
    embed_run(run, EmbedConfig(name="demo", checkpoint="demo"), progress=False)
    used = {name: run.stage_config("embed", name)["checkpoint_used"] for name in ("auto", "demo")}
    assert used["auto"] == str(assets / SHIPPED_CHECKPOINTS["real"])
    assert used["demo"] == str(assets / SHIPPED_CHECKPOINTS["demo"])
    assert not np.allclose(run.read_embeddings("auto"), run.read_embeddings("demo"))
    from radioexplore.embed.embedding import default_checkpoint_for

    wide = RunDir(tmp_path / "wide")
    wide.record("ingest", {"tile_px": 256})
    assert default_checkpoint_for(wide, EmbedConfig()).checkpoint is None  # the demo checkpoint
    assert default_checkpoint_for(run, EmbedConfig(random_init=True)).checkpoint is None


def test_evaluate_on_a_labelled_stamps_run_gives_the_label_table_only(tmp_path, monkeypatch):
    """A stamps run with labels and no simulation truth: its label table beside the count probe, each
    network embedding the stamps once."""
    import torch

    import radioexplore.embed.embedding
    from radioexplore.evaluation.checks import EvaluateConfig
    from radioexplore.evaluation.survey import evaluate_run
    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.models.checkpoint import save_backbone

    spec = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=32, depth=1)
    torch.manual_seed(0)
    ckpt = tmp_path / "vit.pt"
    save_backbone(ckpt, build_backbone(spec), spec)
    folder = tmp_path / "stamps"
    for label in ("FRI", "FRII"):
        (folder / label).mkdir(parents=True)
        for i in range(6):
            fits_stamp(folder / label / f"s{i}.fits", 40, 10.0 + i, 5.0, seed=i + (10 if label == "FRII" else 0))
    run = RunDir(tmp_path / "run")
    ingest_stamps(folder, run, StampConfig(tile_px=32, label_pattern=r"^(FRI|FRII)/"), progress=False)
    calls = []
    embed_tiles = radioexplore.embed.embedding.embed_tiles
    monkeypatch.setattr(
        radioexplore.embed.embedding, "embed_tiles", lambda *a, **k: calls.append(1) or embed_tiles(*a, **k)
    )
    report = evaluate_run(run, EvaluateConfig(checkpoint=str(ckpt), folds=3, pca_dims=5), progress=False)
    assert len(calls) == 2  # the checkpoint and its random network; the label table reuses both
    ((title, rows),) = report.label_tables.items()
    assert title == "labels of this run" and report.n_tiles == 12
    assert [r.features for r in rows] == ["checkpoint", "random init, same arch", "pixel PCA (64 px, 50 comp.)"]
    assert rows[0].baseline == "random init, same arch"
    # the detector's count (n_sources) is probed as on any run; extended-source truth exists only in simulations
    assert "count_trained" in report.probes and "extended_trained" not in report.probes
