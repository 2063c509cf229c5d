"""Per-iteration schedules of DINO (Caron et al. 2021) and SimCLR (Chen et al. 2020), as pure functions of the step.

DINO changes three quantities at every iteration: the learning rate (linear warm-up, then cosine
decay to ``min_lr``), the weight decay (cosine from ``weight_decay`` to ``weight_decay_end``) and
the teacher's EMA momentum (cosine from ``momentum_teacher`` to 1). The teacher temperature is
warmed up linearly per *epoch*. Seed 000 trains with these schedules; seed 002 (SimCLR) uses the
same linear warm-up + cosine decay for its learning rate.

A schedule here is a small frozen object evaluated at the global step, so a run resumed at step
``k`` gets exactly the value an uninterrupted run had at step ``k``: nothing is accumulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CosineSchedule:
    """Linear warm-up from ``warmup_start`` to ``base`` over ``warmup_steps``, then cosine to ``final``.

    Matches DINO's ``cosine_scheduler``: the warm-up is ``linspace(warmup_start, base, warmup_steps)``
    (it reaches ``base`` on its last step) and the cosine runs over the remaining steps, starting
    at ``base`` and approaching ``final`` at ``total_steps``. Steps past the end return ``final``.
    """

    base: float
    final: float
    total_steps: int
    warmup_steps: int = 0
    warmup_start: float = 0.0

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {self.total_steps}")
        if not 0 <= self.warmup_steps <= self.total_steps:
            raise ValueError(f"warmup_steps must lie in [0, total_steps={self.total_steps}], got {self.warmup_steps}")

    def __call__(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"step must be non-negative, got {step}")
        if step < self.warmup_steps:
            if self.warmup_steps == 1:
                return self.base
            return self.warmup_start + (self.base - self.warmup_start) * step / (self.warmup_steps - 1)
        n = self.total_steps - self.warmup_steps
        if n <= 0 or step >= self.total_steps:
            return self.final
        i = step - self.warmup_steps
        return self.final + 0.5 * (self.base - self.final) * (1.0 + math.cos(math.pi * i / n))


def learning_rate_schedule(
    lr: float, min_lr: float, batch_size: int, epochs: int, steps_per_epoch: int, warmup_epochs: int
) -> CosineSchedule:
    """DINO's learning rate: ``lr`` is given for a batch of 256 and scaled linearly with the global batch.

    Seed 000, sec. 3.3: "the learning rate is scaled by the factor" batch size / 256 (DINO's linear
    scaling rule); the warm-up starts from 0.
    """
    return CosineSchedule(
        base=lr * batch_size / 256.0,
        final=min_lr,
        total_steps=epochs * steps_per_epoch,
        warmup_steps=min(warmup_epochs, epochs) * steps_per_epoch,
    )


def weight_decay_schedule(
    weight_decay: float, weight_decay_end: float, epochs: int, steps_per_epoch: int
) -> CosineSchedule:
    """Cosine weight decay from ``weight_decay`` to ``weight_decay_end`` (DINO: 0.04 -> 0.4 for ViTs)."""
    return CosineSchedule(weight_decay, weight_decay_end, epochs * steps_per_epoch)


def momentum_schedule(momentum_teacher: float, epochs: int, steps_per_epoch: int) -> CosineSchedule:
    """The teacher's EMA momentum, raised from ``momentum_teacher`` (DINO: 0.996) to 1 with a cosine."""
    return CosineSchedule(momentum_teacher, 1.0, epochs * steps_per_epoch)


def teacher_temperature(epoch: int, warmup_temp: float, final_temp: float, warmup_epochs: int) -> float:
    """DINO's teacher temperature: linear from ``warmup_temp`` to ``final_temp`` over ``warmup_epochs``.

    Caron et al. 2021, sec. 3.1 and appendix: a too high teacher temperature at the start makes
    training unstable, so it starts at 0.04 and is warmed up (to at most 0.07) over 30 epochs.
    Like DINO's ``np.linspace(warmup, final, warmup_epochs)``, the last warm-up epoch already uses
    ``final_temp``.
    """
    if epoch < 0:
        raise ValueError(f"epoch must be non-negative, got {epoch}")
    if warmup_epochs <= 0 or epoch >= warmup_epochs:
        return final_temp
    if warmup_epochs == 1:
        return final_temp
    return warmup_temp + (final_temp - warmup_temp) * epoch / (warmup_epochs - 1)
