"""The optimiser of pre-training: parameter groups, optimisers by name, per-step schedules, mixed precision."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from radioexplore.registry import lookup
from radioexplore.ssl import ema_momentum
from radioexplore.ssl.processes import Processes
from radioexplore.ssl.recipe import Recipe
from radioexplore.ssl.schedules import learning_rate_schedule, momentum_schedule, weight_decay_schedule

log = logging.getLogger(__name__)


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on weights only: biases and normalisation parameters are not decayed (DINO)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith(".bias") or p.ndim == 1 else decay).append(p)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


OPTIMIZERS = {
    "adamw": lambda groups: torch.optim.AdamW(groups, lr=0.0),  # DINO with ViTs
    "adam": lambda groups: torch.optim.Adam(groups, lr=0.0),  # seed 002
    "sgd": lambda groups: torch.optim.SGD(groups, lr=0.0, momentum=0.9),  # DINO with ResNet-50
}


def build_optimizer(name: str, model: nn.Module) -> torch.optim.Optimizer:
    """The optimiser ``name`` (a key of :data:`OPTIMIZERS`) over ``model``'s :func:`param_groups`."""
    return lookup(OPTIMIZERS, name, "optimizer")(param_groups(model))


@dataclass(frozen=True)
class StepPlan:
    """How many steps a run takes and the learning rate, weight decay and EMA momentum at each."""

    steps_per_epoch: int
    total_steps: int
    lr_at: Callable[[int], float]
    wd_at: Callable[[int], float]
    momentum_at: Callable[[int], float]
    has_momentum: bool

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        """Set the learning rate of every parameter group, and the weight decay of the decayed one, for ``step``."""
        for i, group in enumerate(optimizer.param_groups):
            group["lr"] = self.lr_at(step)
            if i == 0:
                group["weight_decay"] = self.wd_at(step)


def plan_steps(recipe: Recipe, n_train: int, procs: Processes) -> StepPlan:
    """The steps and schedules of ``recipe`` on ``n_train`` tiles shared by ``procs`` (global batch: all processes')."""
    o = recipe.optim
    global_batch = o.batch_size * procs.world
    steps_per_epoch = (n_train // procs.world) // o.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"{n_train} training tiles over {procs.world} process(es) do not fill one batch of "
            f"{o.batch_size}; lower optim.batch_size (--set optim.batch_size=...)"
        )
    lr_at = learning_rate_schedule(
        o.lr, o.min_lr, global_batch if o.scale_lr_with_batch else 256, o.epochs, steps_per_epoch, o.warmup_epochs
    )
    wd_at = weight_decay_schedule(o.weight_decay, o.weight_decay_end, o.epochs, steps_per_epoch)
    base_momentum = ema_momentum(recipe)
    momentum_at = momentum_schedule(base_momentum if base_momentum is not None else 1.0, o.epochs, steps_per_epoch)
    return StepPlan(steps_per_epoch, o.epochs * steps_per_epoch, lr_at, wd_at, momentum_at, base_momentum is not None)


def grad_scaler(recipe: Recipe, device: torch.device) -> torch.amp.GradScaler | None:
    """fp16 training on CUDA scales the loss; everything else needs no scaler."""
    return torch.amp.GradScaler("cuda") if recipe.amp == "fp16" and device.type == "cuda" else None


def autocast(amp: str, device: torch.device):
    """The mixed-precision context of ``amp`` (none, bf16, fp16) on ``device``; float32 off CUDA."""
    if amp == "none" or device.type != "cuda":
        if amp != "none":
            log.warning("mixed precision %r is used on CUDA only; training in float32 on %s", amp, device)
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    if dtype is None:
        raise ValueError(f"amp must be none, bf16 or fp16, got {amp!r}")
    return torch.autocast("cuda", dtype=dtype)
