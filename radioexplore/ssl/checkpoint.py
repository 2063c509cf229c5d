"""Pre-training's files: the resumable ``checkpoint.pt`` of a run and the ``backbone.pt`` it exports."""

from __future__ import annotations

import copy
import datetime as _dt
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from radioexplore.models import BackboneSpec
from radioexplore.models.checkpoint import save_backbone
from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir
from radioexplore.ssl.processes import Processes, gather_objects
from radioexplore.ssl.recipe import Recipe

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "radioexplore-train/1"


def checkpoint_path(run: RunDir, name: str) -> Path:
    """``run.model_checkpoint(name)``: the run directory owns the paths into a run."""
    return run.model_checkpoint(name)


def backbone_path(run: RunDir, name: str) -> Path:
    """``run.model_backbone(name)``."""
    return run.model_backbone(name)


@dataclass(frozen=True)
class Learner:
    """What learns and what a checkpoint keeps of it: the method's networks, the optimiser, the fp16 loss scaler."""

    method: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None


@dataclass
class Progress:
    """Where a run stands: the global step and the sum and count of this epoch's losses so far."""

    step: int = 0
    loss_sum: float = 0.0
    loss_n: int = 0


def save_checkpoint(
    path: Path, learner: Learner, progress: Progress, recipe: Recipe, steps_per_epoch: int, procs: Processes
) -> None:
    """Write everything needed to continue (networks, optimiser, step, every process's RNG state) atomically.

    The networks are stored at the top level too, as DINO does (``student``/``teacher`` state dicts with
    ``backbone.`` and ``head.`` prefixes), so :func:`radioexplore.models.checkpoint.load_backbone` reads it.
    Every process takes part (the RNG states are gathered); the main process writes.
    """
    rng = gather_objects(torch.get_rng_state(), procs)
    if not procs.main:
        return
    payload = {
        "format": CHECKPOINT_FORMAT,
        "recipe": recipe.to_dict(),
        "step": progress.step,
        "epoch": progress.step // steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "world_size": procs.world,
        "epoch_loss_sum": progress.loss_sum,
        "epoch_loss_n": progress.loss_n,
        "method": learner.method.training_state(),
        "optimizer": learner.optimizer.state_dict(),
        "scaler": learner.scaler.state_dict() if learner.scaler is not None else None,
        "rng": rng,
    }
    payload.update({k: v for k, v in payload["method"].items() if k in ("student", "teacher")})
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, learner: Learner, recipe: Recipe, steps_per_epoch: int, procs: Processes) -> Progress:
    """Load the checkpoint at ``path`` into ``learner`` and this process's RNG; returns where it stopped."""
    state = torch.load(path, map_location=procs.device, weights_only=False)
    check_resumable(state, path, recipe, steps_per_epoch, procs)
    learner.method.load_training_state(state["method"])
    learner.optimizer.load_state_dict(state["optimizer"])
    if learner.scaler is not None and state.get("scaler"):
        learner.scaler.load_state_dict(state["scaler"])
    progress = Progress(int(state["step"]), float(state["epoch_loss_sum"]), int(state["epoch_loss_n"]))
    torch.set_rng_state(state["rng"][procs.rank % len(state["rng"])])
    return progress


def check_resumable(state: dict, path: Path, recipe: Recipe, steps_per_epoch: int, procs: Processes) -> None:
    """Raise, saying what to do, unless the checkpoint ``state`` continues this recipe with the same schedules."""
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


def export_backbone(
    run: RunDir, name: str, recipe: Recipe, method, step: int, n_tiles: int, history: list, checksums: list[float]
) -> Path:
    """Write the final backbone (DINO's teacher, an encoder, BYOL's online encoder) with its provenance.

    ``backbone.pt`` is in our checkpoint format with the :class:`~radioexplore.models.BackboneSpec`
    that embedding uses; the run's ``run.toml`` records the training under ``pretrain.<name>``.
    """
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
    record: dict[str, Any] = dict(
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
