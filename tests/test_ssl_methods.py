"""The four self-supervised methods of the registry learn on 32 small tiles; DINO does not collapse; mean pooling."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radioexplore.embed.embedding import embed_tiles
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.ssl import METHODS, build_method, ema_momentum
from radioexplore.ssl.byol import byol_loss
from radioexplore.ssl.dino import clip_gradients_
from radioexplore.ssl.mae import mae_loss, patchify, zero_prediction_loss
from radioexplore.ssl.optim import build_optimizer
from radioexplore.ssl.recipe import Recipe, load_recipe, recipe_from_dict
from radioexplore.ssl.schedules import CosineSchedule, teacher_temperature

BACKBONE = {"arch": "vit_tiny", "patch": 8, "input_px": 32, "depth": 2}
PAIR_VIEWS = {"out_px": 32, "jitter_p": 0.0, "blur_p": 0.0, "threshold_p": 0.0}


def sky_tiles(n: int = 32, px: int = 32, seed: int = 0) -> torch.Tensor:
    """``[n, 1, px, px]`` tiles in [0, 1]: noise plus one to three compact or double (FR II-like) sources."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:px, :px]
    out = np.empty((n, 1, px, px), np.float32)
    for i in range(n):
        img = rng.normal(0.1, 0.03, (px, px))
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(4, px - 4, 2)
            s, a = rng.uniform(1, 4), rng.uniform(0.3, 1)
            lobes = [(0.0, 0.0)]
            if rng.random() < 0.5:
                d, th = rng.uniform(3, 8), rng.uniform(0, np.pi)
                lobes = [(d * np.sin(th), d * np.cos(th)), (-d * np.sin(th), -d * np.cos(th))]
            for dy, dx in lobes:
                img += a * np.exp(-((yy - cy - dy) ** 2 + (xx - cx - dx) ** 2) / (2 * s * s))
        out[i, 0] = np.clip(img, 0, 1)
    return torch.from_numpy(out)


def teacher_entropies(dino, views: list[torch.Tensor], epoch: int) -> tuple[float, float]:
    """Mean entropy of the teacher's per-tile distributions, and the entropy of their batch mean."""
    c = dino.config
    with torch.no_grad():
        temp = teacher_temperature(epoch, c.warmup_teacher_temp, c.teacher_temp, c.warmup_teacher_temp_epochs)
        p = F.softmax((dino.teacher(views[:2]) - dino.center) / temp, dim=-1)
    mean = p.mean(0)
    per_tile = float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean())
    return per_tile, float(-(mean * mean.clamp_min(1e-12).log()).sum())


def train_steps(recipe: Recipe, tiles: torch.Tensor, steps: int, steps_per_epoch: int = 4):
    """The training loop of radioexplore.ssl.train in miniature: schedules, views, clip, EMA. Returns (method, losses, entropies)."""
    torch.manual_seed(recipe.seed)
    method = build_method(recipe).train()
    trainable = method.trainable()
    o = recipe.optim
    optimizer = build_optimizer(o.optimizer, trainable)
    epochs = math.ceil(steps / steps_per_epoch)
    lr_at = CosineSchedule(
        o.lr * (o.batch_size / 256 if o.scale_lr_with_batch else 1.0),
        o.min_lr,
        epochs * steps_per_epoch,
        min(o.warmup_epochs, epochs) * steps_per_epoch,
    )
    momentum_at = CosineSchedule(ema_momentum(recipe) or 1.0, 1.0, epochs * steps_per_epoch)
    losses, entropies = [], []
    for step in range(steps):
        epoch = step // steps_per_epoch
        order = torch.randperm(len(tiles), generator=torch.Generator().manual_seed(step))[: o.batch_size]
        per_tile = [method.views(tiles[i], torch.Generator().manual_seed(1000 * step + int(i))) for i in order]
        views = [torch.stack([v[k] for v in per_tile]) for k in range(len(per_tile[0]))]
        for i, group in enumerate(optimizer.param_groups):
            group["lr"] = lr_at(step)
            if i == 0:
                group["weight_decay"] = o.weight_decay
        loss = method.loss(trainable, views, epoch)
        optimizer.zero_grad()
        loss.backward()
        clip_gradients_(trainable, o.clip_grad)
        method.before_step(epoch)
        optimizer.step()
        method.after_step(momentum_at(step))
        losses.append(float(loss.detach()))
        if recipe.method == "dino":
            entropies.append(teacher_entropies(method, views, epoch))
    return method, losses, entropies


def small_recipe(method: str) -> Recipe:
    """``method`` at test size: ViT-tiny/8 of 2 blocks on 32 px views, narrow heads, batch 16."""
    optim = {"batch_size": 16, "lr": 1e-3, "scale_lr_with_batch": False, "warmup_epochs": 0, "clip_grad": 3.0}
    extra = {
        "simclr": {"simclr": {"proj_hidden": 64, "proj_out": 32, "temperature": 0.2}, "simclr_augment": PAIR_VIEWS},
        "byol": {"byol": {"proj_hidden": 64, "proj_out": 32, "pred_hidden": 64}, "byol_augment": PAIR_VIEWS},
        # raw-pixel targets: per-patch normalised ones (the recipe default) need far more than 24 steps to move
        "mae": {
            "mae": {"decoder_dim": 32, "decoder_depth": 1, "decoder_heads": 2, "view_px": 32, "norm_pix_loss": False}
        },
    }[method]
    if method == "mae":
        optim["lr"] = 3e-3
    return recipe_from_dict({"method": method, "backbone": BACKBONE, "optim": optim, **extra})


def small_dino_recipe() -> Recipe:
    """The demo DINO recipe's DINO settings (the fixed defaults under test), on the small backbone and views."""
    demo = load_recipe("demo_cpu_dino")
    dino = dataclasses.replace(demo.dino, hidden_dim=128, bottleneck_dim=64)
    return dataclasses.replace(
        demo,
        backbone=BackboneSpec(**BACKBONE),
        dino=dino,
        multicrop=dataclasses.replace(demo.multicrop, global_px=32, local_px=16, n_local=4),
        optim=dataclasses.replace(demo.optim, batch_size=16),
        device="cpu",
    )


def fell(losses: list[float], n: int = 5, by: float = 0.05) -> bool:
    """The mean of the last ``n`` losses is at least ``by`` (relative) below the mean of the first ``n``."""
    first, last = np.mean(losses[:n]), np.mean(losses[-n:])
    return bool(last < (1.0 - by) * first)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the machine's cores are shared, and small tensors gain nothing from more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_registry_holds_the_four_methods_and_each_has_a_recipe():
    assert set(METHODS) >= {"dino", "simclr", "byol", "mae"}
    methods = {load_recipe(name).method for name in ("demo_cpu_dino", "demo_cpu", "demo_cpu_byol", "demo_cpu_mae")}
    assert methods == {"dino", "simclr", "byol", "mae"}
    assert ema_momentum(load_recipe("demo_cpu_byol")) == pytest.approx(0.99)  # seed 001 / solo-learn: 0.99 -> 1
    assert load_recipe("demo_cpu_mae").mae.mask_ratio == 0.75  # He et al. 2022, seed 003
    with pytest.raises(ValueError, match="needs a ViT"):
        build_method(small_recipe("mae").replace(backbone__arch="resnet18", backbone__patch=0))


@pytest.mark.parametrize("method", ["simclr", "byol", "mae"])
def test_each_method_learns_on_32_tiles(method):
    _, losses, _ = train_steps(small_recipe(method), sky_tiles(), steps=20)
    assert all(math.isfinite(v) for v in losses)
    assert fell(losses), f"{method}: first {losses[:5]}, last {losses[-5:]}"


def test_dino_with_the_demo_defaults_learns_and_its_teacher_does_not_collapse():
    recipe = small_dino_recipe()
    dino, losses, entropies = train_steps(recipe, sky_tiles(), steps=32)
    ln_k = math.log(recipe.dino.out_dim)
    per_tile = np.mean([e[0] for e in entropies[-5:]])
    across = np.mean([e[1] for e in entropies[-5:]])
    assert per_tile < ln_k - 1.5, f"teacher near uniform: entropy {per_tile:.2f} of ln K = {ln_k:.2f}"
    # tiles get different distributions: not one prototype for all (the other collapse)
    assert across > per_tile + 1.0, f"teacher outputs alike for all tiles: {across:.2f} vs {per_tile:.2f}"
    assert fell(losses), f"dino: first {losses[:5]}, last {losses[-5:]}"


def test_losses_are_pure_functions_of_tensors():
    z = torch.randn(8, 16)
    assert byol_loss(z, z).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_loss(z, -z).item() == pytest.approx(4.0, abs=1e-5)
    x = torch.rand(2, 1, 16, 16)
    target = patchify(x, 8)
    assert target.shape == (2, 4, 64) and torch.equal(target[0, 1], x[0, 0, :8, 8:].reshape(-1))
    mask = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    pred = torch.zeros_like(target)
    pred[0, 0] = 5.0  # a wrong prediction of the one masked patch ...
    pred[1] = 7.0  # ... and of visible patches, which do not count
    expected = ((5.0 - target[0, 0]) ** 2).mean()
    assert mae_loss(pred, target, mask, norm_pix=False).item() == pytest.approx(expected.item(), rel=1e-5)


def test_per_patch_normalisation_weighs_noise_peaks_at_the_clip_like_a_bright_lobe():
    """Why the registry's MAE recipe learned nothing on sigma-clipped stamps (issue 21): with ``norm_pix`` a patch
    holding two pixels just above the clip costs as much to miss as a bright lobe; raw-pixel targets weigh the lobe."""
    x = torch.zeros(1, 1, 32, 32)  # a clipped stamp: the background exactly 0
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    lobe = torch.exp(-((yy - 12) ** 2 + (xx - 12) ** 2) / 8.0)  # a lobe in patch (1, 1) of 8 px patches
    x[0, 0] = torch.where(lobe > 1e-3, lobe, 0.0)  # clipped
    x[0, 0, 2, 26] = x[0, 0, 5, 29] = 0.01  # two noise peaks just above the clip in patch (0, 3)
    target = patchify(x, 8)
    one = {k: torch.nn.functional.one_hot(torch.tensor([k]), 16).float() for k in (5, 3, 15)}  # lobe, peaks, empty

    def cost(k: int, norm: bool) -> float:
        return zero_prediction_loss(target, one[k], norm).item()

    assert cost(15, True) == cost(15, False) == 0.0  # an empty patch is free to predict either way
    assert cost(3, True) > 0.5 * cost(5, True)  # normalised: the noise peaks weigh like the lobe
    assert cost(3, False) < 1e-3 * cost(5, False)  # raw pixels: the lobe carries the loss
    mask = torch.ones(1, 16)
    assert zero_prediction_loss(target, mask).item() == mae_loss(torch.zeros_like(target), target, mask).item()


def test_mean_pool_gives_the_mean_patch_token_not_the_cls():
    spec = BackboneSpec(**BACKBONE)
    torch.manual_seed(0)
    model = build_backbone(spec).eval()
    tiles = sky_tiles(6).numpy()
    cls = embed_tiles(model, spec, tiles, progress=False, device="cpu")
    mean = embed_tiles(model, spec, tiles, progress=False, device="cpu", pool="mean")
    assert cls.shape == mean.shape == (6, 192)
    assert not np.allclose(cls, mean, atol=1e-3)
    with torch.no_grad():
        tokens = model.forward_tokens(torch.from_numpy(tiles))
    np.testing.assert_allclose(mean, tokens[:, 1:].mean(1).numpy(), rtol=1e-4, atol=1e-5)
    resnet = build_backbone(BackboneSpec(arch="resnet18", patch=0, input_px=32))
    with pytest.raises(ValueError, match="needs a ViT"):
        embed_tiles(resnet, spec, tiles, progress=False, device="cpu", pool="mean")


@pytest.mark.parametrize("method", ["byol", "mae"])
def test_new_methods_run_through_pretrain_and_their_backbone_loads(method, small_survey, tmp_path, caplog):
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.models.checkpoint import load_backbone
    from radioexplore.run.rundir import RunDir
    from radioexplore.ssl.train import pretrain

    run = RunDir(tmp_path / "run")
    ingest(sorted(small_survey.glob("field_*.fits")), run, IngestConfig(tile_px=128), progress=False)
    recipe = small_recipe(method).replace(
        name=method, device="cpu", threads=1, optim__batch_size=8, optim__epochs=1, monitor__every_epochs=0
    )
    res = pretrain(run, recipe, progress=False)
    assert res.finished and res.backbone is not None and res.log[-1]["loss"] > 0
    assert ("momentum" in res.log[-1]) == (method == "byol")  # only BYOL has an EMA network
    assert (res.log[-1].get("loss_trivial", 0) > 0) == (method == "mae")  # MAE logs the loss of predicting nothing
    if method == "mae":  # raw pixels: one epoch beats predicting nothing, silently; norm-pix does not, and says so
        assert res.log[-1]["loss"] < 0.97 * res.log[-1]["loss_trivial"] and "learned nothing" not in caplog.text
        stuck = pretrain(run, recipe.replace(name="mae_norm", mae__norm_pix_loss=True), progress=False)
        assert stuck.log[-1]["loss"] > 0.97 * stuck.log[-1]["loss_trivial"]
        assert "learned nothing" in caplog.text
    model, spec, _ = load_backbone(res.backbone)
    assert spec.arch == "vit_tiny"
    trained = res.method.export_backbone().state_dict()
    for key, value in model.state_dict().items():
        assert torch.allclose(value, trained[key].cpu()), key
    if method == "mae":  # seed 003's read-out, recorded in the run's embed config
        from radioexplore.embed.embedding import EmbedConfig, embed_run

        embed_run(run, EmbedConfig(name="mae_mean", checkpoint=str(res.backbone), pool="mean"), progress=False)
        assert run.stage_config("embed", "mae_mean")["pool"] == "mean"
        assert np.load(run.embeddings("mae_mean")).shape == (len(run.read_tiles()), 192)
