"""Attention maps (seed 000, fig. 7) and the evaluate report (probes and attention against the truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from radioexplore.embed.attention import attention_maps, cls_attention, percentile_mask, plot_attention, tile_attention
from radioexplore.evaluation.attention_check import attention_share, source_mask
from radioexplore.evaluation.checks import EvaluateConfig
from radioexplore.evaluation.survey import evaluate_run
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.models.checkpoint import save_backbone
from radioexplore.run.rundir import RunDir
from tests.conftest import ingest_with_truth

SPEC = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=64, depth=2)


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, small_survey) -> RunDir:
    """The small survey ingested in 64 px tiles with its truth columns."""
    return ingest_with_truth(small_survey, tmp_path_factory.mktemp("eval") / "run", tile_px=64)


@pytest.fixture(scope="module")
def vit_checkpoint(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("ckpt") / "vit.pt"
    save_backbone(path, build_backbone(SPEC), SPEC, provenance={"trained_by": "test"})
    return path


def test_attention_maps_are_per_head_and_cover_the_tile():
    torch.manual_seed(0)
    model = build_backbone(SPEC).eval()
    tile = np.random.default_rng(0).random((1, 128, 128)).astype(np.float32)
    maps = attention_maps(model, SPEC, tile)
    assert maps.shape == (3, 128, 128)  # ViT-tiny: 3 heads, upsampled to the tile
    # the tile is seen at its own 128 px (not the 64 px training input): each 16 x 16 block is one patch
    assert np.allclose(maps[:, :16, :16], maps[:, :1, :1]) and not np.allclose(maps[:, :32, :32], maps[:, :1, :1])
    grid = cls_attention(model, torch.from_numpy(tile)[None])
    assert grid.shape == (1, 3, 8, 8) and float(grid.sum(dim=(-2, -1)).max()) <= 1.0 + 1e-5
    np.testing.assert_allclose(maps[:, ::16, ::16], grid[0].numpy(), rtol=1e-5)


def test_percentile_mask_keeps_the_top_tenth():
    maps = np.random.default_rng(1).random((2, 50, 50))
    mask = percentile_mask(maps, 90)
    assert mask.shape == maps.shape
    assert np.allclose(mask.mean(axis=(1, 2)), 0.1, atol=0.005)


def test_tile_attention_and_the_cli_figure(eval_run, vit_checkpoint, cli, tmp_path):
    ta = tile_attention(eval_run, 5, checkpoint=str(vit_checkpoint))
    assert ta.maps.shape == (3, 64, 64) and ta.image.shape == (64, 64) and ta.mean.shape == (64, 64)
    out = plot_attention(ta.image, ta.maps, tmp_path / "direct.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = tmp_path / "tile.png"
    cli("attention", "--run", eval_run.root, "--tile", "5", "--out", png, "--checkpoint", vit_checkpoint)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    bad = cli(
        "attention",
        "--run",
        eval_run.root,
        "--tile",
        "99999",
        "--out",
        png,
        "--checkpoint",
        vit_checkpoint,
        check=False,
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_resnet_checkpoints_have_no_attention(eval_run, tmp_path):
    from radioexplore.embed.attention import AttentionError

    spec = BackboneSpec(arch="resnet18", patch=0, input_px=64)
    save_backbone(tmp_path / "rn.pt", build_backbone(spec), spec)
    with pytest.raises(AttentionError, match="ViT"):
        tile_attention(eval_run, 0, checkpoint=str(tmp_path / "rn.pt"))


def test_source_mask_is_a_disc_of_the_object_size_in_tile_pixels():
    objs = pd.DataFrame({"x": [110.0], "y": [220.0], "size": [30.0]})  # 30 arcsec = 20 px at 1.5 arcsec/px
    mask = source_mask(64, objs, x0=100, y0=200, pixel_arcsec=1.5, beam_px=0.0)
    assert mask[20, 10] and mask[20, 19] and not mask[20, 21] and not mask[0, 63]
    assert mask.sum() == pytest.approx(np.pi * 10**2, rel=0.1)


def test_attention_share_against_uniform():
    coverage = np.zeros((8, 8))
    coverage[2:4, 2:4] = 1.0  # the source covers 4 of 64 patches
    on_source = np.zeros((8, 8))
    on_source[2:4, 2:4] = 5.0
    assert attention_share(on_source, coverage, 0.10) == pytest.approx((4 / 7, 4 / 64))  # top 7 patches hold all 4
    assert attention_share(1.0 - coverage, coverage, 0.10) == pytest.approx((0.0, 4 / 64))


def test_evaluate_reports_probes_and_attention_against_a_random_network(eval_run, vit_checkpoint):
    report = evaluate_run(
        eval_run, EvaluateConfig(checkpoint=str(vit_checkpoint), folds=3, pca_dims=10), progress=False
    )
    assert {"count_trained", "count_random"} <= set(report.probes)
    assert report.probes["count_trained"].task == "regression" and report.probes["count_trained"].folds == 3
    names = [c.name for c in report.checks]
    assert any("source-count" in n for n in names)
    if "extended_trained" in report.probes:
        assert report.probes["extended_trained"].class_names == ["extended", "none"]
    assert report.attention and 0.0 <= report.attention["uniform"] < 1.0 and 0.0 <= report.attention["share"] <= 1.0
    text = report.text()
    assert "source-count probe, checkpoint" in text and "random net" in text and "attention on" in text
    assert "evaluate" in eval_run.read_meta()["stages"]


def test_evaluate_with_no_attention_tiles_skips_the_check_and_says_so(eval_run, vit_checkpoint):
    config = EvaluateConfig(checkpoint=str(vit_checkpoint), folds=3, pca_dims=10, attention_tiles=0)
    report = evaluate_run(eval_run, config, progress=False)
    assert not report.attention and not any("attention" in c.name for c in report.checks)
    assert any("attention check skipped" in w for w in report.warnings)
    assert "count_trained" in report.probes


def test_frdeep_style_label_probes_report_cv_and_split_errors(vit_checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 60
    y = np.repeat([0, 1], n // 2)
    images = rng.integers(0, 30, (n, 48, 48)).astype(np.uint8)
    images[y == 1, 20:28, :] = 255  # an FR II-like bright bar the pixel baseline and any network can see
    is_test = np.zeros(n, bool)
    is_test[::6] = True
    npz = tmp_path / "frdeep.npz"
    np.savez(npz, x_first=images, y_first=y, is_test_first=is_test, label_names=np.array(["FRI", "FRII"]))
    from radioexplore.evaluation.frdeep import evaluate_frdeep

    report = evaluate_frdeep(npz, EvaluateConfig(checkpoint=str(vit_checkpoint), folds=3, pca_dims=10), progress=False)
    ((title, rows),) = report.label_tables.items()
    assert "FIRST" in title and "10 in the test split" in title
    assert [r.features for r in rows] == ["checkpoint", "random init, same arch", "pixel PCA (64 px, 50 comp.)"]
    pixel = rows[2]
    assert pixel.cv_error < 0.05 and pixel.test_error is not None and pixel.test_error < 0.05
    from radioexplore.cli import main

    assert main(["-q", "evaluate", "--frdeep", str(npz), "--checkpoint", str(vit_checkpoint), "--folds", "3"]) == 0
    out = capsys.readouterr().out
    assert "FR-DEEP FIRST" in out and "pixel PCA" in out and "train->test" in out


def test_without_a_checkpoint_every_shipped_one_is_probed_side_by_side(tmp_path, monkeypatch, capsys):
    """Issue 10: the demo and the real-mix checkpoints each get a row and a margin against their
    random network; short names resolve to the shipped files; a missing one is named."""
    from radioexplore.assets import SHIPPED_CHECKPOINTS, resolve_checkpoint
    from radioexplore.evaluation.frdeep import evaluate_frdeep
    from radioexplore.models.checkpoint import CheckpointError, load_backbone

    monkeypatch.setenv("RADIOEXPLORE_ASSETS", str(tmp_path / "assets"))
    torch.manual_seed(3)
    save_backbone(tmp_path / "assets" / SHIPPED_CHECKPOINTS["demo"], build_backbone(SPEC), SPEC)
    with pytest.raises(CheckpointError, match="real_vit_tiny16.pt is missing.*present: demo"):
        load_backbone("real")
    torch.manual_seed(4)
    save_backbone(tmp_path / "assets" / SHIPPED_CHECKPOINTS["real"], build_backbone(SPEC), SPEC)
    assert resolve_checkpoint("real") == tmp_path / "assets" / SHIPPED_CHECKPOINTS["real"]
    assert load_backbone("real")[1] == SPEC

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 30)
    images = rng.integers(0, 30, (60, 48, 48)).astype(np.uint8)
    images[y == 1, 20:28, :] = 255
    npz = tmp_path / "frdeep.npz"
    np.savez(npz, x_first=images, y_first=y, label_names=np.array(["FRI", "FRII"]))
    report = evaluate_frdeep(npz, EvaluateConfig(folds=3, pca_dims=10), progress=False)
    ((_, rows),) = report.label_tables.items()
    names = [r.features for r in rows]
    assert names == ["checkpoint demo", "checkpoint real", "random init, same arch", "pixel PCA (64 px, 50 comp.)"]
    assert rows[0].baseline == rows[1].baseline == "random init, same arch" and rows[2].baseline is None
    text = report.text()
    assert "checkpoint demo:" in text and "checkpoint real:" in text and "points below random init (5 asked)" in text
    gap = 100 * (rows[2].cv_error - rows[1].cv_error)
    verdict = "PASS" if gap >= 5 and rows[1].cv_error < rows[3].cv_error else "FAIL"
    assert f"checkpoint real: {gap:.2f} points below random init" in text and text.count(f"[{verdict}]") >= 1


def test_evaluate_tta_and_noise_clip_reach_every_network_and_the_report_says_so(eval_run, vit_checkpoint, monkeypatch):
    import radioexplore.embed.embedding as embedding

    seen = []
    real = embedding.embed_tiles

    def spy(*args, **kwargs):
        seen.append((kwargs.get("tta", "none"), kwargs.get("clip_sigma")))
        return real(*args, **kwargs)

    monkeypatch.setattr(embedding, "embed_tiles", spy)
    config = EvaluateConfig(checkpoint=str(vit_checkpoint), folds=3, pca_dims=10, tta="dihedral", clip_sigma=3.0)
    report = evaluate_run(eval_run, config, progress=False)
    assert len(seen) >= 2 and set(seen) == {("dihedral", 3.0)}  # the checkpoint and the random network
    assert report.tta == "dihedral" and report.to_dict()["tta"] == "dihedral" and report.to_dict()["clip_sigma"] == 3
    assert "dihedral test-time augmentation" in report.text() and "noise-clipped at 3 sigma" in report.text()
    plain = evaluate_run(eval_run, EvaluateConfig(checkpoint=str(vit_checkpoint), folds=3, pca_dims=10), progress=False)
    assert "test-time augmentation" not in plain.text() and "noise-clipped" not in plain.text()
