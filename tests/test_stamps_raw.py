"""Raw FITS cutouts as an archive serves them (Jy/beam, noise, NaN borders) work through the defaults of
`ingest --stamps` and `embed` (issue 21): noise-aware scaling, one common size, no padding into zeros."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from astropy.io import fits

from radioexplore.assets import shipped_checkpoints
from radioexplore.evaluation.probes import linear_probe
from radioexplore.ingest.scaling import make_scaler
from radioexplore.ingest.stamps import StampConfig, ingest_stamps
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.cutouts import CutoutConfig, cutout_header, raw_cutout, write_fr_collection


def _write(path, image, config=None):
    header = cutout_header(150.0, 2.0, config or CutoutConfig())
    fits.PrimaryHDU(image.astype(np.float32), header).writeto(path)


def _stored(run: RunDir) -> np.ndarray:
    return np.asarray(zarr.open_array(str(run.tile_pixels), mode="r")[:, 0], dtype=np.float32)


@pytest.mark.skipif("real" not in shipped_checkpoints(), reason="no shipped 'real' checkpoint in assets/checkpoints")
def test_raw_cutouts_probe_as_well_as_clean_stamps_through_the_defaults(tmp_path, cli_main):
    """Acceptance of issue 21: raw 300 px FIRST-like cutouts, ingested and embedded with the README's
    commands at their defaults, give an FR I / FR II probe error within 3 points of the same objects
    as clean 3-sigma-clipped 150 px stamps."""
    paths = write_fr_collection(tmp_path / "sim", n_per_class=60, seed=3)
    errors = {}
    for kind in ("raw", "clean"):
        run = tmp_path / f"run_{kind}"
        cli_main("ingest", "--stamps", paths[kind], "--labels", paths["labels"], "--run", run)
        cli_main("embed", "--run", run)
        rd = RunDir(run)
        tiles = rd.read_tiles()
        assert tiles["label"].notna().all()
        probe = linear_probe(rd.read_embeddings("vit"), tiles["label"].to_numpy(str), "classification", 50, 5, seed=0)
        errors[kind] = probe.metrics["error"]
    raw = RunDir(tmp_path / "run_raw")
    ingest = raw.stage_config("ingest")
    assert (ingest["scaling"], ingest["stamp_fit"], ingest["tile_px"]) == ("sigmaclip", "resample", 256)
    assert raw.stage_config("embed", "vit")["embed_px"] == 96  # the whole stamp as the model's field of view
    assert (raw.read_tiles()["flag"] == "partial").sum() > 0  # some cutouts had NaN borders, and say so
    assert RunDir(tmp_path / "run_clean").stage_config("ingest")["tile_px"] == 150  # clean stamps kept native
    assert errors["raw"] <= errors["clean"] + 0.03, errors
    assert errors["clean"] < 0.25, errors  # the probe sees the morphology at all


def test_a_150_px_stamp_fills_its_tile_and_a_larger_one_is_resampled_to_the_common_size(tmp_path, cli_main):
    """No padding into zeros: a collection of mostly 150 px stamps is ingested at 150 px, each stamp's
    corner sources stay in the tile's corners, and a 300 px stamp is shrunk onto the same grid."""
    folder = tmp_path / "stamps"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, n in enumerate((150, 150, 150, 300)):
        image = rng.normal(0, 1.5e-4, (n, n))
        for cy, cx in ((0.1, 0.1), (0.9, 0.85), (0.5, 0.5)):  # sources near two corners and at the centre
            yy, xx = np.mgrid[:n, :n]
            image += 0.02 * np.exp(-((yy - cy * n) ** 2 + (xx - cx * n) ** 2) / (2 * (0.02 * n) ** 2))
        _write(folder / f"s{i}.fits", image, CutoutConfig(raw_px=n))
    run = RunDir(tmp_path / "run")
    cli_main("ingest", "--stamps", folder, "--run", run.root)
    tiles = run.read_tiles()
    assert list(tiles["zoom"]) == [1.0, 1.0, 1.0, 0.5] and list(tiles["size"]) == [150, 150, 150, 300]
    stored = _stored(run)
    assert stored.shape == (4, 150, 150)
    for tile in stored:
        peaks = [tile[int(cy * 150) - 3 : int(cy * 150) + 4, int(cx * 150) - 3 : int(cx * 150) + 4].max()
                 for cy, cx in ((0.1, 0.1), (0.9, 0.85), (0.5, 0.5))]  # fmt: skip
        assert min(peaks) > 0.8  # each source where it was in the stamp, at the top of the scale
        assert (tile == 0).mean() > 0.8  # the noise is clipped to the floor
        # emission reaches within 15% of the edges: the stamp fills the tile, no frame of zeros round it
        assert tile[:25].max() > 0.5 and tile[-25:].max() > 0.5
    # with the old default (pad to 256) the same stamp would sit in a frame of zeros: shown for contrast
    old = RunDir(tmp_path / "old")
    ingest_stamps(folder, old, StampConfig(tile_px=256, fit="pad", detect=False), progress=False)
    assert (_stored(old)[0][:50] == 0).all()


def test_nan_borders_are_filled_at_the_floor_flagged_and_do_not_change_the_scaling(tmp_path):
    """A cutout with a NaN border scales like the same cutout without it: the border is 0 (the floor,
    the background after subtraction), the tile is flagged partial, and no edge appears at the border."""
    config = CutoutConfig(nan_fraction=0.0, field_sources=0.0, size_px=(60.0, 80.0))  # the object clear of the border
    image = raw_cutout("FRII", np.random.default_rng(7), config)
    bordered = image.copy()
    bordered[:, :90] = np.nan  # 30% of the cutout beyond the survey's edge
    folder = tmp_path / "stamps"
    folder.mkdir()
    _write(folder / "a_whole.fits", image)
    _write(folder / "b_border.fits", bordered)
    run = RunDir(tmp_path / "run")
    ingest_stamps(folder, run, StampConfig(detect=False), progress=False)
    tiles = run.read_tiles().set_index("field")
    assert tiles.loc["a_whole", "flag"] == "ok" and tiles.loc["b_border", "flag"] == "partial"
    assert tiles.loc["b_border", "finite_fraction"] == pytest.approx(0.7, abs=0.02)
    whole, border = _stored(run)
    edge = int(np.ceil(90 * 256 / 300)) + 2  # where the blank part ends on the 256 px tile
    assert (border[:, : edge - 4] == 0).all()  # filled at the floor
    np.testing.assert_allclose(border[:, edge:], whole[:, edge:], atol=0.02)  # same scaling where both see sky
    assert np.mean(border[:, edge : edge + 6] > 0) < 0.2  # no bright rim along the blank border
    scaler = make_scaler("sigmaclip")
    for pixels in (image, bordered):  # the state is fitted on finite pixels: the border plays no part
        state = scaler.fit(pixels[np.isfinite(pixels)])
        assert state["rms"] == pytest.approx(1.5e-4, rel=0.1) and abs(state["median"]) < 3e-5


def test_pictures_keep_minmax_and_fits_stamps_get_the_noise_aware_scaling(tmp_path):
    from PIL import Image

    folder = tmp_path / "stamps"
    folder.mkdir()
    rng = np.random.default_rng(1)
    picture = np.zeros((64, 64), np.uint8)
    picture[20:40, 30:34] = np.linspace(40, 200, 20)[:, None].astype(np.uint8)
    Image.fromarray(picture).save(folder / "p.png")
    _write(folder / "f.fits", rng.normal(0, 1.5e-4, (64, 64)), CutoutConfig(raw_px=64))
    run = RunDir(tmp_path / "run")
    ingest_stamps(folder, run, StampConfig(detect=False), progress=False)
    ingest = run.stage_config("ingest")
    assert (ingest["scaling"], ingest["picture_scaling"], ingest["tile_px"]) == ("sigmaclip", "minmax", 64)
    f, p = _stored(run)
    assert np.mean(f == 0) > 0.95  # pure noise: almost all below 3 sigma, at the floor
    assert p.max() == 1 and p[p > 0].min() == pytest.approx(40 / 200, abs=0.01)  # min-max of the picture


def test_a_fits_cutout_is_embedded_as_the_stamps_run_embedded_its_stamps(tmp_path):
    """Searching a stamps run with a FITS cutout: the cutout is resampled and scaled as ingest did its
    stamps, so a stamp of the run, uploaded again, lands on its own embedding."""
    import torch

    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.models.checkpoint import save_backbone
    from radioexplore.space.cutout.query import embed_cutout

    spec = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=32, depth=1)
    torch.manual_seed(0)
    ckpt = tmp_path / "vit.pt"
    save_backbone(ckpt, build_backbone(spec), spec)
    folder = tmp_path / "stamps"
    folder.mkdir()
    rng = np.random.default_rng(2)
    config = CutoutConfig(raw_px=120, size_px=(30.0, 50.0))
    for i, n in enumerate((80, 80, 120)):
        _write(folder / f"s{i}.fits", raw_cutout(("FRI", "FRII")[i % 2], rng, config)[:n, :n], CutoutConfig(raw_px=n))
    run = RunDir(tmp_path / "run")
    ingest_stamps(folder, run, StampConfig(detect=False), progress=False)
    embed_run(run, EmbedConfig(checkpoint=str(ckpt)), progress=False)
    assert run.stage_config("ingest")["tile_px"] == 80
    cut = embed_cutout(run, "vit", folder / "s2.fits")
    assert cut.scaling == "sigmaclip" and any("zoom 0.667" in note for note in cut.notes)
    np.testing.assert_allclose(cut.vector, run.read_embeddings("vit")[2], atol=2e-2)
