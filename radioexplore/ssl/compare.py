"""``evaluate --methods dino,simclr,byol,mae``: pre-train each method on the run, embed, and so fill the table.

The simplest honest way to put every method of the registry side by side: each trains with its
own demo recipe (:data:`METHOD_RECIPES`) on one backbone for all, the shipped demo's (ViT-tiny/16,
4 blocks, 96 px; DINO's recipe otherwise uses 12 blocks at 128 px, ~6x the cost), on the tiles of another run
(``--pretrain-on``: images the table never probes) or, by default, of the evaluated run itself
(transductive: its images, never its labels), for the same number of epochs and for each
pre-training seed, and the evaluated run is embedded into
``embeddings/<method>_s<seed>.npy`` (MAE with the mean of its patch tokens, seed 003; the others
with the CLS token). Labels are never used in pre-training. An embedding set already there with
that name is reused, so a second call only re-probes. Short runs rank methods at demo size only;
the paper-size recipes are in ``pipelines/recipes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: The demo recipe each method trains with (pipelines/recipes); all use the demo_cpu backbone.
METHOD_RECIPES = {"dino": "demo_cpu_dino", "simclr": "demo_cpu", "byol": "demo_cpu_byol", "mae": "demo_cpu_mae"}
#: ViT read-out of each method's embedding: seed 003 embeds an MAE by its mean patch token.
METHOD_POOL = {"mae": "mean"}


@dataclass(frozen=True)
class MethodsConfig:
    """Which methods to pre-train, for how long, with which seeds."""

    methods: tuple[str, ...] = tuple(METHOD_RECIPES)
    epochs: int = 2
    seeds: tuple[int, ...] = (0,)
    batch_size: int | None = None  # None: the recipe's (lowered to the run's tile count when it has fewer)
    device: str = "auto"
    threads: int | None = None


def embedding_name(method: str, seed: int) -> str:
    return f"{method}_s{seed}"


def pretrain_methods(
    run: RunDir, config: MethodsConfig, progress: bool = False, pretrain_run: RunDir | None = None
) -> list[str]:
    """Pre-train each (method, seed) not yet embedded in ``run`` on the tiles of ``pretrain_run``
    (default: ``run`` itself, labels unused) and embed ``run`` with it; returns the embedding names.

    Give a ``pretrain_run`` whose images are not the evaluated ones for a figure on unseen images
    (issue 21); the models are kept in ``pretrain_run/models/<method>_s<seed>/``."""
    train_run = pretrain_run or run
    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.ssl.data import eligible_ids
    from radioexplore.ssl.recipe import recipe_with_overrides
    from radioexplore.ssl.train import pretrain

    unknown = [m for m in config.methods if m not in METHOD_RECIPES]
    if unknown:
        raise ValueError(f"--methods: unknown {unknown}; choose from {', '.join(METHOD_RECIPES)}")
    if config.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {config.epochs}")
    backbone = recipe_with_overrides(METHOD_RECIPES["simclr"], []).to_dict()["backbone"]
    names = []
    for method in config.methods:
        for seed in config.seeds:
            name = embedding_name(method, seed)
            names.append(name)
            if run.embeddings(name).is_file():
                log.info("%s: reusing embeddings/%s.npy", method, name)
                continue
            recipe = recipe_with_overrides(METHOD_RECIPES[method], [], device=config.device, threads=config.threads)
            n_tiles = len(eligible_ids(train_run, recipe))
            batch = min(config.batch_size or recipe.optim.batch_size, max(n_tiles, 2))
            warmup = min(recipe.optim.warmup_epochs, config.epochs - 1)
            overrides = [
                f"seed={seed}",
                f"optim.epochs={config.epochs}",
                f"optim.warmup_epochs={warmup}",
                f"optim.batch_size={batch}",
                "monitor.every_epochs=0",
            ]
            recipe = _same_backbone(_with_top_level(recipe, overrides), backbone)
            result = pretrain(train_run, recipe, name=name, resume=False, progress=progress)
            if result.backbone is None:
                raise RuntimeError(f"pre-training {method} (seed {seed}) in {train_run.root} did not finish")
            embed_run(
                run,
                EmbedConfig(
                    name=name,
                    checkpoint=str(result.backbone),
                    device=config.device,
                    pool=METHOD_POOL.get(method, "cls"),
                ),
                progress=progress,
            )
    return names


def _same_backbone(recipe, backbone: dict):
    """``recipe`` with the shared ``backbone`` (and DINO's global crops at its input size): one architecture
    for every method, so the table compares methods, not networks."""
    from radioexplore.ssl.recipe import recipe_from_dict

    data = recipe.to_dict()
    data["backbone"] = dict(backbone)
    if "multicrop" in data:
        data["multicrop"]["global_px"] = backbone["input_px"]
    return recipe_from_dict(data, source=f"recipe {recipe.name} for evaluate --methods")


def _with_top_level(recipe, overrides: list[str]):
    """``recipe`` with ``KEY=VALUE`` / ``SECTION.KEY=VALUE`` overrides (top-level keys included)."""
    import tomllib

    from radioexplore.ssl.recipe import recipe_from_dict

    data = recipe.to_dict()
    for item in overrides:
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        target = data
        for part in parents:
            target = target[part]
        target[leaf] = tomllib.loads(f"v = {value}")["v"]
    return recipe_from_dict(data, source=f"recipe {recipe.name} for evaluate --methods")
