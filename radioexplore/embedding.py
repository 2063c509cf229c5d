"""Embedding every tile with a backbone: CLS token (ViT) or pooled features (ResNet), batched.

Seed 000 embeds with the DINO teacher and uses the CLS token of a ViT or the pooled output of a
ResNet; tiles are resized to the backbone's input size and normalised as in its training.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from radioexplore.assets import demo_checkpoint
from radioexplore.checkpoint import load_backbone
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.rundir import RunDir, write_npy
from radioexplore.tilestore import open_tile_store

log = logging.getLogger(__name__)

#: The backbone used when no checkpoint exists at all: ViT-tiny/8 at 128 px, randomly initialised.
FALLBACK_SPEC = BackboneSpec(arch="vit_tiny", patch=8, in_chans=1, input_px=128, mean=0.0, std=1.0)


@dataclass(frozen=True)
class EmbedConfig:
    """Which backbone embeds the run, and how."""

    name: str = "vit"
    checkpoint: str | None = None  # None: the shipped demo checkpoint, else a random network
    random_init: bool = False  # embed with a randomly initialised network (a baseline)
    arch: str | None = None  # override the architecture for random_init
    batch_size: int = 64
    device: str = "auto"  # auto, cpu, cuda
    seed: int = 0


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


def prepare_batch(tiles: torch.Tensor, spec: BackboneSpec) -> torch.Tensor:
    """Resize ``[B, C, S, S]`` tiles in [0, 1] to the backbone's input, match channels, normalise."""
    if tiles.shape[-1] != spec.input_px:
        mode = "area" if tiles.shape[-1] > spec.input_px else "bilinear"
        tiles = F.interpolate(tiles, size=(spec.input_px, spec.input_px), mode=mode)
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
    model: nn.Module, spec: BackboneSpec, tiles, batch_size: int = 64, device: str = "auto", progress: bool = True
) -> np.ndarray:
    """Embeddings ``[N, D]`` float32 of an array-like of tiles ``[N, C, S, S]`` (zarr or numpy)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    n = tiles.shape[0]
    out: np.ndarray | None = None
    with tqdm(total=n, desc="embed tiles", unit="tile", disable=not progress) as bar:
        for start in range(0, n, batch_size):
            batch = torch.from_numpy(np.asarray(tiles[start : start + batch_size], dtype=np.float32)).to(dev)
            feats = model(prepare_batch(batch, spec)).float().cpu().numpy()
            if out is None:
                out = np.empty((n, feats.shape[1]), dtype=np.float32)
            out[start : start + len(feats)] = feats
            bar.update(len(feats))
    return out if out is not None else np.empty((0, 0), np.float32)


def embed_run(run: RunDir, config: EmbedConfig = EmbedConfig(), progress: bool = True) -> Path:
    """Embed every tile of ``run`` into ``embeddings/<name>.npy`` and record the provenance."""
    store = open_tile_store(run.tile_pixels)
    model, spec, meta = load_model(config)
    emb = embed_tiles(model, spec, store, config.batch_size, config.device, progress)
    write_npy(emb, run.embeddings(config.name))
    source = config.checkpoint or ("random init" if config.random_init else str(demo_checkpoint() or "random init"))
    run.record(
        "embed",
        dict(
            asdict(config),
            spec=spec.to_dict(),
            checkpoint_used=source,
            dim=int(emb.shape[1]),
            n=int(emb.shape[0]),
            provenance=meta.get("provenance", {}),
        ),
        key=config.name,
    )
    log.info("embedded %d tiles with %s (%s) into %s", emb.shape[0], spec.arch, source, run.embeddings(config.name))
    return run.embeddings(config.name)
