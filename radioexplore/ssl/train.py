"""The pre-training loop: a recipe's method on a run's tiles, in one process or many, resumable at any step."""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from radioexplore.run.rundir import RunDir
from radioexplore.ssl import build_method
from radioexplore.ssl.checkpoint import Learner, Progress, export_backbone, load_checkpoint, save_checkpoint
from radioexplore.ssl.data import EpochLoaders, TrainingTiles, training_tiles
from radioexplore.ssl.dino import clip_gradients_
from radioexplore.ssl.monitor import Monitor, append_log, epoch_entry, read_log
from radioexplore.ssl.optim import StepPlan, autocast, build_optimizer, grad_scaler, plan_steps
from radioexplore.ssl.processes import (
    Processes,
    all_mean,
    barrier,
    check_same_weights,
    has_batchnorm,
    setup_processes,
    sync_buffers,
)
from radioexplore.ssl.recipe import Recipe, save_recipe

log = logging.getLogger(__name__)

#: A final epoch whose loss is above this fraction of ``loss_trivial`` (the loss of a predictor that learned
#: nothing, where a method reports one) is warned about: the registry's MAE recipe sat at 0.988 of it on
#: sigma-clipped stamps (issue 21), raw-pixel targets at a fraction of it.
TRIVIAL_LEVEL = 0.97


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
    """Train ``recipe`` on the tiles of ``run`` into ``models/<name>/``; returns where it ended.

    Writes ``checkpoint.pt`` (everything needed to continue) at the end of every epoch and every
    ``save_every_steps`` steps, ``log.jsonl`` (one line per epoch), ``recipe.toml`` (the recipe as run)
    and, when finished, ``backbone.pt``. Each tile's views are drawn from a generator seeded by
    (seed, epoch, tile), so the data a step sees depends neither on the number of processes nor on
    interruptions. ``max_steps`` stops (with a checkpoint) once the global step reaches it, as a kill
    would, and calling again continues; ``resume=False`` discards an existing checkpoint and starts
    afresh. ``export`` copies the final backbone checkpoint to that path (for example ``assets/``).
    """
    procs = setup_processes(recipe.device)
    if recipe.threads > 0:
        torch.set_num_threads(recipe.threads)
    name = name or recipe.name
    _open_model_dir(run, name, recipe, resume, procs)
    tiles = training_tiles(run, recipe)
    plan = plan_steps(recipe, tiles.n_train, procs)
    learner = _build_learner(recipe, procs)
    start = _starting_point(run, name, learner, recipe, plan, resume, procs)
    trainer = _Trainer(run, name, recipe, procs, plan, learner, start, max_steps)
    loaders = EpochLoaders(tiles.views(recipe, learner.method.views), recipe, procs)
    trainer.open_log(tiles)
    trainer.train(loaders, progress)
    return trainer.finish(tiles.n_train, export)


def _open_model_dir(run: RunDir, name: str, recipe: Recipe, resume: bool, procs: Processes) -> None:
    """Make ``models/<name>/``, drop the last run's files unless resuming, and write the recipe as run."""
    if procs.main:
        run.model_dir(name).mkdir(parents=True, exist_ok=True)
        if not resume:
            for path in (run.model_checkpoint(name), run.model_log(name), run.model_backbone(name)):
                path.unlink(missing_ok=True)
        save_recipe(recipe, run.model_recipe(name))
    barrier(procs)


def _build_learner(recipe: Recipe, procs: Processes) -> Learner:
    """The method with identical initial weights in every process, its optimiser and (fp16 on CUDA) loss scaler."""
    torch.manual_seed(recipe.seed)
    method = build_method(recipe).to(procs.device)
    if procs.distributed and procs.device.type == "cuda" and has_batchnorm(method):
        nn.SyncBatchNorm.convert_sync_batchnorm(method)  # replaces the BatchNorm layers in place (GPU only)
    optimizer = build_optimizer(recipe.optim.optimizer, method.trainable())
    return Learner(method, optimizer, grad_scaler(recipe, procs.device))


def _starting_point(
    run: RunDir, name: str, learner: Learner, recipe: Recipe, plan: StepPlan, resume: bool, procs: Processes
) -> Progress:
    """Where the run continues: the checkpoint's step when resuming one, else step 0 with a per-process seed."""
    ckpt_file = run.model_checkpoint(name)
    if resume and ckpt_file.is_file():
        start = load_checkpoint(ckpt_file, learner, recipe, plan.steps_per_epoch, procs)
        if procs.main:
            epoch = start.step // plan.steps_per_epoch
            log.info("resuming %s at step %d of %d (epoch %d)", name, start.step, plan.total_steps, epoch)
        return start
    torch.manual_seed(recipe.seed + 1000 * procs.rank)  # different stochastic depth per process
    return Progress()


class _Trainer:
    """One process's part of a run: its steps, the end of each epoch (log, probe, checkpoint) and the export."""

    def __init__(
        self,
        run: RunDir,
        name: str,
        recipe: Recipe,
        procs: Processes,
        plan: StepPlan,
        learner: Learner,
        progress: Progress,
        max_steps: int | None,
    ) -> None:
        self.run, self.name, self.recipe, self.procs, self.plan = run, name, recipe, procs, plan
        self.learner, self.progress, self.max_steps = learner, progress, max_steps
        self.ckpt_file = run.model_checkpoint(name)
        self.trainable = learner.method.trainable()
        self.model: nn.Module = self.trainable
        if procs.distributed:
            self.model = DistributedDataParallel(
                self.trainable, device_ids=[procs.device.index] if procs.device.type == "cuda" else None
            )
        self.autocast = autocast(recipe.amp, procs.device)
        self.history: list[dict[str, Any]] = []
        self.monitor: Monitor | None = None
        self.stopped = self._reached_max(progress.step)

    def _reached_max(self, step: int) -> bool:
        return self.max_steps is not None and step >= self.max_steps

    def open_log(self, tiles: TrainingTiles) -> None:
        """Read the log so far, set up the probe and, at step 0, log the untrained network's probe as epoch 0."""
        recipe, procs, o = self.recipe, self.procs, self.recipe.optim
        if procs.main:
            self.history = read_log(self.run, self.name)
            self.monitor = Monitor(self.run, recipe, tiles.train_ids, tiles.holdout_ids)
            log.info(
                "training %s (%s, %s) on %d tiles (%d held out for the monitor, %d from %d extra run(s)), "
                "%d process(es) x batch %d, %d steps per epoch, %d epochs on %s",
                self.name, recipe.method, recipe.backbone.arch, tiles.n_train, len(tiles.holdout_ids),
                tiles.n_train - len(tiles.train_ids), len(tiles.extra), procs.world, o.batch_size,
                self.plan.steps_per_epoch, o.epochs, procs.device,
            )  # fmt: skip
        m = self.monitor
        if self.progress.step == 0 and m is not None and m.enabled and recipe.monitor.at_start and not self.history:
            entry = {"epoch": 0, "step": 0, **m(self.learner.method.export_backbone(), procs.device)}
            append_log(self.run, self.name, entry, self.history)
        barrier(procs)

    def train(self, loaders: EpochLoaders, show_progress: bool) -> None:
        """Epochs until the last step or ``max_steps``; every process ends each epoch together."""
        self.learner.method.train()
        t_epoch = time.perf_counter()
        spe = self.plan.steps_per_epoch
        while self.progress.step < self.plan.total_steps and not self.stopped:
            epoch = self.progress.step // spe
            skip = self.progress.step - epoch * spe
            bar = tqdm(
                total=spe,
                initial=skip,
                desc=f"{self.recipe.method} epoch {epoch + 1}/{self.recipe.optim.epochs}",
                unit="step",
                disable=not (show_progress and self.procs.main),
            )
            self._epoch(loaders.epoch(epoch, skip), epoch, bar)
            bar.close()
            step = self.progress.step
            if step % spe == 0 and step > 0 and not self.stopped:
                self._end_epoch(time.perf_counter() - t_epoch)
                t_epoch = time.perf_counter()
                self.stopped = self._reached_max(step)
            barrier(self.procs)

    def _epoch(self, loader: DataLoader, epoch: int, bar: tqdm) -> None:
        """The steps of ``epoch`` from where the run stands, with a checkpoint every ``save_every_steps``."""
        p, every = self.progress, self.recipe.save_every_steps
        for views in loader:
            loss = self._step(views, epoch)
            p.step += 1
            p.loss_sum += loss
            p.loss_n += 1
            bar.update(1)
            bar.set_postfix(loss=f"{p.loss_sum / p.loss_n:.4f}", lr=f"{self.learner.optimizer.param_groups[0]['lr']:.2e}")  # fmt: skip
            if p.step % self.plan.steps_per_epoch == 0:
                return
            stop_now = self._reached_max(p.step)
            if stop_now or (every and p.step % every == 0):
                save_checkpoint(self.ckpt_file, self.learner, p, self.recipe, self.plan.steps_per_epoch, self.procs)
            if stop_now:
                self.stopped = True
                return

    def _step(self, views: list[torch.Tensor], epoch: int) -> float:
        """One optimiser step on a batch of views at the run's step; returns its loss."""
        method, optimizer, scaler = self.learner.method, self.learner.optimizer, self.learner.scaler
        step, spec, o = self.progress.step, self.recipe.backbone, self.recipe.optim
        self.plan.apply(optimizer, step)
        views = [((v.to(self.procs.device, non_blocking=True) - spec.mean) / spec.std) for v in views]
        with self.autocast:
            loss = method.loss(self.model, views, epoch)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(
                f"{self.name}: loss is {loss.item()} at step {step} (epoch {epoch}); lower optim.lr or "
                f"optim.clip_grad, or raise dino.warmup_teacher_temp_epochs; checkpoint {self.ckpt_file} is intact"
            )
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if o.clip_grad > 0:
            clip_gradients_(self.trainable, o.clip_grad)
        method.before_step(epoch)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        method.after_step(self.plan.momentum_at(step))
        return float(loss.item())

    def _end_epoch(self, seconds: float) -> None:
        """Average BatchNorm statistics and the loss over processes, probe (when due), checkpoint and log."""
        p, procs, method = self.progress, self.procs, self.learner.method
        sync_buffers(method, procs)
        loss = all_mean(p.loss_sum / max(p.loss_n, 1), procs)
        entry = epoch_entry(self.recipe, self.plan, p.step, loss, seconds)
        p.loss_sum, p.loss_n = 0.0, 0
        stats = getattr(method, "epoch_stats", None)  # e.g. MAE's loss_trivial: the loss of predicting nothing
        entry.update({k: all_mean(v, procs) for k, v in (stats() if stats else {}).items()})
        last = p.step >= self.plan.total_steps
        if last and entry.get("loss_trivial") and loss > TRIVIAL_LEVEL * entry["loss_trivial"]:
            log.warning(
                "%s epoch %d: loss %.4g is within %.0f%% of a predictor that learned nothing (%.4g); with "
                "sigma-clipped stamps set mae.norm_pix_loss=false (see benchmarks/README.md, issue 21)",
                self.name, entry["epoch"], loss, 100 * (1 - TRIVIAL_LEVEL), entry["loss_trivial"],
            )  # fmt: skip
        if self.monitor is not None and self.monitor.due(entry["epoch"]):
            entry.update(self.monitor(method.export_backbone(), procs.device))
        save_checkpoint(self.ckpt_file, self.learner, p, self.recipe, self.plan.steps_per_epoch, procs)
        if procs.main:
            append_log(self.run, self.name, entry, self.history)

    def finish(self, n_train: int, export: str | Path | None) -> TrainResult:
        """Check the processes agree on the weights and, when the last step is done, export the backbone."""
        step, procs = self.progress.step, self.procs
        finished = step >= self.plan.total_steps
        checksums = check_same_weights(self.learner.method, procs, self.name)
        out = None
        if finished and procs.main:
            out = export_backbone(self.run, self.name, self.recipe, self.learner.method, step, n_train, self.history, checksums)  # fmt: skip
            if export:
                Path(export).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out, export)
                log.info("copied the backbone to %s", export)
        barrier(procs)
        return TrainResult(
            step=step,
            epoch=step // self.plan.steps_per_epoch,
            finished=finished,
            backbone=out,
            log=self.history,
            method=self.learner.method,
            rank_checksums=checksums,
        )
