"""Attention maps of a ViT on a tile: the last block's CLS-token attention, per head and averaged.

As in DINO (Caron et al. 2021, fig. 1) and seed 000 (fig. 7), the attention of the CLS token to
every patch in the last block shows where each head looks; seed 000 contours the patches above
the 90th percentile of each head (with patch 8, those are 8 x 8 pixel patches of the model input).
:func:`tile_attention` returns the maps upsampled to the tile's pixels, ``[heads, S, S]``, for the
app to overlay; :func:`plot_attention` draws the figure that ``radioexplore attention`` writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radioexplore.models import BackboneSpec, is_vit
from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)


class AttentionError(ValueError):
    """No attention map can be made (no ViT, no such tile); the message says why and what to do."""


@torch.no_grad()
def cls_attention(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Last-block attention of the CLS token to each patch, ``[B, heads, H / patch, W / patch]``.

    ``x`` is the normalised model input ``[B, C, H, W]``. Each map sums to at most 1 (the rest is
    the CLS token's attention to itself).
    """
    if not hasattr(model, "get_last_selfattention"):
        raise AttentionError(f"{type(model).__name__} has no self-attention; attention maps need a ViT backbone")
    attn = model.get_last_selfattention(x)  # [B, heads, 1 + N, 1 + N]
    b, heads = attn.shape[:2]
    gh, gw = x.shape[-2] // model.patch, x.shape[-1] // model.patch
    return attn[:, :, 0, 1:].reshape(b, heads, gh, gw)


def attention_maps(model: nn.Module, spec: BackboneSpec, tile: np.ndarray) -> np.ndarray:
    """CLS attention per head on one tile ``[C, S, S]`` (values in [0, 1]), upsampled to ``[heads, S, S]``.

    The tile is resized and normalised as for embedding; each patch's attention fills the tile
    pixels that patch covers (nearest-neighbour upsampling keeps the patch blocks visible).
    """
    from radioexplore.embed.embedding import prepare_batch

    tile = np.nan_to_num(np.asarray(tile, dtype=np.float32), nan=0.0)
    if tile.ndim == 2:
        tile = tile[None]
    s = tile.shape[-1]
    model = model.eval()
    device = next(model.parameters()).device
    x = prepare_batch(torch.from_numpy(tile)[None].to(device), spec)
    grid = cls_attention(model, x).float()
    return F.interpolate(grid, size=(s, s), mode="nearest")[0].cpu().numpy()


def percentile_mask(maps: np.ndarray, percentile: float = 90.0) -> np.ndarray:
    """Boolean mask of the pixels at or above each map's ``percentile`` (seed 000, fig. 7: 90th)."""
    maps = np.asarray(maps)
    flat = maps.reshape(maps.shape[0], -1) if maps.ndim == 3 else maps.reshape(1, -1)
    thr = np.percentile(flat, percentile, axis=1)
    return maps >= (thr.reshape(-1, 1, 1) if maps.ndim == 3 else thr[0])


@dataclass(frozen=True)
class TileAttention:
    """A tile's image (first channel, [0, 1]) and its attention maps ``[heads, S, S]`` and mean ``[S, S]``."""

    tile_id: int
    image: np.ndarray
    maps: np.ndarray
    checkpoint: str
    spec: BackboneSpec

    @property
    def mean(self) -> np.ndarray:
        return self.maps.mean(axis=0)


def attention_checkpoint(run: RunDir | None = None, checkpoint: str | None = None, embedding: str | None = None) -> str:
    """The checkpoint to draw attention from: ``checkpoint``, else the one that made the run's
    ``embedding`` (when that was a file), else the default embedding's, else the shipped one."""
    from radioexplore.assets import demo_checkpoint

    if checkpoint:
        return str(checkpoint)
    if run is not None:
        for name in dict.fromkeys([embedding, run.default_embedding()]):
            used = run.stage_config("embed", name).get("checkpoint_used") if name else None
            if used and Path(used).is_file():
                return str(used)
    shipped = demo_checkpoint()
    if shipped is None:
        raise AttentionError("no checkpoint given and none shipped in assets/; pass --checkpoint with a ViT checkpoint")
    return str(shipped)


def load_vit(checkpoint: str) -> tuple[nn.Module, BackboneSpec]:
    from radioexplore.models.checkpoint import load_backbone

    model, spec, _ = load_backbone(checkpoint)
    if not is_vit(spec):
        raise AttentionError(f"{checkpoint} holds a {spec.arch}: attention maps need a ViT checkpoint (--checkpoint)")
    return model, spec


def tile_attention(
    run: RunDir, tile_id: int, checkpoint: str | None = None, model: tuple[nn.Module, BackboneSpec] | None = None
) -> TileAttention:
    """Attention maps of tile ``tile_id`` of ``run`` (see :func:`attention_checkpoint` for the model).

    Pass ``model=(vit, spec)`` to reuse a loaded model (the app keeps one), with ``checkpoint``
    naming where it came from.
    """
    from radioexplore.run.tilestore import open_tile_store

    store = open_tile_store(run.tile_pixels)
    if not 0 <= tile_id < store.shape[0]:
        raise AttentionError(f"tile {tile_id} does not exist: {run.root} has tiles 0..{store.shape[0] - 1}")
    source = str(checkpoint) if checkpoint else "given model"
    if model is None:
        source = attention_checkpoint(run, checkpoint)
        model = load_vit(source)
    vit, spec = model
    tile = np.asarray(store[tile_id], dtype=np.float32)
    maps = attention_maps(vit, spec, tile)
    return TileAttention(tile_id, np.nan_to_num(tile[0]), maps, source, spec)


def plot_attention(
    image: np.ndarray, maps: np.ndarray, out: str | Path, percentile: float = 90.0, title: str = ""
) -> Path:
    """PNG: the tile, the mean attention, and each head over the tile with its ``percentile`` contour in red."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    heads = maps.shape[0]
    panels = [("tile", None), ("mean of heads", maps.mean(axis=0))] + [(f"head {h}", maps[h]) for h in range(heads)]
    ncols = min(4, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig = Figure(figsize=(3.2 * ncols, 3.3 * nrows + (0.4 if title else 0)))
    FigureCanvasAgg(fig)
    for i, (label, amap) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(image, cmap="gray", origin="lower", vmin=0, vmax=1)
        if amap is not None:
            ax.imshow(amap, cmap="inferno", origin="lower", alpha=0.55)
            mask = percentile_mask(amap[None], percentile)[0]
            if mask.any() and not mask.all():
                ax.contour(mask.astype(float), levels=[0.5], colors="red", linewidths=0.8, origin="lower")
        ax.set_title(label + ("" if amap is None else f" (>{percentile:g}th pct.)"), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return out


def plot_tile_attention(
    run: RunDir, tile_id: int, out: str | Path, checkpoint: str | None = None, percentile: float = 90.0
) -> Path:
    """Write the attention figure of one tile of a run (``radioexplore attention``)."""
    ta = tile_attention(run, tile_id, checkpoint)
    title = f"{run.root.name}: tile {tile_id}, last-block CLS attention of {ta.spec.arch}/{ta.spec.patch} ({Path(ta.checkpoint).name})"
    return plot_attention(ta.image, ta.maps, out, percentile, title)
