"""Self-supervised pre-training: DINO (seed 000), SimCLR (seed 002), BYOL (seed 001) and MAE (seed 003) in plain torch.

- :mod:`~radioexplore.ssl.augment`: multi-crop views (DINO) and view pairs (SimCLR) of a tile.
- :mod:`~radioexplore.ssl.dino`: DINO head, loss, centring, EMA teacher.
- :mod:`~radioexplore.ssl.simclr`: projection head and NT-Xent.
- :mod:`~radioexplore.ssl.byol`: online network with predictor, EMA target, normalised MSE.
- :mod:`~radioexplore.ssl.mae`: ViT masked autoencoder, MSE on normalised pixels of masked patches.
- :mod:`~radioexplore.ssl.schedules`: cosine LR / weight-decay / momentum schedules, teacher temperature.
- :mod:`~radioexplore.ssl.recipe`: recipes (TOML files in ``pipelines/recipes``) as frozen dataclasses.
- :mod:`~radioexplore.ssl.processes`: one process or many under torchrun (DDP), and the values they share.
- :mod:`~radioexplore.ssl.data`: which tiles train, their seeded views, each process's share of an epoch.
- :mod:`~radioexplore.ssl.optim`: parameter groups, optimisers by name, per-step schedules, mixed precision.
- :mod:`~radioexplore.ssl.checkpoint`: the resumable ``checkpoint.pt`` and the exported ``backbone.pt``.
- :mod:`~radioexplore.ssl.monitor`: the per-epoch ``log.jsonl`` and seed 000's source-count probe.
- :mod:`~radioexplore.ssl.train`: the (distributed, resumable) training loop, ``pretrain``.
- :mod:`~radioexplore.ssl.compare`: ``evaluate --methods``: pre-train each method briefly and embed the run for the table.

Methods are chosen by name from :data:`METHODS`, the one registry a recipe's ``method`` refers to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from radioexplore.registry import lookup
from radioexplore.ssl.byol import BYOL
from radioexplore.ssl.dino import Dino
from radioexplore.ssl.mae import MAE
from radioexplore.ssl.simclr import SimCLR

if TYPE_CHECKING:
    from radioexplore.ssl.recipe import Recipe


@dataclass(frozen=True)
class Method:
    """One self-supervised method: how to build it from a recipe, and the EMA momentum it starts from.

    ``ema_momentum`` is None for methods without a momentum network (SimCLR, MAE); for DINO and
    BYOL the training loop raises it to 1 with a cosine and hands it to ``after_step``.
    """

    build: Callable[[Recipe], nn.Module]
    ema_momentum: Callable[[Recipe], float] | None = None


#: Self-supervised methods by name: the one registry a recipe's ``method`` refers to.
METHODS: dict[str, Method] = {
    "dino": Method(lambda r: Dino(r.backbone, r.dino, r.multicrop), lambda r: r.dino.momentum_teacher),
    "simclr": Method(lambda r: SimCLR(r.backbone, r.simclr, r.simclr_augment)),
    "byol": Method(lambda r: BYOL(r.backbone, r.byol, r.byol_augment), lambda r: r.byol.tau),
    "mae": Method(lambda r: MAE(r.backbone, r.mae)),
}


def method_of(recipe: Recipe) -> Method:
    """The registry entry named by ``recipe.method``; the error names the recipe and the choices."""
    return lookup(METHODS, recipe.method, "method", where=f"recipe {recipe.name!r}")


def build_method(recipe: Recipe) -> nn.Module:
    """The method named by ``recipe.method``, with freshly initialised networks."""
    return method_of(recipe).build(recipe)


def ema_momentum(recipe: Recipe) -> float | None:
    """The starting EMA momentum of the recipe's method (DINO's teacher, BYOL's target), None without one."""
    get = method_of(recipe).ema_momentum
    return None if get is None else get(recipe)
