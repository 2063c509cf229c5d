"""Saving and loading backbone checkpoints: ours, and official DINO ones.

Our format is a dict ``{"format", "spec", "state_dict", "recipe", "provenance"}`` holding the
teacher backbone (seed 000 embeds with the DINO teacher). Official facebookresearch/dino
checkpoints (``{"teacher": ..., "student": ...}`` with ``module.`` and ``backbone.`` prefixes, or a
bare state dict) load too: their architecture is read off the tensor shapes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from radioexplore.assets import resolve_checkpoint, shipped_checkpoints
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.run.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT = "radioexplore-backbone/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and what is wrong."""


def save_backbone(
    path: str | Path, model: nn.Module, spec: BackboneSpec, recipe: dict | None = None, provenance: dict | None = None
) -> None:
    """Write a backbone checkpoint atomically (weights as float32 on the CPU)."""
    state = {k: v.detach().float().cpu() if v.is_floating_point() else v.cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "spec": asdict(spec),
        "state_dict": state,
        "recipe": recipe or {},
        "provenance": provenance or {},
    }
    with atomic_path(Path(path)) as tmp:
        torch.save(payload, tmp)


def load_backbone(
    path: str | Path, spec: BackboneSpec | None = None, which: str = "teacher"
) -> tuple[nn.Module, BackboneSpec, dict[str, Any]]:
    """Load a backbone; returns ``(model in eval mode, spec, metadata)``.

    ``spec`` overrides what the file says or implies (needed for official checkpoints trained on
    other input sizes); ``which`` picks teacher or student from a DINO training checkpoint. ``path``
    may also be the short name of a shipped checkpoint (``demo``, ``real``).
    """
    try:
        path = resolve_checkpoint(path)
    except FileNotFoundError as exc:
        raise CheckpointError(str(exc)) from exc
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint; give {_WHAT_LOADS}{_shipped_names()}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a torch checkpoint ({type(exc).__name__}: {exc}); give {_WHAT_LOADS}{_shipped_names()}"
        ) from exc
    meta: dict[str, Any] = {}
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        spec = spec or BackboneSpec(**payload["spec"])
        state = payload["state_dict"]
        meta = {"recipe": payload.get("recipe", {}), "provenance": payload.get("provenance", {})}
    else:
        state = official_state_dict(payload, which, path)
        spec = spec or infer_spec(state, path)
        meta = {"recipe": {}, "provenance": {"source": f"official checkpoint {path.name} ({which})"}}
    model = build_backbone(spec)
    state = adapt_input_channels(state, model)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        raise CheckpointError(
            f"{path}: weights missing for {len(missing)} parameters of {spec.arch}, e.g. {missing[:3]}"
        )
    if unexpected:
        log.warning("%s: ignored %d unexpected tensors, e.g. %s", path, len(unexpected), unexpected[:3])
    model.eval()
    return model, spec, meta


#: What ``load_backbone`` accepts, for messages about a file it cannot use.
_WHAT_LOADS = "a backbone saved by `radioexplore pretrain` (models/NAME/backbone.pt) or an official DINO .pth file"


def _shipped_names() -> str:
    names = list(shipped_checkpoints())
    return f", or a shipped one by name: {', '.join(names)}" if names else ""


def official_state_dict(payload: Any, which: str, path: Path) -> dict[str, torch.Tensor]:
    """The backbone tensors of a DINO checkpoint, without ``module.``/``backbone.`` prefixes or the head."""
    if isinstance(payload, dict) and which in payload and isinstance(payload[which], dict):
        state = payload[which]
    elif isinstance(payload, dict) and "state_dict" in payload:
        state = payload["state_dict"]
    elif isinstance(payload, dict) and all(isinstance(v, torch.Tensor) for v in payload.values()):
        state = payload
    else:
        keys = list(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: no {which!r} or state dict found (top-level keys: {keys})")
    out = {}
    for k, v in state.items():
        k = re.sub(r"^(module\.)?(backbone\.)?", "", k)
        if k.startswith("head.") or not isinstance(v, torch.Tensor):
            continue
        out[k] = v
    return out


def infer_spec(state: dict[str, torch.Tensor], path: Path) -> BackboneSpec:
    """Architecture of a bare state dict, read off its tensor shapes."""
    if "patch_embed.proj.weight" in state:
        w = state["patch_embed.proj.weight"]
        dim, patch = w.shape[0], w.shape[-1]
        width = {192: "tiny", 384: "small", 768: "base"}.get(dim)
        if width is None:
            raise CheckpointError(f"{path}: ViT of width {dim} is not one we build (192, 384, 768)")
        n_pos = state["pos_embed"].shape[1] - 1
        depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
        return BackboneSpec(
            arch=f"vit_{width}",
            patch=patch,
            in_chans=1,
            input_px=int(round(n_pos**0.5)) * patch,
            depth=None if depth == 12 else depth,
        )
    if "conv1.weight" in state:
        arch = "resnet50" if "layer1.0.conv3.weight" in state else "resnet18"
        return BackboneSpec(arch=arch, patch=0, in_chans=1, input_px=224)
    raise CheckpointError(f"{path}: neither a ViT nor a ResNet state dict (keys: {list(state)[:5]})")


def adapt_input_channels(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Sum RGB first-layer filters into one channel when an RGB checkpoint meets a 1-channel model."""
    target = model.state_dict()
    for key in ("patch_embed.proj.weight", "conv1.weight"):
        if key in state and key in target and state[key].shape[1] != target[key].shape[1] and target[key].shape[1] == 1:
            state = dict(state)
            state[key] = state[key].sum(dim=1, keepdim=True)
    return state
