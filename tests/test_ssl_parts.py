"""The pieces of self-supervision as pure functions: schedules, views, DINO and SimCLR losses, heads, recipes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.ssl import METHODS, build_method
from radioexplore.ssl.augment import (
    MultiCrop,
    MultiCropConfig,
    SimCLRAugmentConfig,
    SimCLRViews,
    gaussian_blur,
    power_law,
    random_resized_crop_box,
    random_threshold,
)
from radioexplore.ssl.dino import (
    DINOHead,
    batch_center,
    cancel_last_layer_gradients_,
    clip_gradients_,
    dino_loss,
    ema_center,
    ema_update_,
)
from radioexplore.ssl.recipe import RecipeError, available_recipes, load_recipe, recipe_from_dict
from radioexplore.ssl.schedules import CosineSchedule, learning_rate_schedule, teacher_temperature
from radioexplore.ssl.simclr import nt_xent

# -- schedules --------------------------------------------------------------------------------------


def dino_cosine_array(base, final, epochs, niter, warmup_epochs=0, start_warmup=0.0):
    """facebookresearch/dino's utils.cosine_scheduler, re-derived here as the reference."""
    warm = np.linspace(start_warmup, base, warmup_epochs * niter) if warmup_epochs else np.array([])
    iters = np.arange(epochs * niter - warmup_epochs * niter)
    rest = final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / len(iters)))
    return np.concatenate([warm, rest])


@pytest.mark.parametrize("warmup", [0, 1, 3])
def test_cosine_schedule_matches_dino_array_at_every_step(warmup):
    epochs, niter = 10, 7
    ref = dino_cosine_array(0.5, 1e-3, epochs, niter, warmup)
    sched = CosineSchedule(0.5, 1e-3, epochs * niter, warmup * niter)
    ours = np.array([sched(i) for i in range(epochs * niter)])
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert sched(epochs * niter + 5) == pytest.approx(1e-3)


def test_learning_rate_follows_linear_scaling_rule_and_momentum_reaches_one():
    lr = learning_rate_schedule(0.0005, 1e-6, batch_size=512, epochs=5, steps_per_epoch=4, warmup_epochs=2)
    assert lr(0) == 0.0
    assert lr(2 * 4 - 1) == pytest.approx(0.0005 * 512 / 256)  # peak at the end of warm-up
    assert lr(5 * 4 - 1) < lr(2 * 4)  # decays afterwards
    from radioexplore.ssl.schedules import momentum_schedule

    m = momentum_schedule(0.996, 5, 4)
    assert m(0) == pytest.approx(0.996)
    assert all(m(i) <= m(i + 1) for i in range(19))
    assert m(19) == pytest.approx(1.0, abs=1e-4)


def test_teacher_temperature_warms_up_linearly_then_stays():
    temps = [teacher_temperature(e, 0.04, 0.07, 30) for e in range(40)]
    np.testing.assert_allclose(temps[:30], np.linspace(0.04, 0.07, 30))
    assert temps[30:] == [0.07] * 10
    assert teacher_temperature(3, 0.04, 0.04, 0) == 0.04


# -- views ------------------------------------------------------------------------------------------


def _tile(seed=0, size=64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, size, size, generator=g)


def test_multicrop_gives_two_global_and_eight_local_views_in_range():
    views = MultiCrop(MultiCropConfig(global_px=32, local_px=16))(_tile(), torch.Generator().manual_seed(0))
    assert [v.shape for v in views] == [(1, 32, 32)] * 2 + [(1, 16, 16)] * 8
    assert all(float(v.min()) >= 0 and float(v.max()) <= 1 for v in views)


def test_views_are_a_function_of_the_generator_seed():
    mc = MultiCrop(MultiCropConfig(global_px=32, local_px=16))
    a = mc(_tile(), torch.Generator().manual_seed(5))
    b = mc(_tile(), torch.Generator().manual_seed(5))
    c = mc(_tile(), torch.Generator().manual_seed(6))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_dino_views_keep_a_flat_tile_flat_no_colour_jitter_or_solarisation():
    # flips, rotations, blur and crops cannot change a constant image; power-law maps c -> c**gamma.
    # Brightness jitter or solarisation (x -> 1 - x above a threshold) would move it elsewhere.
    cfg = MultiCropConfig(global_px=24, local_px=12, powerlaw_p=0.0)
    for seed in range(5):
        for v in MultiCrop(cfg)(torch.full((1, 48, 48), 0.7), torch.Generator().manual_seed(seed)):
            assert torch.allclose(v, torch.full_like(v, 0.7), atol=1e-5)


def test_crop_box_covers_the_requested_area_fraction():
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        top, left, h, w = random_resized_crop_box(gen, 256, 256, (0.05, 0.4))
        assert 0 <= top and top + h <= 256 and 0 <= left and left + w <= 256
        assert 0.04 <= h * w / 256**2 <= 0.42


def test_gaussian_blur_preserves_the_mean_and_smooths_noise():
    noise = _tile(3, 64)
    blurred = gaussian_blur(noise, 2.0)
    assert blurred.shape == noise.shape
    assert float(blurred.mean()) == pytest.approx(float(noise.mean()), abs=0.01)
    assert float(blurred.std()) < 0.5 * float(noise.std())


def test_power_law_and_random_threshold():
    x = torch.linspace(0, 1, 101).reshape(1, 1, 101)
    assert torch.allclose(power_law(x, 2.0), x**2)
    t = random_threshold(_tile(4, 100), 50.0)
    frac_zero = float((t == 0).float().mean())
    assert 0.48 <= frac_zero <= 0.52  # the lower half of the pixels is zeroed ...
    kept = t > 0
    assert torch.equal(t[kept], _tile(4, 100)[kept])  # ... the rest is untouched


def test_simclr_views_threshold_about_half_the_time():
    aug = SimCLRViews(SimCLRAugmentConfig(out_px=32, jitter_p=0.0, blur_p=0.0))
    zero_fracs = []
    for seed in range(40):
        v1, v2 = aug(_tile(seed, 48) * 0.9 + 0.05, torch.Generator().manual_seed(seed))
        assert v1.shape == v2.shape == (1, 32, 32)
        zero_fracs += [float((v == 0).float().mean()) for v in (v1, v2)]
    thresholded = np.array(zero_fracs) > 0.3
    assert 0.3 < thresholded.mean() < 0.7  # p = 0.5 (seed 002, Table 2)
    assert all(0.35 < f < 0.65 for f in np.array(zero_fracs)[thresholded])  # percentile 40-60


# -- DINO -------------------------------------------------------------------------------------------


def test_dino_loss_is_the_cross_entropy_over_pairs_of_different_views():
    torch.manual_seed(0)
    b, k, n_views = 3, 5, 4
    s = torch.randn(n_views * b, k)
    t = torch.randn(2 * b, k)
    center = torch.randn(1, k)
    loss = dino_loss(s, t, center, student_temp=0.1, teacher_temp=0.04)
    expected, terms = 0.0, 0
    for iq in range(2):
        q = F.softmax((t[iq * b : (iq + 1) * b] - center) / 0.04, dim=-1)
        for v in range(n_views):
            if v == iq:
                continue
            logp = F.log_softmax(s[v * b : (v + 1) * b] / 0.1, dim=-1)
            expected += float((-(q * logp).sum(-1)).mean())
            terms += 1
    assert float(loss) == pytest.approx(expected / terms, rel=1e-6)


def test_dino_loss_sends_no_gradient_to_the_teacher_and_centring_matters():
    s = torch.randn(8, 6, requires_grad=True)
    t = torch.randn(4, 6, requires_grad=True)
    dino_loss(s, t, torch.zeros(1, 6), 0.1, 0.04).backward()
    assert s.grad is not None and t.grad is None
    a = dino_loss(s, t, torch.zeros(1, 6), 0.1, 0.04)
    c = dino_loss(s, t, torch.randn(1, 6), 0.1, 0.04)
    assert float(a.detach()) != pytest.approx(float(c.detach()))


def test_sharpening_lower_teacher_temperature_gives_peakier_targets():
    t = torch.randn(4, 10)
    ent = [float(-(F.softmax(t / tau, -1) * F.log_softmax(t / tau, -1)).sum(-1).mean()) for tau in (0.04, 0.07, 1.0)]
    assert ent[0] < ent[1] < ent[2]


def test_centre_is_an_ema_of_the_batch_mean():
    out = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert torch.allclose(batch_center(out), torch.tensor([[2.0, 3.0]]))
    new = ema_center(torch.zeros(1, 2), batch_center(out), 0.9)
    assert torch.allclose(new, torch.tensor([[0.2, 0.3]]))


def test_ema_update_moves_the_teacher_towards_the_student():
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = teacher.weight.clone()
    ema_update_(teacher, student, 1.0)
    assert torch.equal(teacher.weight, before)
    ema_update_(teacher, student, 0.5)
    assert torch.allclose(teacher.weight, 0.5 * before + 0.5 * student.weight)
    ema_update_(teacher, student, 0.0)
    assert torch.allclose(teacher.weight, student.weight)


def test_head_last_layer_frozen_in_first_epoch_and_weight_norm_fixed():
    head = DINOHead(16, 32, hidden_dim=24, bottleneck_dim=8, norm_last_layer=True)
    assert head(torch.randn(5, 16)).shape == (5, 32)
    assert not head.last_layer.weight_g.requires_grad
    head(torch.randn(5, 16)).sum().backward()
    cancel_last_layer_gradients_(head, epoch=0, freeze_epochs=1)
    assert head.last_layer.weight_v.grad is None and head.mlp[0].weight.grad is not None
    head(torch.randn(5, 16)).sum().backward()
    cancel_last_layer_gradients_(head, epoch=1, freeze_epochs=1)
    assert head.last_layer.weight_v.grad is not None


def test_gradient_clipping_limits_each_parameter_norm():
    lin = torch.nn.Linear(10, 10)
    (lin(torch.randn(4, 10)) * 1000).sum().backward()
    clip_gradients_(lin, 0.5)
    assert all(float(p.grad.norm()) <= 0.5 + 1e-4 for p in lin.parameters())


# -- SimCLR -----------------------------------------------------------------------------------------


def test_nt_xent_matches_the_formula_of_seed_002():
    torch.manual_seed(1)
    za, zb, tau = torch.randn(4, 6), torch.randn(4, 6), 0.5
    z = F.normalize(torch.cat([za, zb]), dim=1)
    n = 4
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        sims = [math.exp(float(z[i] @ z[k]) / tau) for k in range(2 * n) if k != i]
        total += -math.log(math.exp(float(z[i] @ z[j]) / tau) / sum(sims))
    assert float(nt_xent(za, zb, tau)) == pytest.approx(total / (2 * n), rel=1e-5)


def test_nt_xent_is_low_for_matching_views():
    z = torch.randn(8, 16)
    assert float(nt_xent(z, z + 0.01 * torch.randn_like(z), 0.1)) < float(nt_xent(z, torch.randn(8, 16), 0.1))


# -- backbones --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width,patch,heads", [("tiny", 8, 3), ("tiny", 16, 3), ("small", 8, 6), ("small", 16, 6)])
def test_vit_exposes_last_block_cls_attention_per_head(width, patch, heads):
    spec = BackboneSpec(arch=f"vit_{width}", patch=patch, input_px=32)
    model = build_backbone(spec).eval()
    from radioexplore.embed.attention import cls_attention

    x = torch.rand(2, 1, 32, 32)
    attn = model.get_last_selfattention(x)
    n = (32 // patch) ** 2
    assert attn.shape == (2, heads, n + 1, n + 1)
    assert torch.allclose(attn.sum(-1), torch.ones(2, heads, n + 1), atol=1e-5)
    maps = cls_attention(model, x)
    assert maps.shape == (2, heads, 32 // patch, 32 // patch)
    assert model(x).shape == (2, {"tiny": 192, "small": 384}[width])


@pytest.mark.parametrize("arch,dim", [("resnet18", 512), ("resnet50", 2048), ("resnet_small", 256)])
def test_resnets_take_one_channel(arch, dim):
    model = build_backbone(BackboneSpec(arch=arch, patch=0, in_chans=1, input_px=64)).eval()
    assert model.conv1.in_channels == 1
    assert model(torch.rand(2, 1, 64, 64)).shape == (2, dim)


def test_small_resnet_keeps_half_the_resolution_before_its_first_stage():
    """resnet_small's stem halves the input (no max-pool), so a 2 px beam survives into layer1."""
    model = build_backbone(BackboneSpec(arch="resnet_small", patch=0, input_px=64)).eval()
    x = torch.rand(1, 1, 64, 64)
    assert model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))).shape[-1] == 32
    assert build_backbone(BackboneSpec(arch="resnet18", patch=0)).maxpool.kernel_size == 3


def test_small_resnet_checkpoint_loads_back_by_its_stored_name(tmp_path):
    """A saved resnet_small is rebuilt from the spec in the file, with the same weights and embedding."""
    from radioexplore.models.checkpoint import load_backbone, save_backbone

    spec = BackboneSpec(arch="resnet_small", patch=0, input_px=64)
    model = build_backbone(spec).eval()
    save_backbone(tmp_path / "rs.pt", model, spec)
    loaded, got, _ = load_backbone(tmp_path / "rs.pt")
    x = torch.rand(2, 1, 64, 64)
    assert got.arch == "resnet_small"
    assert torch.allclose(loaded(x), model(x), atol=1e-6)


# -- recipes ----------------------------------------------------------------------------------------


def test_paper_recipes_load_with_their_hyper_parameters():
    assert {"mgcls_dino_vits8", "mgcls_dino_resnet50", "emu_simclr_resnet18", "demo_cpu"} <= set(available_recipes())
    vit = load_recipe("mgcls_dino_vits8")
    assert (vit.method, vit.backbone.arch, vit.backbone.patch) == ("dino", "vit_small", 8)
    assert vit.multicrop.n_local == 8 and vit.multicrop.global_scale == (0.4, 1.0)
    assert vit.multicrop.local_scale == (0.05, 0.4) and vit.optim.batch_size == 8
    rn = load_recipe("mgcls_dino_resnet50")
    assert rn.backbone.arch == "resnet50" and rn.multicrop.local_scale == (0.05, 0.14)
    assert rn.optim.weight_decay == rn.optim.weight_decay_end  # constant weight decay for the ResNet
    sc = load_recipe("emu_simclr_resnet18")
    assert (sc.method, sc.backbone.arch, sc.optim.optimizer, sc.optim.batch_size) == ("simclr", "resnet18", "adam", 128)
    assert sc.simclr_augment.threshold_percentile == (40.0, 60.0) and sc.simclr_augment.threshold_p == 0.5
    assert (sc.simclr.proj_hidden, sc.simclr.proj_out) == (256, 128)
    for name in available_recipes():
        assert load_recipe(name).method in METHODS


def test_recipe_errors_name_the_key():
    with pytest.raises(RecipeError, match="optim.lrr"):
        recipe_from_dict({"optim": {"lrr": 1.0}})
    with pytest.raises(RecipeError, match="no recipe named"):
        load_recipe("no_such_recipe")


def test_recipe_overrides_from_the_command_line():
    from radioexplore.ssl.recipe import recipe_with_overrides

    r = recipe_with_overrides("demo_cpu", ["optim.epochs=3", "multicrop.local_scale=[0.1, 0.2]"], "cpu", 1)
    assert r.optim.epochs == 3 and r.multicrop.local_scale == (0.1, 0.2) and r.device == "cpu" and r.threads == 1
    with pytest.raises(RecipeError, match="no key"):
        recipe_with_overrides("demo_cpu", ["optim.nope=1"])


def test_methods_build_from_the_registry():
    r = recipe_from_dict(
        {"backbone": {"arch": "vit_tiny", "patch": 16, "input_px": 32}, "dino": {"out_dim": 64, "hidden_dim": 32}}
    )
    dino = build_method(r)
    # teacher starts as a copy of the student and has no gradients
    for (n1, p1), (_, p2) in zip(dino.student.named_parameters(), dino.teacher.named_parameters(), strict=True):
        assert torch.equal(p1, p2), n1
        assert not p2.requires_grad
    simclr = build_method(r.replace(method="simclr"))
    assert simclr.export_backbone().embed_dim == 192
    with pytest.raises(ValueError, match="unknown method"):
        build_method(r.replace(method="no_such_method"))
