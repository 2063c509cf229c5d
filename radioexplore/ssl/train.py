"""The pre-training loop: one process or many under ``torchrun`` (DistributedDataParallel), resumable.

Reads the tiles of a run (``tiles.zarr``), trains the recipe's method and writes into
``models/<name>/`` of the run:

- ``checkpoint.pt``: everything needed to continue (networks, optimiser, global step, RNG state),
  written atomically at the end of every epoch (and every ``save_every_steps`` steps). A run
  killed at any point restarts from it with the same step counter, so every schedule continues
  where it stopped. The networks are stored as DINO does (``student``/``teacher`` state dicts with
  ``backbone.`` and ``head.`` prefixes), so :func:`radioexplore.models.checkpoint.load_backbone` reads it.
- ``log.jsonl``: one line per epoch (loss, LR, weight decay, momentum, teacher temperature and,
  every ``monitor.every_epochs``, the source-count probe MSE of seed 000's training monitor).
- ``recipe.toml``: the recipe as run.
- ``backbone.pt``: the final teacher (DINO), encoder (SimCLR, MAE) or online encoder (BYOL) in our checkpoint format, with
  the :class:`~radioexplore.models.BackboneSpec` (input size and normalisation) that embedding uses.

Each tile's views are drawn from a generator seeded by (seed, epoch, tile), so the data a step
sees does not depend on how many processes there are or whether the run was interrupted.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from radioexplore.evaluation.probes import drop_outliers, linear_probe
from radioexplore.models import BackboneSpec
from radioexplore.models.checkpoint import save_backbone
from radioexplore.registry import lookup
from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store
from radioexplore.ssl import build_method, ema_momentum
from radioexplore.ssl.dino import clip_gradients_
from radioexplore.ssl.recipe import Recipe, save_recipe
from radioexplore.ssl.schedules import (
    learning_rate_schedule,
    momentum_schedule,
    teacher_temperature,
    weight_decay_schedule,
)

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "radioexplore-train/1"


# -- processes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Processes:
    """Where this process stands: its rank among ``world`` processes and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_processes(device: str = "auto") -> Processes:
    """Join the process group ``torchrun`` describes in the environment (RANK, WORLD_SIZE, ...), if any.

    The backend is NCCL when each process drives a GPU and gloo on CPU. Without those variables,
    or with WORLD_SIZE=1, this is a plain single process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda") or device.startswith("cuda:")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA device; use --device cpu")
    if use_cuda:
        dev = torch.device(device if device.startswith("cuda:") else f"cuda:{local_rank % torch.cuda.device_count()}")
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=60))
        log.info("process %d of %d joined the %s process group on %s", rank, world, backend, dev)
    return Processes(rank, world, local_rank, dev)


def _all_mean(value: float, procs: Processes) -> float:
    if not procs.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=procs.device if procs.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / procs.world


def _sync_buffers(module: nn.Module, procs: Processes) -> None:
    """Average floating-point buffers (BatchNorm statistics) over processes so every rank holds the same."""
    if not procs.distributed:
        return
    for b in module.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b.div_(procs.world)


# -- data ---------------------------------------------------------------------------------------


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


# -- optimiser ----------------------------------------------------------------------------------


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
    return lookup(OPTIMIZERS, name, "optimizer")(param_groups(model))


# -- checkpoints ----------------------------------------------------------------------------------


def checkpoint_path(run: RunDir, name: str) -> Path:
    """``run.model_checkpoint(name)``: the run directory owns the paths into a run."""
    return run.model_checkpoint(name)


def backbone_path(run: RunDir, name: str) -> Path:
    """``run.model_backbone(name)``."""
    return run.model_backbone(name)


def log_path(run: RunDir, name: str) -> Path:
    """``run.model_log(name)``."""
    return run.model_log(name)


def read_log(run: RunDir, name: str) -> list[dict[str, Any]]:
    """The per-epoch log lines of a training run (empty when it has not finished an epoch)."""
    path = run.model_log(name)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


# -- the loop -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """Where a training run ended; ``method`` holds the networks of this process."""

    step: int
    epoch: int
    finished: bool
    backbone: Path | None
    log: list[dict[str, Any]]
    method: nn.Module | None = field(default=None, repr=False, compare=False)
    rank_checksums: list[float] = field(default_factory=list)


def pretrain(
    run: RunDir,
    recipe: Recipe,
    name: str | None = None,
    max_steps: int | None = None,
    resume: bool = True,
    progress: bool = True,
    export: str | Path | None = None,
) -> TrainResult:
    """Train ``recipe`` on the tiles of ``run``; returns where it ended.

    ``max_steps`` stops (with a checkpoint) once the global step reaches it, as a kill would, and
    calling again continues; ``resume=False`` discards an existing checkpoint and starts afresh.
    ``export`` copies the final backbone checkpoint to that path (for example ``assets/``).
    """
    procs = setup_processes(recipe.device)
    if recipe.threads > 0:
        torch.set_num_threads(recipe.threads)
    name = name or recipe.name
    mdir = run.model_dir(name)
    ckpt_file = run.model_checkpoint(name)
    if procs.main:
        mdir.mkdir(parents=True, exist_ok=True)
        if not resume:
            for path in (ckpt_file, run.model_log(name), run.model_backbone(name)):
                path.unlink(missing_ok=True)
        save_recipe(recipe, run.model_recipe(name))
    if procs.distributed:
        dist.barrier()

    train_ids, holdout_ids = training_ids(run, recipe)
    extra = [(RunDir(path), eligible_ids(RunDir(path), recipe)) for path in recipe.data.extra_runs]
    n_train = len(train_ids) + sum(len(ids) for _, ids in extra)
    o = recipe.optim
    global_batch = o.batch_size * procs.world
    steps_per_epoch = (n_train // procs.world) // o.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"{n_train} training tiles over {procs.world} process(es) do not fill one batch of "
            f"{o.batch_size}; lower optim.batch_size (--set optim.batch_size=...)"
        )
    total_steps = o.epochs * steps_per_epoch
    lr_at = learning_rate_schedule(
        o.lr, o.min_lr, global_batch if o.scale_lr_with_batch else 256, o.epochs, steps_per_epoch, o.warmup_epochs
    )
    wd_at = weight_decay_schedule(o.weight_decay, o.weight_decay_end, o.epochs, steps_per_epoch)
    base_momentum = ema_momentum(recipe)
    momentum_at = momentum_schedule(base_momentum if base_momentum is not None else 1.0, o.epochs, steps_per_epoch)

    torch.manual_seed(recipe.seed)  # identical initial weights in every process
    method = build_method(recipe).to(procs.device)
    if procs.distributed and procs.device.type == "cuda" and _has_batchnorm(method):
        nn.SyncBatchNorm.convert_sync_batchnorm(method)  # replaces the BatchNorm layers in place (GPU only)
    trainable = method.trainable()
    optimizer = build_optimizer(o.optimizer, trainable)
    scaler = torch.amp.GradScaler("cuda") if recipe.amp == "fp16" and procs.device.type == "cuda" else None

    step, loss_sum, loss_n = 0, 0.0, 0
    if resume and ckpt_file.is_file():
        state = torch.load(ckpt_file, map_location=procs.device, weights_only=False)
        _check_resumable(state, ckpt_file, recipe, steps_per_epoch, procs)
        method.load_training_state(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step, loss_sum, loss_n = int(state["step"]), float(state["epoch_loss_sum"]), int(state["epoch_loss_n"])
        torch.set_rng_state(state["rng"][procs.rank % len(state["rng"])])
        if procs.main:
            log.info("resuming %s at step %d of %d (epoch %d)", name, step, total_steps, step // steps_per_epoch)
    else:
        torch.manual_seed(recipe.seed + 1000 * procs.rank)  # different stochastic depth per process

    model: nn.Module = trainable
    if procs.distributed:
        model = DistributedDataParallel(
            trainable, device_ids=[procs.device.index] if procs.device.type == "cuda" else None
        )

    sources = [(load_tiles(run, train_ids, recipe.data.in_memory_max_gb), train_ids)]
    sources += [(load_tiles(r, ids, recipe.data.in_memory_max_gb), ids) for r, ids in extra]
    dataset = TileViews(sources, method.views, recipe.backbone.in_chans, recipe.seed)
    base_sampler = DistributedSampler(
        dataset, num_replicas=procs.world, rank=procs.rank, shuffle=True, seed=recipe.seed, drop_last=True
    )
    spec = recipe.backbone
    autocast = _autocast(recipe.amp, procs.device)
    history = read_log(run, name) if procs.main else []
    monitor = _Monitor(run, recipe, train_ids, holdout_ids) if procs.main else None
    if procs.main:
        n_hold = len(holdout_ids)
        log.info(
            "training %s (%s, %s) on %d tiles (%d held out for the monitor, %d from %d extra run(s)), "
            "%d process(es) x batch %d, %d steps per epoch, %d epochs on %s",
            name, recipe.method, spec.arch, n_train, n_hold, n_train - len(train_ids), len(extra), procs.world,
            o.batch_size, steps_per_epoch, o.epochs, procs.device,
        )  # fmt: skip

    if step == 0 and monitor is not None and monitor.enabled and recipe.monitor.at_start and not history:
        entry = {"epoch": 0, "step": 0, **monitor(method.export_backbone(), procs.device)}
        _append_log(run, name, entry, history)
    if procs.distributed:
        dist.barrier()

    method.train()
    t_epoch = time.perf_counter()
    stopped = max_steps is not None and step >= max_steps
    while step < total_steps and not stopped:
        epoch = step // steps_per_epoch
        skip = step - epoch * steps_per_epoch
        dataset.epoch = epoch
        base_sampler.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_size=o.batch_size,
            sampler=ResumableSampler(base_sampler, skip * o.batch_size),
            num_workers=recipe.data.num_workers,
            generator=torch.Generator().manual_seed(recipe.seed),  # keeps the global RNG stream for the model
            drop_last=True,
            pin_memory=procs.device.type == "cuda",
            persistent_workers=False,
        )
        bar = tqdm(
            total=steps_per_epoch,
            initial=skip,
            desc=f"{recipe.method} epoch {epoch + 1}/{o.epochs}",
            unit="step",
            disable=not (progress and procs.main),
        )
        for views in loader:
            for i, group in enumerate(optimizer.param_groups):
                group["lr"] = lr_at(step)
                if i == 0:
                    group["weight_decay"] = wd_at(step)
            views = [((v.to(procs.device, non_blocking=True) - spec.mean) / spec.std) for v in views]
            with autocast:
                loss = method.loss(model, views, epoch)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"{name}: loss is {loss.item()} at step {step} (epoch {epoch}); lower optim.lr or "
                    f"optim.clip_grad, or raise dino.warmup_teacher_temp_epochs; checkpoint {ckpt_file} is intact"
                )
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if o.clip_grad > 0:
                clip_gradients_(trainable, o.clip_grad)
            method.before_step(epoch)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            method.after_step(momentum_at(step))
            step += 1
            loss_sum += float(loss.item())
            loss_n += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / loss_n:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
            end_of_epoch = step % steps_per_epoch == 0
            stop_now = max_steps is not None and step >= max_steps
            if not end_of_epoch and (stop_now or (recipe.save_every_steps and step % recipe.save_every_steps == 0)):
                _checkpoint(
                    ckpt_file, method, optimizer, scaler, recipe, step, steps_per_epoch, loss_sum, loss_n, procs
                )
            if stop_now and not end_of_epoch:
                stopped = True
                break
            if end_of_epoch:
                break
        bar.close()
        if step % steps_per_epoch == 0 and step > 0 and not stopped:
            _sync_buffers(method, procs)
            done_epoch = step // steps_per_epoch
            entry = {
                "epoch": done_epoch,
                "step": step,
                "loss": _all_mean(loss_sum / max(loss_n, 1), procs),
                "lr": float(lr_at(step - 1)),
                "weight_decay": float(wd_at(step - 1)),
                "momentum": float(momentum_at(step - 1)) if base_momentum is not None else None,
                "teacher_temp": _teacher_temp(recipe, done_epoch - 1),
                "seconds": round(time.perf_counter() - t_epoch, 2),
            }
            loss_sum, loss_n = 0.0, 0
            if monitor is not None and monitor.due(done_epoch):
                entry.update(monitor(method.export_backbone(), procs.device))
            _checkpoint(ckpt_file, method, optimizer, scaler, recipe, step, steps_per_epoch, 0.0, 0, procs)
            if procs.main:
                _append_log(run, name, entry, history)
            t_epoch = time.perf_counter()
            if max_steps is not None and step >= max_steps:
                stopped = True
        if procs.distributed:
            dist.barrier()

    finished = step >= total_steps
    checksums = _rank_checksums(method, procs)
    if procs.distributed and max(checksums) - min(checksums) > 1e-6 * max(1.0, abs(checksums[0])):
        raise RuntimeError(f"{name}: the {procs.world} processes ended with different weights (checksums {checksums})")
    out = None
    if finished and procs.main:
        out = _export(run, name, recipe, method, step, n_train, history, checksums)
        if export:
            Path(export).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, export)
            log.info("copied the backbone to %s", export)
    if procs.distributed:
        dist.barrier()
    return TrainResult(
        step=step,
        epoch=step // steps_per_epoch,
        finished=finished,
        backbone=out,
        log=history,
        method=method,
        rank_checksums=checksums,
    )


def _rank_checksums(method: nn.Module, procs: Processes) -> list[float]:
    """A checksum of every parameter and buffer of this process, gathered from all processes."""
    total = torch.zeros((), dtype=torch.float64)
    for t in list(method.parameters()) + list(method.buffers()):
        if t.is_floating_point():
            total += (
                (t.detach().double() * (1.0 + 1e-3 * torch.arange(t.numel(), device=t.device).reshape(t.shape)))
                .sum()
                .cpu()
            )
    if not procs.distributed:
        return [float(total)]
    gathered: list[Any] = [None] * procs.world
    dist.all_gather_object(gathered, float(total))
    return [float(v) for v in gathered]


def _checkpoint(path, method, optimizer, scaler, recipe, step, steps_per_epoch, loss_sum, loss_n, procs) -> None:
    rng = [torch.get_rng_state()]
    if procs.distributed:
        gathered = [None] * procs.world
        dist.all_gather_object(gathered, torch.get_rng_state())
        rng = gathered
    if not procs.main:
        return
    payload = {
        "format": CHECKPOINT_FORMAT,
        "recipe": recipe.to_dict(),
        "step": step,
        "epoch": step // steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "world_size": procs.world,
        "epoch_loss_sum": loss_sum,
        "epoch_loss_n": loss_n,
        "method": method.training_state(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng,
    }
    # DINO's layout at the top level too, so load_backbone(checkpoint.pt) gives the teacher (or encoder).
    payload.update({k: v for k, v in payload["method"].items() if k in ("student", "teacher")})
    _save_checkpoint(path, payload)


def _append_log(run: RunDir, name: str, entry: dict[str, Any], history: list[dict[str, Any]]) -> None:
    entry = {k: v for k, v in entry.items() if v is not None}
    with open(run.model_log(name), "a") as fh:
        fh.write(json.dumps(entry) + "\n")
    history.append(entry)
    log.info("%s %s", name, " ".join(f"{k}={_fmt(v)}" for k, v in entry.items()))


def _check_resumable(state: dict, path: Path, recipe: Recipe, steps_per_epoch: int, procs: Processes) -> None:
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a radioexplore training checkpoint; move it away or pass --restart")
    if state["steps_per_epoch"] != steps_per_epoch:
        raise ValueError(
            f"{path} was written with {state['steps_per_epoch']} steps per epoch ({state['world_size']} process(es)); "
            f"this run has {steps_per_epoch} ({procs.world}): resume with the same number of processes, batch size "
            f"and tiles so the schedules continue, or pass --restart to start afresh"
        )
    if state["recipe"].get("method") != recipe.method or state["recipe"].get("backbone") != asdict(recipe.backbone):
        raise ValueError(f"{path} was trained with another method or backbone; pass --restart or another --name")


def _export(
    run: RunDir, name: str, recipe: Recipe, method, step: int, n_tiles: int, history: list, checksums: list[float]
) -> Path:
    path = run.model_backbone(name)
    spec: BackboneSpec = recipe.backbone
    provenance = {
        "trained_by": "radioexplore pretrain",
        "method": recipe.method,
        "recipe": recipe.name,
        "run": str(run.root),
        "name": name,
        "steps": step,
        "epochs": recipe.optim.epochs,
        "training_tiles": n_tiles,
        "final_loss": history[-1]["loss"] if history else None,
        "training_simulation": run.stage_config("truth").get("simulation"),
        "training_survey_seed": run.stage_config("demo").get("seed"),
        "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    provenance = {k: v for k, v in provenance.items() if v is not None}
    backbone = copy.deepcopy(method.export_backbone()).cpu().eval()
    save_backbone(path, backbone, spec, recipe=recipe.to_dict(), provenance=provenance)
    record = dict(
        recipe.to_dict(),
        backbone=str(path),
        steps=step,
        processes=len(checksums),
        rank_checksums=checksums,
        log=history[-1] if history else {},
    )
    run.record("pretrain", record, key=name)
    log.info("wrote %s (%s teacher backbone, %d steps)", path, spec.arch, step)
    return path


def _teacher_temp(recipe: Recipe, epoch: int) -> float | None:
    if recipe.method != "dino":
        return None
    d = recipe.dino
    return teacher_temperature(epoch, d.warmup_teacher_temp, d.teacher_temp, d.warmup_teacher_temp_epochs)


def _has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _autocast(amp: str, device: torch.device):
    if amp == "none" or device.type != "cuda":
        if amp != "none":
            log.warning("mixed precision %r is used on CUDA only; training in float32 on %s", amp, device)
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    if dtype is None:
        raise ValueError(f"amp must be none, bf16 or fp16, got {amp!r}")
    return torch.autocast("cuda", dtype=dtype)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# -- seed 000's training monitor -----------------------------------------------------------------


class _Monitor:
    """Linear probe of the source count from the current teacher's embeddings (seed 000, sec. 3.3).

    The probe trains on a sample of the training tiles and is tested on the held-out tiles; its
    MSE is logged beside the loss.
    """

    def __init__(self, run: RunDir, recipe: Recipe, train_ids: np.ndarray, holdout_ids: np.ndarray) -> None:
        self.recipe = recipe
        self.enabled = len(holdout_ids) > 0
        if not self.enabled:
            if recipe.monitor.every_epochs > 0:
                log.info("monitor off: %s has no %r column to probe", run.tiles_table, recipe.monitor.target)
            return
        m = recipe.monitor
        tiles = run.read_tiles(columns=["tile_id", m.target]).set_index("tile_id")[m.target]
        rng = np.random.default_rng(recipe.seed + 1)
        sample = np.sort(rng.permutation(train_ids)[: m.max_train_tiles])
        ids = np.concatenate([sample, holdout_ids])
        y = tiles.loc[ids].to_numpy(dtype=float)
        keep = np.isfinite(y)
        keep[keep] &= drop_outliers(y[keep], m.outlier_sigma)
        self.ids = ids[keep]
        self.y = y[keep]
        self.train_mask = np.concatenate([np.ones(len(sample), bool), np.zeros(len(holdout_ids), bool)])[keep]
        self.store = open_tile_store(run.tile_pixels)

    def due(self, epoch: int) -> bool:
        every = self.recipe.monitor.every_epochs
        return self.enabled and every > 0 and (epoch % every == 0 or epoch == self.recipe.optim.epochs)

    def __call__(self, backbone: nn.Module, device: torch.device) -> dict[str, float]:
        from radioexplore.embed.embedding import embed_tiles
        from radioexplore.run.tilestore import read_tiles

        t0 = time.perf_counter()
        model = copy.deepcopy(backbone)
        tiles = read_tiles(self.store, self.ids)
        emb = embed_tiles(model, self.recipe.backbone, tiles, batch_size=64, device=str(device), progress=False)
        if not (self.train_mask.any() and (~self.train_mask).any()):
            return {}
        result = linear_probe(emb, self.y, "regression", self.recipe.monitor.pca_dims, train_mask=self.train_mask)
        return {
            "probe_mse": result.metrics["mse"],
            "probe_r2": result.metrics["r2"],
            "probe_seconds": round(time.perf_counter() - t0, 2),
        }
