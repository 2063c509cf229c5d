"""Embedding every tile with a backbone: CLS token or a pool of the patch tokens (ViT), or pooled features (ResNet).

Seed 000 embeds with the DINO teacher and uses the CLS token of a ViT or the pooled output of a
ResNet; tiles are normalised as in its training. They are embedded at their own resolution
(:func:`embedding_px`), not shrunk to the training crop: a ViT interpolates its position
embeddings and a ResNet pools whatever it is given, and faint compact sources survive. Stamps (one
object per cutout) are the exception: the whole stamp is shown at the training input
(:func:`run_embedding_px`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from radioexplore.assets import demo_checkpoint, resolve_checkpoint, shipped_checkpoints
from radioexplore.embed.noiseclip import noise_clip
from radioexplore.embed.tta import TTAS, read_out
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.models.checkpoint import load_backbone
from radioexplore.models.vit import POOLS, VisionTransformer
from radioexplore.run.atomic import atomic_path
from radioexplore.run.fanout import describe, map_tasks
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import CHUNK_TILES, open_tile_store
from radioexplore.run.tiletable.schema import is_stamps_run

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

#: Tiles larger than this are area-downsampled to it before the network (bounds the cost of big tiles).
MAX_EMBED_PX = 256

#: The backbone used when no checkpoint exists at all: ViT-tiny/8 at 128 px, randomly initialised.
FALLBACK_SPEC = BackboneSpec(arch="vit_tiny", patch=8, in_chans=1, input_px=128, mean=0.0, std=1.0)


@dataclass(frozen=True)
class EmbedConfig:
    """Which backbone embeds the run, and how."""

    name: str = "vit"
    checkpoint: str | None = None  # None: the shipped demo checkpoint (real for a stamps run), else a random network
    random_init: bool = False  # embed with a randomly initialised network (a baseline)
    arch: str | None = None  # override the architecture for random_init
    batch_size: int = 64
    device: str = "auto"  # auto, cpu, cuda
    seed: int = 0
    input_px: int | None = None  # pixels tiles are resized to; None: their own size (see embedding_px)
    block_tiles: int = 1024  # tiles per Dask task when fanned out (rounded up to whole batches and chunks)
    pool: str = "cls"  # ViT read-out: "cls" token (seed 000), "mean" (seed 003), "max", "gem" or "cat" (POOLS)
    tta: str = "none"  # test-time augmentation: "none" or "dihedral" (mean over 8 rotations / flips; 8x the cost)
    clip_sigma: float | None = None  # show the network only emission above this many noise sigma (noiseclip)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA device; use --device cpu")
    return torch.device(device)


def load_model(config: EmbedConfig) -> tuple[nn.Module, BackboneSpec, dict]:
    """The backbone named by ``config``: a checkpoint, the shipped demo checkpoint, or a random net."""
    if config.checkpoint and not config.random_init:
        return load_backbone(config.checkpoint)
    shipped = demo_checkpoint()
    if config.random_init or shipped is None:
        spec = FALLBACK_SPEC
        if shipped is not None:
            spec = load_backbone(shipped)[1]
        if config.arch:
            spec = BackboneSpec(**{**asdict(spec), "arch": config.arch})
        torch.manual_seed(config.seed)
        if not config.random_init:
            log.warning("no checkpoint given and none shipped: embedding with a randomly initialised %s", spec.arch)
        return build_backbone(spec).eval(), spec, {"provenance": {"source": f"random init, seed {config.seed}"}}
    return load_backbone(shipped)


def embedding_px(spec: BackboneSpec, tile_px: int, requested: int | None = None) -> int:
    """The side tiles of ``tile_px`` are resized to before the network.

    ``requested`` if given; else the tile's own side, at least the backbone's training input
    (``spec.input_px``) and at most :data:`MAX_EMBED_PX`. Rounded to whole ViT patches. Why not
    the training input: the demo checkpoint trains on 96 px crops, and shrinking 256 px tiles to
    96 px loses the faint compact sources: embedded at 256 px instead, the CPU-trained demo
    checkpoint's source-count probe MSE fell from 29.4 to 20.2 (random network: 39.7 to 29.5).
    """
    if requested is not None and requested < 1:
        raise ValueError(f"input_px must be a positive number of pixels, got {requested}")
    px = requested if requested is not None else min(max(int(tile_px), spec.input_px), max(MAX_EMBED_PX, spec.input_px))
    if spec.patch > 0:
        px = max(spec.patch, int(round(px / spec.patch)) * spec.patch)
    return int(px)


def run_embedding_px(run: RunDir, spec: BackboneSpec, tile_px: int, requested: int | None = None) -> int:
    """:func:`embedding_px` for the tiles of ``run``; a stamps run's tiles at the backbone's training input.

    A stamp is one object centred in its cutout, as the training crops of the shipped checkpoints
    (96 px, SimCLR) saw them; shown at that size the whole stamp is the model's field of view.
    Measured with the shipped ``real`` checkpoint (``benchmarks/stamps_scaling.py``, FR I / FR II
    probe, simulated FIRST-like objects, 2 seeds x 5 folds): raw 300 px cutouts resampled to 256 px
    and embedded at 256 px 12.1% error, at 96 px 4.2%; the clean 150 px stamps at 144 px 7.9%,
    at 96 px 3.8%; FR-DEEP FIRST 12.0% at 144 px, 9.9% at 96 px (FR-DEEP was in that checkpoint's
    pre-training, so this last pair is no evidence).
    """
    if requested is None and is_stamps_run(run):
        requested = spec.input_px
    return embedding_px(spec, tile_px, requested)


def recorded_view(record: dict, spec: BackboneSpec) -> dict:
    """How an embedding set's images were shown to its network, from its ``stages.embed`` record: the
    :func:`embed_tiles` keywords ``input_px``, ``pool``, ``tta`` and ``clip_sigma``, so that a query or a
    baseline is embedded alike (runs embedded before ``embed_px`` was recorded: the training input)."""
    clip = record.get("clip_sigma")
    return {
        "input_px": int(record.get("embed_px") or spec.input_px),
        "pool": str(record.get("pool", "cls")),
        "tta": str(record.get("tta", "none")),
        "clip_sigma": None if clip is None else float(clip),
    }


def prepare_batch(tiles: torch.Tensor, spec: BackboneSpec, input_px: int | None = None) -> torch.Tensor:
    """Resize ``[B, C, S, S]`` tiles in [0, 1] to ``input_px`` (None: :func:`embedding_px` of their
    size), match channels, normalise."""
    px = input_px if input_px is not None else embedding_px(spec, tiles.shape[-1])
    if tiles.shape[-1] != px or tiles.shape[-2] != px:
        mode = "area" if tiles.shape[-1] > px else "bilinear"
        tiles = F.interpolate(tiles, size=(px, px), mode=mode)
    c = tiles.shape[1]
    if c != spec.in_chans:
        if spec.in_chans == 1:
            tiles = tiles.mean(dim=1, keepdim=True)
        elif c == 1:
            tiles = tiles.repeat(1, spec.in_chans, 1, 1)
        else:
            raise ValueError(f"tiles have {c} channels but the backbone expects {spec.in_chans}")
    return (tiles - spec.mean) / spec.std


@torch.no_grad()
def embed_tiles(
    model: nn.Module,
    spec: BackboneSpec,
    tiles,
    batch_size: int = 64,
    device: str = "auto",
    progress: bool = True,
    rows: tuple[int, int] | None = None,
    input_px: int | None = None,
    pool: str = "cls",
    tta: str = "none",
    clip_sigma: float | None = None,
) -> np.ndarray:
    """Embeddings ``[N, D]`` float32 of an array-like of tiles ``[N, C, S, S]`` (zarr or numpy).

    ``rows=(start, stop)`` embeds only those rows, read batch by batch (a block of a larger store);
    ``input_px``: the side the tiles are resized to (None: :func:`embedding_px` of theirs);
    ``pool``: a ViT's read-out, one of :data:`~radioexplore.models.vit.POOLS` (all but ``"cls"``: ViTs only);
    ``tta``: ``"dihedral"`` averages the read-out over the 8 rotations and flips (:mod:`radioexplore.embed.tta`);
    ``clip_sigma``: embed the noise-clipped view of each tile (:mod:`radioexplore.embed.noiseclip`).
    """
    check_pool(model, pool)
    check_tta(tta)
    px = embedding_px(spec, tiles.shape[-1], input_px)
    dev = resolve_device(device)
    model = model.to(dev).eval()
    lo, hi = rows if rows is not None else (0, tiles.shape[0])
    n = hi - lo
    out: np.ndarray | None = None
    with tqdm(total=n, desc="embed tiles", unit="tile", disable=not progress) as bar:
        for start in range(lo, hi, batch_size):
            batch = torch.from_numpy(np.asarray(tiles[start : min(start + batch_size, hi)], dtype=np.float32)).to(dev)
            if clip_sigma is not None:
                batch = noise_clip(batch, clip_sigma)
            x = prepare_batch(batch, spec, px)
            feats = read_out(model, x, pool, tta).cpu().numpy()
            if out is None:
                out = np.empty((n, feats.shape[1]), dtype=np.float32)
            out[start - lo : start - lo + len(feats)] = feats
            bar.update(len(feats))
    return out if out is not None else np.empty((0, 0), np.float32)


def embed_block(
    rows: tuple[int, int],
    model: nn.Module,
    spec: BackboneSpec,
    store_path: str,
    batch_size: int,
    device: str,
    progress: bool = False,
    input_px: int | None = None,
    pool: str = "cls",
    tta: str = "none",
    clip_sigma: float | None = None,
) -> np.ndarray:
    """Embeddings of tiles ``rows[0]:rows[1]`` of the tile store at ``store_path``: one embedding task."""
    return embed_tiles(
        model,
        spec,
        open_tile_store(store_path),
        batch_size,
        device,
        progress,
        rows=rows,
        input_px=input_px,
        pool=pool,
        tta=tta,
        clip_sigma=clip_sigma,
    )


def check_pool(model: nn.Module, pool: str) -> None:
    """Refuse a read-out the backbone cannot give: all but ``cls`` need a ViT's patch tokens."""
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")
    if pool != "cls" and not isinstance(model, VisionTransformer):
        raise ValueError(f"pool {pool!r} needs a ViT backbone; this one is a {type(model).__name__} (use pool 'cls')")


def check_tta(tta: str) -> None:
    """Refuse an unknown test-time augmentation."""
    if tta not in TTAS:
        raise ValueError(f"unknown tta {tta!r}; choose one of {', '.join(TTAS)}")


def tile_blocks(n: int, block_tiles: int, batch_size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` blocks covering ``n`` tiles; each a whole number of batches and of store chunks.

    Whole batches keep every forward pass the same as in a single pass over the store, so a
    fanned-out embedding equals the single-process one.
    """
    step = math.lcm(batch_size, CHUNK_TILES)
    size = max(step, math.ceil(block_tiles / step) * step)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def default_checkpoint_for(run: RunDir, config: EmbedConfig) -> EmbedConfig:
    """``config``, with the shipped ``real`` checkpoint filled in for a stamps run when none was given:
    it is the one trained with the larger share of real stamps, and the better on them (FR-DEEP)."""
    if config.checkpoint or config.random_init or not is_stamps_run(run):
        return config
    if "real" not in shipped_checkpoints():
        return config
    log.info(
        "%s is a stamps run: embedding with the shipped 'real' checkpoint (--checkpoint demo for the other)", run.root
    )
    return replace(config, checkpoint="real")


def embed_run(
    run: RunDir, config: EmbedConfig = EmbedConfig(), progress: bool = True, client: Client | None = None
) -> Path:
    """Embed every tile of ``run`` into ``embeddings/<name>.npy`` and record the provenance.

    In this process by default; with a Dask ``client``, one task per block of
    ``config.block_tiles`` tiles (see :mod:`radioexplore.run.fanout`), with the same result.
    """
    run.check_consistent(stages=("ingest",))
    built_from = run.provenance()
    store = open_tile_store(run.tile_pixels)
    n = store.shape[0]
    if n == 0:
        raise ValueError(f"{run.tile_pixels} holds no tiles; nothing to embed (ingest images into {run.root} first)")
    config = default_checkpoint_for(run, config)
    model, spec, meta = load_model(config)
    check_pool(model, config.pool)
    check_tta(config.tta)
    px = run_embedding_px(run, spec, store.shape[-1], config.input_px)
    blocks = tile_blocks(n, config.block_tiles, config.batch_size) if client is not None else [(0, n)]
    target = run.embeddings(config.name)
    with atomic_path(target) as tmp:
        out: dict[str, np.ndarray] = {}

        def collect(i: int, emb: np.ndarray) -> None:
            if "emb" not in out:  # the width is known once the first block is embedded
                out["emb"] = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, emb.shape[1]))
            out["emb"][blocks[i][0] : blocks[i][1]] = emb

        map_tasks(
            embed_block,
            blocks,
            dict(
                model=model,
                spec=spec,
                store_path=str(run.tile_pixels),
                batch_size=config.batch_size,
                device=config.device,
                progress=progress and client is None,
                input_px=px,
                pool=config.pool,
                tta=config.tta,
                clip_sigma=config.clip_sigma,
            ),
            client=client,
            desc="embed tiles",
            unit="tile",
            weights=[b - a for a, b in blocks],
            progress=progress and client is not None,
            collect=collect,
        )
        emb = out.pop("emb")
        dim = int(emb.shape[1])
        emb.flush()
        del emb
    if config.checkpoint and not config.random_init:
        source = str(resolve_checkpoint(config.checkpoint))
    else:
        source = "random init" if config.random_init else str(demo_checkpoint() or "random init")
    run.record(
        "embed",
        dict(
            asdict(config),
            spec=spec.to_dict(),
            checkpoint_used=source,
            embed_px=px,
            dim=dim,
            n=n,
            provenance=meta.get("provenance", {}),
            built_from=dict(built_from, embedding_checksum=run.embedding_checksum(config.name)),
            **describe(client),
        ),
        key=config.name,
    )
    log.info(
        "embedded %d tiles of %d px at %d px with %s (%s) into %s", n, store.shape[-1], px, spec.arch, source, target
    )
    return target
