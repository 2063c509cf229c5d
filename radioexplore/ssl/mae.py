"""Masked autoencoder over our ViT (He et al. 2022), the reconstruction branch of seed 003 (STRADAViT).

Each view is cut into patches; a random ``mask_ratio`` of them (0.75) is dropped and the ViT
encoder sees only the visible ones (plus the CLS token). A light decoder puts a shared mask
token at every dropped position, adds fixed 2-D sine-cosine positions and predicts the pixels of
every patch; the loss is the MSE over the *masked* patches only, on per-patch normalised pixels
(He et al.'s ``norm_pix_loss``; seed 003, eqs. 2-3: "masked-patch MSE", its baseline).

Seed 003 keeps the standard ViT-MAE configuration (ViT-B/16 encoder, decoder of 8 blocks of width
512, 16 heads) and reads an image out as the mean of the last layer's patch tokens, CLS excluded:
embed an MAE checkpoint with ``radioexplore embed --pool mean``. The encoder is the model we keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from radioexplore.models import BackboneSpec, build_backbone, is_vit
from radioexplore.models.vit import Block, VisionTransformer, _init_weights
from radioexplore.ssl.augment import _coin, _quarter_turns, crop, flip_rotate, random_resized_crop_box, resize
from radioexplore.ssl.single import SingleNetwork


@dataclass(frozen=True)
class MAEConfig:
    """MAE's hyper-parameters; defaults are He et al. 2022's, which seed 003 keeps ("standard ViT-MAE")."""

    mask_ratio: float = 0.75  # He et al.: 75% of the patches masked
    decoder_dim: int = 512  # He et al.: decoder width 512
    decoder_depth: int = 8  # ... 8 blocks
    decoder_heads: int = 16  # ... 16 heads
    norm_pix_loss: bool = True  # He et al.: per-patch normalised pixels as targets (better representations)
    view_px: int = 224  # the single view's side (He et al.: 224)
    crop_scale: tuple[float, float] = (0.2, 1.0)  # He et al.: RandomResizedCrop(scale=(0.2, 1.0))
    hflip_p: float = 0.5  # He et al.: RandomHorizontalFlip
    rot90_p: float = 0.75  # radio images have no up: the four orientations equally likely (as seed 000)


class MAEViews:
    """``views(tile, gen)``: one random resized crop, flipped and rotated (MAE needs a single view)."""

    n_views = 1

    def __init__(self, config: MAEConfig = MAEConfig()) -> None:
        self.config = config

    def __call__(self, tile: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        c = self.config
        top, left, h, w = random_resized_crop_box(gen, tile.shape[-2], tile.shape[-1], c.crop_scale)
        img = resize(crop(tile, top, left, h, w), c.view_px)
        img = flip_rotate(img, _coin(gen, c.hflip_p), False, _quarter_turns(gen, c.rot90_p))
        return [img.contiguous()]


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """``[B, C, H, W]`` to ``[B, n_patches, patch * patch * C]`` in the patch embedding's row-major order."""
    b, c, h, w = x.shape
    gh, gw = h // patch, w // patch
    x = x[:, :, : gh * patch, : gw * patch].reshape(b, c, gh, patch, gw, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, patch * patch * c)


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, norm_pix: bool = True) -> torch.Tensor:
    """He et al.'s loss: per-patch MSE ``[B, N]`` averaged over the masked patches (``mask == 1``) only.

    With ``norm_pix`` each target patch is standardised by its own mean and variance first.
    """
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6) ** 0.5
    per_patch = ((pred - target) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


def zero_prediction_loss(target: torch.Tensor, mask: torch.Tensor, norm_pix: bool = True) -> torch.Tensor:
    """The loss of a decoder that predicts 0 for every masked patch (with ``norm_pix``: each patch's own mean):
    the level an MAE that learned nothing sits at.

    On sigma-clipped radio stamps (90% of the pixels exactly 0) the per-patch normalisation blows a patch
    holding a few pixels just above the clip up to unit variance, so the normalised loss is mostly noise peaks
    at an island's edge and stays at this level (issue 21, benchmarks/README.md "A masked autoencoder on the object
    stamps"). With raw targets 0 is the clip level of such stamps; on tiles with a background level, predicting
    that level already beats this baseline, so there it only catches a run that learned less than the background.
    """
    return mae_loss(torch.zeros_like(target), target, mask, norm_pix)


def random_masking(n: int, batch: int, ratio: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per-sample random masking: (indices of the kept patches ``[B, keep]``, restore order ``[B, n]``, keep)."""
    keep = max(1, int(round(n * (1.0 - ratio))))
    shuffle = torch.argsort(torch.rand(batch, n, device=device), dim=1)
    restore = torch.argsort(shuffle, dim=1)
    return shuffle[:, :keep], restore, keep


def sincos_2d(dim: int, gh: int, gw: int, device: torch.device) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings ``[gh * gw, dim]`` (MAE's decoder positions)."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32, device=device) / max(quarter, 1))
    ys, xs = torch.meshgrid(
        torch.arange(gh, dtype=torch.float32, device=device),
        torch.arange(gw, dtype=torch.float32, device=device),
        indexing="ij",
    )
    parts = []
    for coord in (xs.reshape(-1), ys.reshape(-1)):
        angles = coord[:, None] * omega[None]
        parts += [angles.sin(), angles.cos()]
    emb = torch.cat(parts, dim=1)
    return torch.nn.functional.pad(emb, (0, dim - emb.shape[1]))


class MaskedAutoencoder(nn.Module):
    """ViT encoder over the visible patches + light decoder; ``forward`` gives (predictions, mask)."""

    def __init__(self, encoder: VisionTransformer, config: MAEConfig, in_chans: int) -> None:
        super().__init__()
        self.backbone = encoder
        self.mask_ratio = config.mask_ratio
        dim, ddim, patch = encoder.embed_dim, config.decoder_dim, encoder.patch
        self.decoder_embed = nn.Linear(dim, ddim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        self.decoder_blocks = nn.ModuleList(
            Block(ddim, config.decoder_heads, 4.0, 0.0) for _ in range(config.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(ddim, eps=1e-6)
        self.decoder_pred = nn.Linear(ddim, patch * patch * in_chans)
        for module in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            module.apply(_init_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.backbone
        b, _, h, w = x.shape
        gh, gw = h // enc.patch, w // enc.patch
        tokens = enc.patch_embed(x)
        n = tokens.shape[1]
        pos = enc.interpolate_pos_encoding(n, gh, gw)
        tokens = tokens + pos[:, 1:]
        keep_idx, restore, keep = random_masking(n, b, self.mask_ratio, x.device)
        visible = torch.gather(tokens, 1, keep_idx[..., None].expand(-1, -1, tokens.shape[-1]))
        cls = (enc.cls_token + pos[:, :1]).expand(b, -1, -1)
        z = torch.cat([cls, visible], dim=1)
        for blk in enc.blocks:
            z, _ = blk(z)
        z = enc.norm(z)

        y = self.decoder_embed(z)
        filled = torch.cat([y[:, 1:], self.mask_token.expand(b, n - keep, -1)], dim=1)
        filled = torch.gather(filled, 1, restore[..., None].expand(-1, -1, y.shape[-1]))
        y = torch.cat([y[:, :1], filled + sincos_2d(y.shape[-1], gh, gw, x.device)[None]], dim=1)
        for blk in self.decoder_blocks:
            y, _ = blk(y)
        pred = self.decoder_pred(self.decoder_norm(y))[:, 1:]
        mask = torch.ones(b, n, device=x.device)
        mask[:, :keep] = 0.0
        return pred, torch.gather(mask, 1, restore)


class MAE(SingleNetwork, nn.Module):
    """Encoder + decoder trained by masked reconstruction; no EMA, no second network."""

    name = "mae"

    def __init__(self, spec: BackboneSpec, config: MAEConfig) -> None:
        super().__init__()
        if not is_vit(spec):
            raise ValueError(f"method 'mae' needs a ViT backbone (backbone.arch = vit_*), got {spec.arch!r}")
        if config.view_px % spec.patch:
            raise ValueError(f"mae.view_px = {config.view_px} is not a multiple of backbone.patch = {spec.patch}")
        self.spec = spec
        self.config = config
        self.views = MAEViews(config)
        self.model = MaskedAutoencoder(build_backbone(spec, drop_path=0.0), config, spec.in_chans)
        self._zero_sum, self._zero_n = 0.0, 0

    def trainable(self) -> nn.Module:
        return self.model

    def loss(self, model: nn.Module, views: list[torch.Tensor], epoch: int) -> torch.Tensor:
        x = views[0]
        pred, mask = model(x)
        target = patchify(x, self.spec.patch)
        with torch.no_grad():
            self._zero_sum += float(zero_prediction_loss(target.float(), mask, self.config.norm_pix_loss))
            self._zero_n += 1
        return mae_loss(pred.float(), target.float(), mask, self.config.norm_pix_loss)

    def epoch_stats(self) -> dict[str, float]:
        """The epoch's mean :func:`zero_prediction_loss` (``loss_trivial`` in log.jsonl, beside ``loss``); resets it."""
        out = {"loss_trivial": self._zero_sum / self._zero_n} if self._zero_n else {}
        self._zero_sum, self._zero_n = 0.0, 0
        return out
