"""Overlapping tiles and their seamless re-assembly (seed 004: tiles overlap and the overlap is cropped).

A tile of ``tile`` px is run through the network; only its central ``tile - 2 * margin`` px (the
core) are kept, so every output pixel comes from a tile in which it lies at least ``margin`` px
from the edge, where the convolutions saw real neighbours rather than padding. Cores tile the
image exactly, each pixel from one tile. Beyond the image the input is its mirror image, so a
constant image gives a constant map. A field is cut into blocks of whole cores; each block reads
only its window plus the margin, so blocks can be segmented apart (Dask tasks) with the same result
as the whole field at once, and memory is bounded by the block size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from radioexplore.io.fits import FitsImage
from radioexplore.segmentation.scaling import scaled_window

#: Seed 004: 192 x 192 px tiles.
TILE_PX = 192
#: Overlap cropped on each side of a tile: 32 px (~6 beams at 1.5 arcsec/px); cores of 128 px.
MARGIN_PX = 32


@dataclass(frozen=True)
class Block:
    """A rectangle of output pixels ``[y0:y1, x0:x1]``; its width and height are whole cores except at the image edge."""

    x0: int
    y0: int
    x1: int
    y1: int


def plan_blocks(ny: int, nx: int, tile: int = TILE_PX, margin: int = MARGIN_PX, block_cores: int = 8) -> list[Block]:
    """Blocks of ``block_cores`` x ``block_cores`` cores covering an ny x nx image."""
    core = _core(tile, margin)
    step = core * block_cores
    return [Block(x, y, min(x + step, nx), min(y + step, ny)) for y in range(0, ny, step) for x in range(0, nx, step)]


def _core(tile: int, margin: int) -> int:
    core = tile - 2 * margin
    if core <= 0 or margin < 0:
        raise ValueError(f"tile {tile} px with margin {margin} px leaves no core; the margin must be < tile / 2")
    return core


def padded_window(
    image: FitsImage | np.ndarray,
    grid: np.ndarray,
    block: Block,
    tile: int,
    margin: int,
    extra: np.ndarray | None = None,
) -> np.ndarray:
    """The scaled input under ``block``'s tiles: its pixels plus ``margin`` round, padded up to whole cores,
    mirrored beyond the image; (H, W), or (2, H, W) with ``extra``, a further channel of the whole field already
    scaled (e.g. :func:`radioexplore.segmentation.scaling.taper_channel`), read on the same window."""
    core = _core(tile, margin)
    ny, nx = image.shape
    h = -(-(block.y1 - block.y0) // core) * core + 2 * margin
    w = -(-(block.x1 - block.x0) // core) * core + 2 * margin
    wy0, wx0 = block.y0 - margin, block.x0 - margin
    ya, xa = max(wy0, 0), max(wx0, 0)
    yb, xb = min(wy0 + h, ny), min(wx0 + w, nx)
    inside = scaled_window(image, grid, xa, ya, xb - xa, yb - ya)
    if extra is not None:
        if extra.shape != (ny, nx):
            raise ValueError(f"the extra input channel is {extra.shape}, the image {(ny, nx)}: make it from this image")
        inside = np.stack([inside, np.asarray(extra[ya:yb, xa:xb], np.float32)])
    pad = ((ya - wy0, wy0 + h - yb), (xa - wx0, wx0 + w - xb))
    if inside.ndim == 3:
        pad = ((0, 0), *pad)
    return np.pad(inside, pad, mode="symmetric") if any(p for pair in pad for p in pair) else inside


@torch.no_grad()
def dihedral_mean(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Sigmoid probability averaged over the 8 flips and 90-degree rotations of square tiles ``x`` (N, C, H, W),
    each mapped back: test-time augmentation over the symmetries the training crops were drawn with, since
    the sky has no preferred orientation; a map that any of them shows alone is an artefact of the network."""
    total = torch.zeros((), device=x.device)
    for flip in (False, True):
        xf = torch.flip(x, dims=(-1,)) if flip else x
        for k in range(4):
            p = torch.sigmoid(model(torch.rot90(xf, k, dims=(-2, -1))).float())
            p = torch.rot90(p, -k, dims=(-2, -1))
            total = total + (torch.flip(p, dims=(-1,)) if flip else p)
    return total / 8.0


@torch.no_grad()
def predict_window(
    model: nn.Module,
    window: np.ndarray,
    tile: int,
    margin: int,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    tta: bool = False,
) -> np.ndarray:
    """Probabilities of the cores of every tile of a padded window ((H, W) or (C, H, W); its sides are whole cores
    + 2 margins); ``tta``: each the mean over the tile's 8 flips and rotations (:func:`dihedral_mean`)."""
    core = _core(tile, margin)
    window = window[None] if window.ndim == 2 else window
    h, w = window.shape[-2] - 2 * margin, window.shape[-1] - 2 * margin
    out = np.empty((h, w), np.float32)
    origins = [(y, x) for y in range(0, h, core) for x in range(0, w, core)]
    model.eval()
    for i in range(0, len(origins), batch_size):
        part = origins[i : i + batch_size]
        x = torch.from_numpy(np.stack([window[:, y : y + tile, x : x + tile] for y, x in part])).to(device)
        prob = (dihedral_mean(model, x) if tta else torch.sigmoid(model(x).float()))[:, 0].cpu().numpy()
        for (y, x_), p in zip(part, prob, strict=True):
            out[y : y + core, x_ : x_ + core] = p[margin : margin + core, margin : margin + core]
    return out


def segment_block(
    block: Block,
    image: FitsImage | np.ndarray,
    grid: np.ndarray,
    model: nn.Module,
    tile: int = TILE_PX,
    margin: int = MARGIN_PX,
    batch_size: int = 8,
    device: str = "cpu",
    tta: bool = False,
    extra: np.ndarray | None = None,
) -> np.ndarray:
    """Probability map of one block (float32, the block's own shape, NaN where the image is blank); one Dask task.
    ``extra``: a second input channel of the whole field (:func:`padded_window`), for a two-channel network."""
    window = padded_window(image, grid, block, tile, margin, extra)
    prob = predict_window(model, window, tile, margin, batch_size, device, tta)[
        : block.y1 - block.y0, : block.x1 - block.x0
    ]
    w, h = block.x1 - block.x0, block.y1 - block.y0
    raw = (
        image.read_box(block.x0, block.y0, w, h)
        if isinstance(image, FitsImage)
        else image[block.y0 : block.y1, block.x0 : block.x1]
    )
    prob[~np.isfinite(raw)] = np.nan
    return prob


def segment_array(
    image: np.ndarray, grid: np.ndarray, model: nn.Module, tile: int = TILE_PX, margin: int = MARGIN_PX, **kw
) -> np.ndarray:
    """Probability map of an in-memory image, block by block (the same map as any other block plan)."""
    out = np.empty(image.shape, np.float32)
    for b in plan_blocks(*image.shape, tile=tile, margin=margin):
        out[b.y0 : b.y1, b.x0 : b.x1] = segment_block(b, image, grid, model, tile, margin, **kw)
    return out
