"""A Vision Transformer in plain torch, shaped like DINO's (Caron et al. 2021) so its checkpoints load.

Patch size 8 is what seed 000 trains (ViT-S/8); the last block's CLS-token attention gives the
attention maps of seed 000, fig. 7. Parameter names follow facebookresearch/dino
(``patch_embed.proj``, ``blocks.N.attn.qkv``, ``norm``) so official checkpoints load by name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from radioexplore.registry import lookup


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch`` x ``patch`` patches projected to ``dim`` by one strided convolution."""

    def __init__(self, patch: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if return_attention:
            attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
            out = attn @ v
        else:
            attn = None
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c)), attn


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample with probability ``p`` while training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, attn = self.attn(self.norm1(x), return_attention)
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, attn


class VisionTransformer(nn.Module):
    """ViT backbone returning the CLS token; positional embeddings interpolate to any input size."""

    def __init__(
        self,
        patch: int = 8,
        in_chans: int = 1,
        dim: int = 384,
        depth: int = 12,
        heads: int = 6,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.1,
        img_px: int = 224,
    ) -> None:
        super().__init__()
        self.patch = patch
        self.embed_dim = dim
        self.patch_embed = PatchEmbed(patch, in_chans, dim)
        n_patches = (img_px // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_patches + 1, dim))
        rates = torch.linspace(0, drop_path, depth).tolist()
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, r) for r in rates)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_weights)

    def interpolate_pos_encoding(self, n_patches: int, h: int, w: int) -> torch.Tensor:
        """Positional embeddings resized (bicubic) from the training grid to an ``h`` x ``w`` patch grid."""
        n_pos = self.pos_embed.shape[1] - 1
        if n_patches == n_pos and h == w:
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        side = int(math.sqrt(n_pos))
        grid = patch_pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([cls_pos, grid.permute(0, 2, 3, 1).reshape(1, h * w, -1)], dim=1)

    def prepare_tokens(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        return tokens + self.interpolate_pos_encoding(tokens.shape[1] - 1, h // self.patch, w // self.patch)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's normalised tokens ``[B, 1 + n_patches, D]``, CLS first."""
        x = self.prepare_tokens(x)
        for blk in self.blocks:
            x, _ = blk(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor, pool: str = "cls") -> torch.Tensor:
        """One embedding per image: the CLS token (DINO, seed 000) or, with another ``pool``, a pool of
        the last layer's patch tokens (``"mean"``: seed 003's read-out of a ViT-MAE encoder); see
        :func:`pool_tokens`."""
        return pool_tokens(self.forward_tokens(x), pool)

    def get_last_selfattention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention of the last block, ``[B, heads, 1 + n_patches, 1 + n_patches]``."""
        x = self.prepare_tokens(x)
        for blk in self.blocks[:-1]:
            x, _ = blk(x)
        _, attn = self.blocks[-1](x, return_attention=True)
        return attn


#: ViT read-outs: the CLS token, the mean / max / GeM of the patch tokens, or [CLS, mean, max] side by side.
POOLS = ("cls", "mean", "max", "gem", "cat")

#: GeM's exponent (Radenovic et al. 2018): 1 is the mean, large values approach the max.
GEM_P = 3.0


def pool_tokens(tokens: torch.Tensor, pool: str) -> torch.Tensor:
    """``[B, 1 + n, D]`` tokens to one vector per image, by ``pool`` (one of :data:`POOLS`).

    ``"cls"``: the CLS token; ``"mean"``, ``"max"``: the mean or the per-dimension max of the patch
    tokens; ``"gem"``: their signed power mean with p = :data:`GEM_P` (the tokens are layer-normed,
    so negative values keep their sign); ``"cat"``: [CLS, mean, max], ``[B, 3D]``. Max and GeM keep a
    feature that fires on a few patches of the tile, which the CLS and the mean average away; with
    the shipped ``demo`` checkpoint that did not help (issue 21, ``benchmarks/survey_probes.py`` on 4
    held-out simulated surveys, seeds 11-14 with 32-87 ring / X tiles, x 3 fold seeds): ring / X
    top-5% recall cls 0.54 +- 0.09, mean 0.54 +- 0.10, max 0.50 +- 0.09, gem 0.53 +- 0.10, cat
    0.51 +- 0.08; source-count MSE 18.9, 20.7, 23.0, 23.7, 22.3 (pixel PCA 61.1), so CLS stays the default.
    """
    patches = tokens[:, 1:]
    if pool == "cls":
        return tokens[:, 0]
    if pool == "mean":
        return patches.mean(dim=1)
    if pool == "max":
        return patches.amax(dim=1)
    if pool == "gem":
        m = (patches.sign() * patches.abs().pow(GEM_P)).mean(dim=1)
        return m.sign() * m.abs().pow(1.0 / GEM_P)
    if pool == "cat":
        return torch.cat([tokens[:, 0], patches.mean(dim=1), patches.amax(dim=1)], dim=1)
    raise ValueError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


VIT_WIDTHS = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def vit(
    width: str = "small", patch: int = 8, in_chans: int = 1, depth: int | None = None, **kwargs
) -> VisionTransformer:
    """ViT-``width``/``patch``: tiny (192-d, 3 heads), small (384-d, 6 heads) or base; 12 blocks unless ``depth``."""
    dim, standard_depth, heads = lookup(VIT_WIDTHS, width, "ViT width")
    depth = depth or standard_depth
    return VisionTransformer(patch=patch, in_chans=in_chans, dim=dim, depth=depth, heads=heads, **kwargs)
