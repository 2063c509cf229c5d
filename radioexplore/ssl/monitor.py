"""The per-epoch log of pre-training (``log.jsonl``) and seed 000's source-count probe beside the loss."""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from radioexplore.evaluation.probes import drop_outliers, linear_probe
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store, read_tiles
from radioexplore.ssl.optim import StepPlan
from radioexplore.ssl.recipe import Recipe
from radioexplore.ssl.schedules import teacher_temperature

log = logging.getLogger(__name__)


def read_log(run: RunDir, name: str) -> list[dict[str, Any]]:
    """The per-epoch log lines of a training run (empty when it has not finished an epoch)."""
    path = run.model_log(name)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_log(run: RunDir, name: str, entry: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Add ``entry`` (its None values left out) to the run's log file, to ``history`` and to the log."""
    entry = {k: v for k, v in entry.items() if v is not None}
    with open(run.model_log(name), "a") as fh:
        fh.write(json.dumps(entry) + "\n")
    history.append(entry)
    log.info("%s %s", name, " ".join(f"{k}={_fmt(v)}" for k, v in entry.items()))


def epoch_entry(recipe: Recipe, plan: StepPlan, step: int, loss: float, seconds: float) -> dict[str, Any]:
    """The log line of the epoch that ended at ``step``: mean loss and the schedules' values at its last step."""
    done_epoch = step // plan.steps_per_epoch
    return {
        "epoch": done_epoch,
        "step": step,
        "loss": loss,
        "lr": float(plan.lr_at(step - 1)),
        "weight_decay": float(plan.wd_at(step - 1)),
        "momentum": float(plan.momentum_at(step - 1)) if plan.has_momentum else None,
        "teacher_temp": teacher_temp(recipe, done_epoch - 1),
        "seconds": round(seconds, 2),
    }


def teacher_temp(recipe: Recipe, epoch: int) -> float | None:
    """DINO's teacher temperature in ``epoch`` (None for the other methods)."""
    if recipe.method != "dino":
        return None
    d = recipe.dino
    return teacher_temperature(epoch, d.warmup_teacher_temp, d.teacher_temp, d.warmup_teacher_temp_epochs)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class Monitor:
    """Linear probe of the source count from the current teacher's embeddings (seed 000, sec. 3.3).

    The probe trains on a sample of the training tiles and is tested on the held-out tiles; its
    MSE is logged beside the loss every ``monitor.every_epochs``.
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
