"""BYOL: bootstrap your own latent (Grill et al. 2020), seed 001's best method (Cecconello et al.).

Two augmented views of each tile go through an *online* network (encoder, projector, predictor)
and a *target* network (encoder, projector), the exponential moving average of the online one.
The online prediction of one view regresses the target projection of the other: the loss is the
normalised MSE ``2 - 2 cos(p, z)``, symmetrised over the two views. There are no negatives; the
predictor and the slowly moving target keep the representation from collapsing. The EMA momentum
``tau`` rises from 0.99 to 1 with a cosine (Grill et al., sec. 3.2). The online encoder is the
model we keep (Grill et al.: "at the end of training ... we only keep the encoder f_theta").

Seed 001 (sec. 4, "BYOL"): projection size 512, predictor hidden size 1024, LARS with base LR 1.2
and batch 512; Grill et al.'s own sizes are 4096 hidden, 256 out. The CPU recipe shrinks these.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from radioexplore.models import BackboneSpec, build_backbone, is_vit
from radioexplore.ssl.augment import SimCLRAugmentConfig, SimCLRViews


@dataclass(frozen=True)
class BYOLConfig:
    """BYOL's own hyper-parameters; defaults are seed 001's (Cecconello et al., sec. 4)."""

    proj_hidden: int = 1024  # seed 001 gives the predictor's hidden size (1024); solo-learn uses it for both MLPs
    proj_out: int = 512  # seed 001: "projection size: 512" (Grill et al.: 256)
    pred_hidden: int = 1024  # seed 001: "predictor hidden size: 1024" (Grill et al.: 4096)
    tau: float = 0.99  # EMA momentum of the target at the start, cosine to 1 (Grill et al.: 0.996; solo-learn: 0.99)
    drop_path: float = 0.0  # stochastic depth when the encoder is a ViT


class MLPHead(nn.Module):
    """BYOL's projector and predictor: Linear - BatchNorm - ReLU - Linear (Grill et al., sec. 3.3)."""

    def __init__(self, in_dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Normalised MSE ``2 - 2 cos(p, z)`` averaged over the batch (Grill et al., eq. 2); ``z`` carries no gradient."""
    return (2.0 - 2.0 * F.cosine_similarity(p, z.detach(), dim=-1)).mean()


@torch.no_grad()
def ema_update_params_(target: list[nn.Parameter], online: list[nn.Parameter], tau: float) -> None:
    """Target parameters <- ``tau * target + (1 - tau) * online`` in place, pairwise."""
    for p_t, p_o in zip(target, online, strict=True):
        p_t.mul_(tau).add_(p_o.detach(), alpha=1.0 - tau)


class BYOLOnline(nn.Module):
    """Encoder, projector and predictor: ``forward`` gives the predictions of a batch of views."""

    def __init__(self, backbone: nn.Module, head: nn.Module, predictor: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.predictor = predictor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predictor(self.head(self.backbone(x)))


class BYOL(nn.Module):
    """Online network trained by the optimiser; target network moved by EMA after every step."""

    name = "byol"

    def __init__(self, spec: BackboneSpec, config: BYOLConfig, views: SimCLRAugmentConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        self.views = SimCLRViews(views)
        backbone = build_backbone(spec, drop_path=config.drop_path if is_vit(spec) else None)
        head = MLPHead(backbone.embed_dim, config.proj_hidden, config.proj_out)
        self.online = BYOLOnline(backbone, head, MLPHead(config.proj_out, config.pred_hidden, config.proj_out))
        self.target = nn.Sequential()
        self.target.add_module("backbone", copy.deepcopy(backbone))
        self.target.add_module("head", copy.deepcopy(head))
        for p in self.target.parameters():
            p.requires_grad = False

    def trainable(self) -> nn.Module:
        return self.online

    def loss(self, online: nn.Module, views: list[torch.Tensor], epoch: int) -> torch.Tensor:
        x = torch.cat(views[:2])
        p_a, p_b = online(x).float().chunk(2)
        with torch.no_grad():
            z_a, z_b = self.target(x).float().chunk(2)
        return 0.5 * (byol_loss(p_a, z_b) + byol_loss(p_b, z_a))

    def before_step(self, epoch: int) -> None:
        return None

    def after_step(self, momentum: float) -> None:
        online = itertools.chain(self.online.backbone.parameters(), self.online.head.parameters())
        ema_update_params_(list(self.target.parameters()), list(online), momentum)

    def export_backbone(self) -> nn.Module:
        return self.online.backbone

    def training_state(self) -> dict[str, object]:
        """The online network (``backbone.*``, ``head.*``, ``predictor.*``) as the "student", and the target."""
        return {"student": self.online.state_dict(), "target": self.target.state_dict()}

    def load_training_state(self, state: dict[str, object]) -> None:
        self.online.load_state_dict(state["student"])
        self.target.load_state_dict(state["target"])
