"""Training data: which tiles train, their seeded views, and each process's resumable share of an epoch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store
from radioexplore.ssl.processes import Processes
from radioexplore.ssl.recipe import Recipe

log = logging.getLogger(__name__)


class TileViews(Dataset):
    """The views of training tiles for ``epoch``: item ``i`` is the list of views of one tile.

    ``sources`` is a list of ``(tiles, ids)``: the run's tiles first, then those of any extra runs
    (``tiles`` maps a tile id to its pixels). Tiles of different sizes mix freely: every view is
    a crop resized to the view size.
    """

    def __init__(self, sources: list[tuple[Any, np.ndarray]], views, in_chans: int, seed: int) -> None:
        self.sources = [tiles for tiles, _ in sources]
        self.index = np.concatenate(
            [np.stack([np.full(len(ids), k), np.asarray(ids, np.int64)], axis=1) for k, (_, ids) in enumerate(sources)]
        ).astype(np.int64)
        self.views = views
        self.in_chans = in_chans
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> list[torch.Tensor]:
        source, tile_id = (int(v) for v in self.index[i])
        raw = np.asarray(self.sources[source][tile_id], dtype=np.float32)
        tile = torch.from_numpy(np.nan_to_num(raw, nan=0.0, posinf=1.0, neginf=0.0))
        tile = match_channels(tile, self.in_chans)
        gen = torch.Generator().manual_seed(view_seed(self.seed, self.epoch, tile_id, source))
        return self.views(tile, gen)


def view_seed(seed: int, epoch: int, tile_id: int, source: int = 0) -> int:
    """The generator seed of one tile's views in one epoch (``source``: 0 for the run, k for its k-th extra run)."""
    key = [seed, epoch, tile_id] + ([source] if source else [])
    return int(np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0] >> 1)


def match_channels(tile: torch.Tensor, in_chans: int) -> torch.Tensor:
    """A ``[C, H, W]`` tile with ``in_chans`` channels: one channel repeated, or channels averaged."""
    c = tile.shape[0]
    if c == in_chans:
        return tile
    if c == 1:
        return tile.expand(in_chans, -1, -1).contiguous()
    if in_chans == 1:
        return tile.mean(dim=0, keepdim=True)
    raise ValueError(f"tiles have {c} channels but the backbone expects {in_chans}")


class ResumableSampler(Sampler[int]):
    """DistributedSampler's order for the epoch with the first ``skip`` indices of this process dropped."""

    def __init__(self, base: DistributedSampler, skip: int = 0) -> None:
        self.base = base
        self.skip = skip

    def __iter__(self):
        return iter(list(self.base)[self.skip :])

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


def training_ids(run: RunDir, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """Tile ids that train the model and those held out for the monitor probe, both sorted.

    Tiles flagged in ``data.exclude_flags`` or with less than ``data.min_finite_fraction`` finite
    pixels train nothing. When the monitor's target column exists, a seeded
    ``monitor.holdout_fraction`` of the eligible tiles is held out (seed 000's test split).
    """
    tiles = run.read_tiles()
    eligible = eligible_ids(run, recipe)
    m = recipe.monitor
    target = tiles[m.target] if m.target in tiles else None
    if m.every_epochs <= 0 or target is None or target.isna().all() or m.holdout_fraction <= 0:
        return np.sort(eligible), np.array([], dtype=np.int64)
    rng = np.random.default_rng(recipe.seed)
    perm = rng.permutation(eligible)
    n_hold = int(round(m.holdout_fraction * len(perm)))
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


def eligible_ids(run: RunDir, recipe: Recipe) -> np.ndarray:
    """Tiles of ``run`` that may train: not flagged in ``data.exclude_flags``, mostly finite."""
    tiles = run.read_tiles()
    ok = np.ones(len(tiles), dtype=bool)
    if "flag" in tiles:
        ok &= ~tiles["flag"].astype(str).isin(recipe.data.exclude_flags).to_numpy()
    if "finite_fraction" in tiles:
        ok &= tiles["finite_fraction"].to_numpy(dtype=float) >= recipe.data.min_finite_fraction
    eligible = tiles["tile_id"].to_numpy()[ok] if "tile_id" in tiles else np.flatnonzero(ok)
    if len(eligible) == 0:
        raise ValueError(f"{run.tiles_table}: no tile is eligible for training (all blank or mostly NaN)")
    return np.sort(eligible)


def load_tiles(run: RunDir, ids: np.ndarray, max_gb: float) -> Any:
    """The tile store, or a dict id -> float16 array of ``ids`` when those fit in ``max_gb``."""
    store = open_tile_store(run.tile_pixels)
    per_tile = int(np.prod(store.shape[1:])) * 2
    if len(ids) * per_tile > max_gb * 1e9:
        log.info(
            "reading tiles from %s as needed (%.1f GB would not fit in memory)",
            run.tile_pixels,
            len(ids) * per_tile / 1e9,
        )
        return store
    chunk = store.chunks[0]
    cache: dict[int, np.ndarray] = {}
    wanted = set(int(i) for i in ids)
    for start in range(0, store.shape[0], chunk):
        block_ids = [i for i in range(start, min(start + chunk, store.shape[0])) if i in wanted]
        if block_ids:
            block = np.asarray(store[start : start + chunk])
            for i in block_ids:
                cache[i] = block[i - start].copy()
    return cache


@dataclass(frozen=True)
class TrainingTiles:
    """The tiles a run trains on: its own (and those held out for the monitor), then those of extra runs."""

    run: RunDir
    train_ids: np.ndarray
    holdout_ids: np.ndarray
    extra: list[tuple[RunDir, np.ndarray]]

    @property
    def n_train(self) -> int:
        return len(self.train_ids) + sum(len(ids) for _, ids in self.extra)

    def views(self, recipe: Recipe, views) -> TileViews:
        """The dataset of every training tile's views (tiles read into memory up to ``data.in_memory_max_gb``)."""
        max_gb = recipe.data.in_memory_max_gb
        sources = [(load_tiles(self.run, self.train_ids, max_gb), self.train_ids)]
        sources += [(load_tiles(r, ids, max_gb), ids) for r, ids in self.extra]
        return TileViews(sources, views, recipe.backbone.in_chans, recipe.seed)


def training_tiles(run: RunDir, recipe: Recipe) -> TrainingTiles:
    """The training and held-out tiles of ``run`` and the eligible tiles of the recipe's ``data.extra_runs``."""
    train_ids, holdout_ids = training_ids(run, recipe)
    extra = [(RunDir(path), eligible_ids(RunDir(path), recipe)) for path in recipe.data.extra_runs]
    return TrainingTiles(run, train_ids, holdout_ids, extra)


class EpochLoaders:
    """This process's share of each epoch of ``dataset``, in batches, from any step of the epoch on."""

    def __init__(self, dataset: TileViews, recipe: Recipe, procs: Processes) -> None:
        self.dataset = dataset
        self.recipe = recipe
        self.procs = procs
        self.sampler = DistributedSampler(
            dataset, num_replicas=procs.world, rank=procs.rank, shuffle=True, seed=recipe.seed, drop_last=True
        )

    def epoch(self, epoch: int, skip_steps: int = 0) -> DataLoader:
        """The batches of ``epoch`` after the first ``skip_steps`` (those a resumed run has done)."""
        batch_size = self.recipe.optim.batch_size
        self.dataset.epoch = epoch
        self.sampler.set_epoch(epoch)
        return DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=ResumableSampler(self.sampler, skip_steps * batch_size),
            num_workers=self.recipe.data.num_workers,
            generator=torch.Generator().manual_seed(self.recipe.seed),  # keeps the global RNG stream for the model
            drop_last=True,
            pin_memory=self.procs.device.type == "cuda",
            persistent_workers=False,
        )
