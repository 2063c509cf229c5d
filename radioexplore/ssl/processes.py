"""Training processes: one, or one of many under ``torchrun`` (DDP), and the values they share."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


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


def barrier(procs: Processes) -> None:
    """Wait for every process (nothing to wait for in a single process)."""
    if procs.distributed:
        dist.barrier()


def all_mean(value: float, procs: Processes) -> float:
    """The mean of ``value`` over all processes (``value`` itself in a single process)."""
    if not procs.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=procs.device if procs.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / procs.world


def sync_buffers(module: nn.Module, procs: Processes) -> None:
    """Average floating-point buffers (BatchNorm statistics) over processes so every rank holds the same."""
    if not procs.distributed:
        return
    for b in module.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b.div_(procs.world)


def gather_objects(value: Any, procs: Processes) -> list[Any]:
    """``value`` of every process, in rank order (``[value]`` in a single process)."""
    if not procs.distributed:
        return [value]
    gathered: list[Any] = [None] * procs.world
    dist.all_gather_object(gathered, value)
    return gathered


def rank_checksums(module: nn.Module, procs: Processes) -> list[float]:
    """A checksum of every parameter and buffer of this process, gathered from all processes."""
    total = torch.zeros((), dtype=torch.float64)
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            total += (
                (t.detach().double() * (1.0 + 1e-3 * torch.arange(t.numel(), device=t.device).reshape(t.shape)))
                .sum()
                .cpu()
            )
    return [float(v) for v in gather_objects(float(total), procs)]


def check_same_weights(module: nn.Module, procs: Processes, name: str) -> list[float]:
    """The processes' checksums of ``module``; raises when the processes ended with different weights."""
    checksums = rank_checksums(module, procs)
    if procs.distributed and max(checksums) - min(checksums) > 1e-6 * max(1.0, abs(checksums[0])):
        raise RuntimeError(f"{name}: the {procs.world} processes ended with different weights (checksums {checksums})")
    return checksums


def has_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` holds a BatchNorm layer (converted to SyncBatchNorm across GPUs)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
