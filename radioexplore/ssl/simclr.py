"""SimCLR (Chen et al. 2020) as seed 002 (Riggi et al. 2024) trains it on ASKAP EMU and MeerKAT SMGPS.

Two augmented views of each tile go through the same encoder ``f`` (a ResNet-18 in seed 002) and
a small projector ``g`` (2 layers, 256 then 128 units); the NT-Xent loss (seed 002, eqs. 1-3)
pulls the two views of a tile together and pushes the other ``2N - 2`` views of the batch away.
The encoder is the model we keep; the projector is discarded after training.

Seed 002 does not state the temperature; we use Chen et al.'s 0.5 for batches of a few hundred.
With several processes the projections of the whole global batch are gathered (with gradients)
so every tile sees the same negatives it would on one device, as SimCLR does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from radioexplore.models import BackboneSpec, build_backbone, is_vit
from radioexplore.ssl.augment import SimCLRAugmentConfig, SimCLRViews
from radioexplore.ssl.single import SingleNetwork


@dataclass(frozen=True)
class SimCLRConfig:
    """SimCLR's own hyper-parameters (seed 002, sec. 2.4)."""

    proj_hidden: int = 256  # seed 002: "a 2-layer projector with 256 and 128 neurons"
    proj_out: int = 128
    temperature: float = 0.5  # not given in seed 002; Chen et al. 2020 for moderate batch sizes
    drop_path: float = 0.0  # stochastic depth when the encoder is a ViT


class ProjectionHead(nn.Module):
    """``g``: Linear - BatchNorm - ReLU - Linear (Chen et al. 2020, sec. 2.1)."""

    def __init__(self, in_dim: int, hidden: int = 256, out: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (seed 002, eqs. 1-3): ``z_a[k]`` and ``z_b[k]`` are the two views of tile ``k``.

    Each of the ``2N`` projections is scored against the other ``2N - 1`` by cosine similarity over
    ``temperature``; the loss is the cross-entropy of picking its partner, averaged over all ``2N``.
    """
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, partner)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward hands each process the gradient of its own rows, summed over processes.

    Every process computes the same global loss, so the summed gradient is ``world`` times the
    true one; DistributedDataParallel's averaging over processes then gives the exact gradient.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        n = grad.shape[0] // dist.get_world_size()
        rank = dist.get_rank()
        return grad[rank * n : (rank + 1) * n]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All processes' ``x`` (equal shapes) concatenated in rank order, differentiable; ``x`` on one process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


class SimCLR(SingleNetwork, nn.Module):
    """Encoder + projector trained with NT-Xent over the global batch."""

    name = "simclr"

    def __init__(self, spec: BackboneSpec, config: SimCLRConfig, views: SimCLRAugmentConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        self.views = SimCLRViews(views)
        backbone = build_backbone(spec, drop_path=config.drop_path if is_vit(spec) else None)
        self.model = nn.Sequential()
        self.model.add_module("backbone", backbone)
        self.model.add_module("head", ProjectionHead(backbone.embed_dim, config.proj_hidden, config.proj_out))

    def trainable(self) -> nn.Module:
        return self.model

    def loss(self, model: nn.Module, views: list[torch.Tensor], epoch: int) -> torch.Tensor:
        z = model(torch.cat(views[:2])).float()
        z_a, z_b = z.chunk(2)
        return nt_xent(gather_with_grad(z_a), gather_with_grad(z_b), self.config.temperature)
