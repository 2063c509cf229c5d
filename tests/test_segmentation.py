"""Diffuse-emission segmentation (seed 004): truth masks, seamless tiles, training, the segment command."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from astropy.io import fits
from astropy.wcs import WCS
from torch import nn

from radioexplore.models import build_segmenter
from radioexplore.run.rundir import RunDir
from radioexplore.segmentation.clusters import detection_ratio
from radioexplore.segmentation.detection_metrics import detection_metrics
from radioexplore.segmentation.scaling import noise_grid
from radioexplore.segmentation.tiling import plan_blocks, segment_array, segment_block
from radioexplore.segmentation.train import SegmentRecipe, bce_dice_loss, save_segmenter, train_steps
from radioexplore.simulation import SimulationConfig, simulate_survey
from radioexplore.simulation.diffuse import DIFFUSE_KINDS, read_diffuse_truth
from radioexplore.ssl.processes import setup_processes

torch.set_num_threads(1)


def _stub(kernel: int = 5) -> nn.Module:
    """A fixed function: a local average (a translation-equivariant map with a known receptive field)."""
    conv = nn.Conv2d(1, 1, kernel, padding=kernel // 2)
    with torch.no_grad():
        conv.weight.fill_(1.0 / kernel**2)
        conv.bias.fill_(0.2)
    return conv.eval()


def test_a_constant_image_segments_to_a_constant_map():
    image = np.full((300, 250), 3e-5, np.float32)
    prob = segment_array(image, noise_grid(image), _stub(), tile=64, margin=8)
    assert prob.shape == image.shape
    assert np.isfinite(prob).all()
    assert np.ptp(prob) < 1e-6


def test_tiles_reassemble_seamlessly_whatever_the_block_plan(rng):
    image = rng.normal(0, 1e-5, (200, 170)).astype(np.float32)
    image[50:90, 40:120] += 1e-4
    grid = noise_grid(image)
    model = _stub()
    whole = segment_array(image, grid, model, tile=48, margin=8)
    pieces = np.empty_like(whole)
    for b in plan_blocks(*image.shape, tile=48, margin=8, block_cores=1):
        pieces[b.y0 : b.y1, b.x0 : b.x1] = segment_block(b, image, grid, model, tile=48, margin=8)
    np.testing.assert_allclose(pieces, whole, atol=1e-6)
    # the same as the fixed function applied to the whole (mirror-padded) image at once: no seams
    from radioexplore.segmentation.scaling import noise_window, scale_input

    x = scale_input(image, noise_window(grid, 0, 0, image.shape[1], image.shape[0]))
    padded = torch.from_numpy(np.pad(x, 8, mode="symmetric"))[None, None]
    direct = torch.sigmoid(model(padded))[0, 0, 8:-8, 8:-8].detach().numpy()
    np.testing.assert_allclose(whole, direct, atol=1e-5)


class _FixedBatch:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def batch(self, n):
        return self.x[:n], self.y[:n]


def test_two_training_steps_on_eight_tiles_lower_the_loss(rng):
    yy, xx = np.mgrid[:64, :64]
    y = np.stack([((xx - rng.uniform(16, 48)) ** 2 + (yy - rng.uniform(16, 48)) ** 2 < 15**2) for _ in range(8)])
    x = rng.normal(0, 0.3, y.shape) + 0.8 * y
    x, y = (torch.tensor(a[:, None], dtype=torch.float32) for a in (x, y))
    torch.manual_seed(0)
    model = build_segmenter("unet_small")
    with torch.no_grad():
        before = float(bce_dice_loss(model(x), y))
    recipe = SegmentRecipe(steps=2, batch_size=8, lr=5e-3)
    train_steps(model, _FixedBatch(x, y), recipe, setup_processes("cpu"))
    with torch.no_grad():
        after = float(bce_dice_loss(model(x), y))
    assert after < before


@pytest.fixture(scope="module")
def cluster_survey(tmp_path_factory):
    out = tmp_path_factory.mktemp("clusters")
    config = SimulationConfig(fields=2, size_px=384, seed=11, naxis=2, halo_probability=1.0, relic_probability=1.0)
    simulate_survey(out, config, progress=False)
    return out


def test_the_simulator_writes_diffuse_truth_masks_and_a_cluster_table(cluster_survey):
    truth = pd.read_csv(cluster_survey / "truth.csv")
    clusters = pd.read_csv(cluster_survey / "clusters.csv")
    assert list(clusters["field"]) == ["field_000", "field_001"]
    for _, c in clusters.iterrows():
        labels = read_diffuse_truth(cluster_survey, c["field"])
        assert labels.shape == (384, 384) and labels.dtype == np.uint8
        assert set(np.unique(labels)) <= set(range(len(DIFFUSE_KINDS) + 1))
        halo = labels == 1 + DIFFUSE_KINDS.index("halo")
        assert halo.any(), "a halo at 3-8 sigma peak leaves pixels above 2 sigma"
        hy, hx = np.argwhere(halo).mean(axis=0)
        assert np.hypot(hx - c["x"], hy - c["y"]) < 0.5 * c["r500_px"]  # halos sit at the cluster centre
        assert c["diffuse"]
        # radio galaxies are not diffuse truth: their cores lie outside the mask unless a diffuse object overlaps
        rg = truth[(truth["field"] == c["field"]) & truth["kind"].isin(["fr1", "fr2"]) & truth["in_image"]]
        inside = labels[rg["y"].round().astype(int).clip(0, 383), rg["x"].round().astype(int).clip(0, 383)] > 0
        assert inside.mean() < 0.5 if len(rg) else True


def test_no_diffuse_objects_no_diffuse_truth(tmp_path):
    config = SimulationConfig(
        fields=1,
        size_px=256,
        seed=3,
        naxis=2,
        halo_probability=0.0,
        relic_probability=0.0,
        filaments_per_sq_deg=0.0,
        galaxies_per_sq_deg=400.0,
    )
    simulate_survey(tmp_path, config, progress=False)
    assert not read_diffuse_truth(tmp_path, "field_000").any()
    assert not pd.read_csv(tmp_path / "clusters.csv")["diffuse"].any()


def test_detection_ratio_and_scores():
    prob = np.zeros((50, 50), np.float32)
    prob[20:30, 20:30] = 1.0
    prob[0, :] = np.nan
    r, n = detection_ratio(prob, 25, 25, 10)
    assert n > 0 and 0 < r < 1
    assert detection_ratio(prob, 25, 25, 3)[0] == pytest.approx(1.0)
    s = detection_metrics(np.array([1.0, 0.0, 1.0, 0.0]), np.array([1, 1, 0, 0], bool), 0.5)
    assert s["accuracy"] == 0.5 and s["precision"] == 0.5 and s["false_negative_rate"] == 0.5


def test_segment_writes_wcs_aligned_maps_and_the_contract(cluster_survey, tmp_path, cli_main):
    from radioexplore.ingest.images import IngestConfig, ingest

    run = RunDir(tmp_path / "run")
    ingest(sorted(cluster_survey.glob("field_*.fits")), run, IngestConfig(tile_px=128), progress=False)
    torch.manual_seed(0)
    ckpt = tmp_path / "unet.pt"
    save_segmenter(ckpt, build_segmenter("unet_small"), SegmentRecipe(), {"command": "test"})
    cli_main("segment", "--run", run.root, "--checkpoint", ckpt, "--clusters", cluster_survey / "clusters.csv")
    for name in ("field_000", "field_001"):
        with fits.open(run.segment_map(name)) as seg, fits.open(cluster_survey / f"{name}.fits") as img:
            prob = seg[0].data
            assert prob.shape == img[0].data.shape and prob.dtype.kind == "f" and prob.dtype.itemsize == 4
            assert np.nanmin(prob) >= 0 and np.nanmax(prob) <= 1
            a, b = WCS(seg[0].header).celestial, WCS(img[0].header).celestial
            for x, y in ((0, 0), (383, 0), (100, 250)):
                np.testing.assert_allclose(a.pixel_to_world_values(x, y), b.pixel_to_world_values(x, y), atol=1e-10)
    tiles = run.read_segment_tiles()
    assert list(tiles.columns) == ["tile_id", "diffuse_mean", "diffuse_area"]
    assert sorted(tiles["tile_id"]) == sorted(run.read_tiles()["tile_id"])
    clusters = pd.read_parquet(run.segment_clusters)
    assert {"name", "ra", "dec", "r_pix", "R", "detected", "threshold"} <= set(clusters.columns)
    # R: a mean probability over the aperture plus the touching regions out to 1.5 R500 (at most 1.5**2)
    assert clusters["R"].between(0, 1.5**2).all() and (clusters["threshold"] == 0.015).all()
    assert clusters["diffuse"].all()  # the simulated table's truth column travels with the scores
    meta = json.loads(run.segment_meta.read_text())
    assert meta["threshold"] == 0.5 and meta["r_threshold"] == 0.015 and meta["built_from"]["n_tiles"] == len(tiles)
    options = (meta["tta"], meta["min_beams"], meta["max_negative_fraction"], meta["spoke_sigma"])
    assert options == (False, 30.0, 0.01, 5.0)  # the options used
    assert run.stage_config("segment")["checkpoint_used"] == str(ckpt)
    assert meta["cut_pattern"] is False
    assert meta["region_reach"] == 1.5  # the default: R also counts regions touching R500, out to 1.5 R500
    # R over the aperture alone (seed 004's) runs end to end: the same maps, R never above the default's
    cli_main(
        "segment",
        "--run",
        run.root,
        "--checkpoint",
        ckpt,
        "--clusters",
        cluster_survey / "clusters.csv",
        "--region-reach",
        "none",
    )
    alone = pd.read_parquet(run.segment_clusters)
    assert json.loads(run.segment_meta.read_text())["region_reach"] is None
    assert (alone["R"].to_numpy() <= clusters["R"].to_numpy() + 1e-12).all()
    assert alone["R"].between(0, 1).all()
    # no cluster table now: no stale scores; the pattern cut runs end to end and is recorded
    cli_main("segment", "--run", run.root, "--checkpoint", ckpt, "--cut-pattern")
    meta = json.loads(run.segment_meta.read_text())
    assert not run.segment_clusters.exists() and meta["clusters_table"] == "" and meta["cut_pattern"] is True
    assert meta["edge_sigma"] is None
    # the edge rule runs end to end, is recorded, and only adds pixels to the cut-pattern map
    before = {n: fits.getdata(run.segment_map(n)) for n in ("field_000", "field_001")}
    cli_main("segment", "--run", run.root, "--checkpoint", ckpt, "--cut-pattern", "--edge-sigma", "2")
    assert json.loads(run.segment_meta.read_text())["edge_sigma"] == 2.0
    for name, old in before.items():
        new = fits.getdata(run.segment_map(name))
        assert ((np.nan_to_num(new) > 0.5) >= (np.nan_to_num(old) > 0.5)).all()
    # the arc join runs end to end, is recorded, and only restores pieces the size test dropped
    before = {n: fits.getdata(run.segment_map(n)) for n in ("field_000", "field_001")}
    assert json.loads(run.segment_meta.read_text())["join_arcs"] is None
    cli_main(
        "segment", "--run", run.root, "--checkpoint", ckpt, "--cut-pattern", "--edge-sigma", "2", "--join-arcs", "2"
    )
    assert json.loads(run.segment_meta.read_text())["join_arcs"] == 2.0
    for name, old in before.items():
        new = fits.getdata(run.segment_map(name))
        assert ((np.nan_to_num(new) > 0.5) >= (np.nan_to_num(old) > 0.5)).all()


def test_an_unknown_segmentation_network_names_the_choices():
    with pytest.raises(ValueError, match="^unknown segmentation network 'nope'; choose one of unet, unet_small$"):
        build_segmenter("nope")


def test_hard_negative_crops_are_centred_near_radio_galaxies_and_bright_sources(tmp_path, rng):
    from radioexplore.segmentation.train import CropSampler, hard_negatives

    pd.DataFrame(
        [
            dict(field="field_000", kind="fr2", x=50.0, y=60.0, snr=np.nan, in_image=True, points="40:60;150:160"),
            dict(field="field_000", kind="compact", x=300.0, y=20.0, snr=500.0, in_image=True, points=""),
            dict(field="field_000", kind="compact", x=200.0, y=200.0, snr=5.0, in_image=True, points=""),
            dict(field="field_001", kind="halo", x=100.0, y=100.0, snr=np.nan, in_image=True, points=""),
        ]
    ).to_csv(tmp_path / "truth.csv", index=False)
    negatives = hard_negatives(tmp_path, 2)
    assert sorted(map(tuple, negatives[0].tolist())) == [(20, 300), (60, 40), (160, 150)]
    assert negatives[1].shape == (0, 2)
    x = np.zeros((400, 400), np.float32)
    for y0, x0 in negatives[0]:
        x[y0, x0] = 1.0  # markers at the negatives
    skies = [(x, np.zeros_like(x)), (np.zeros_like(x), np.zeros_like(x))]
    sampler = CropSampler(skies, 96, 0.0, rng, negatives=negatives, negative_fraction=1.0)
    assert all(sampler.crop()[0].max() == 1.0 for _ in range(30))  # each crop holds a negative (offset < 1/3 tile)
    plain = CropSampler(skies, 96, 0.0, rng)
    assert sum(plain.crop()[0].max() == 1.0 for _ in range(30)) < 30


@pytest.mark.parametrize("region", ["jaccard", "lovasz"])
def test_an_iou_loss_is_zero_for_a_perfect_prediction_and_falls_as_it_trains(rng, region):
    from radioexplore.segmentation.train import segment_loss

    yy, xx = np.mgrid[:64, :64]
    y = np.stack([((xx - rng.uniform(16, 48)) ** 2 + (yy - rng.uniform(16, 48)) ** 2 < 15**2) for _ in range(8)])
    x = rng.normal(0, 0.3, y.shape) + 0.8 * y
    x, y = (torch.tensor(a[:, None], dtype=torch.float32) for a in (x, y))
    perfect = 30.0 * (2 * y - 1)  # every pixel far on its own side
    assert float(segment_loss(perfect, y, region=region)) == pytest.approx(0.0, abs=1e-6)
    assert float(segment_loss(-perfect, y, region=region)) > 1.0  # every pixel wrong
    torch.manual_seed(0)
    model = build_segmenter("unet_small")
    with torch.no_grad():
        before = float(segment_loss(model(x), y, region=region))
    recipe = SegmentRecipe(steps=4, batch_size=8, lr=5e-3, region_loss=region)
    train_steps(model, _FixedBatch(x, y), recipe, setup_processes("cpu"))
    with torch.no_grad():
        after = float(segment_loss(model(x), y, region=region))
    assert after < before


def test_an_unknown_region_loss_names_the_choices():
    from radioexplore.segmentation.train import segment_loss

    with pytest.raises(ValueError, match="not one of"):
        segment_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), region="focal")


def test_training_on_several_skies_simulates_each_seed_into_its_folder(tmp_path):
    from radioexplore.segmentation.train import load_segmenter, train_segmenter

    recipe = SegmentRecipe(steps=1, batch_size=2, fields=1, size_px=256, sim_seed=7, more_sim_seeds=(8,))
    with pytest.raises(ValueError, match="one --sim-dir per seed"):
        train_segmenter(recipe, tmp_path / "only_one", tmp_path / "x.pt", device="cpu", progress=False)
    dirs = [tmp_path / "s7", tmp_path / "s8"]
    train_segmenter(recipe, dirs, tmp_path / "x.pt", device="cpu", progress=False)
    seeds = [json.loads((d / "simulation.json").read_text())["seed"] for d in dirs]
    assert seeds == [7, 8]
    assert not np.array_equal(read_image_data(dirs[0]), read_image_data(dirs[1]))  # two different skies
    _, meta = load_segmenter(tmp_path / "x.pt")
    assert meta["recipe"]["more_sim_seeds"] == (8,) and meta["provenance"]["sim_dir"] == [str(d) for d in dirs]


def read_image_data(sim_dir):
    with fits.open(sim_dir / "field_000.fits") as h:
        return np.asarray(h[0].data)
