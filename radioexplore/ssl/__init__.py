"""Self-supervised pre-training: DINO (seed 000) and SimCLR (seed 002) in plain torch.

- :mod:`~radioexplore.ssl.augment`: multi-crop views (DINO) and view pairs (SimCLR) of a tile.
- :mod:`~radioexplore.ssl.dino`: DINO head, loss, centring, EMA teacher.
- :mod:`~radioexplore.ssl.simclr`: projection head and NT-Xent.
- :mod:`~radioexplore.ssl.schedules`: cosine LR / weight-decay / momentum schedules, teacher temperature.
- :mod:`~radioexplore.ssl.recipe`: recipes (TOML files in ``pipelines/recipes``) as frozen dataclasses.
- :mod:`~radioexplore.ssl.train`: the (distributed, resumable) training loop.

Methods are chosen by name from :data:`METHODS`, the one registry a recipe's ``method`` refers to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import nn

from radioexplore.ssl.dino import Dino
from radioexplore.ssl.simclr import SimCLR

if TYPE_CHECKING:
    from radioexplore.ssl.recipe import Recipe

#: Self-supervised methods by name; each builds the method module from a recipe.
METHODS: dict[str, Callable[[Recipe], nn.Module]] = {
    "dino": lambda r: Dino(r.backbone, r.dino, r.multicrop),
    "simclr": lambda r: SimCLR(r.backbone, r.simclr, r.simclr_augment),
}


def build_method(recipe: Recipe) -> nn.Module:
    """The method named by ``recipe.method``, with freshly initialised networks."""
    try:
        factory = METHODS[recipe.method]
    except KeyError:
        raise ValueError(
            f"unknown method {recipe.method!r} in recipe {recipe.name!r}; choose one of {sorted(METHODS)}"
        ) from None
    return factory(recipe)
