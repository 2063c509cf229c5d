"""DINO: self-distillation with no labels (Caron et al. 2021), the method of seed 000.

A student network sees all views of a tile (2 global + 8 local crops); a teacher, the exponential
moving average (EMA) of the student, sees only the two global views. The student learns to match
the teacher's output distribution over ``out_dim`` prototypes by cross-entropy (seed 000, eq. 1).
Collapse is avoided by *centring* (subtracting a running mean of the teacher outputs) and
*sharpening* (a low teacher temperature, warmed up from 0.04). The EMA momentum rises from 0.996
to 1 with a cosine; the head's last layer is frozen during the first epoch; gradients are clipped.
The teacher backbone is the model we keep (seed 000, sec. 3.1: "the SSL-trained backbone ... is
the teacher network").

The loss, the centre update and the EMA are plain functions of tensors; :class:`Dino` ties them
to a student, a teacher and a centre for the training loop in :mod:`radioexplore.ssl.train`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from radioexplore.models import BackboneSpec, build_backbone, is_vit
from radioexplore.ssl.augment import MultiCrop, MultiCropConfig
from radioexplore.ssl.schedules import teacher_temperature


@dataclass(frozen=True)
class DinoConfig:
    """DINO's own hyper-parameters; defaults are Caron et al. 2021's (facebookresearch/dino)."""

    out_dim: int = 65536  # prototypes; "for complex and large datasets large values (like 65k) work well"
    hidden_dim: int = 2048  # head MLP width
    bottleneck_dim: int = 256  # head bottleneck before the weight-normalised last layer
    head_layers: int = 3
    use_bn_in_head: bool = False
    norm_last_layer: bool = True  # DINO: False is better for ViT-S but can be unstable
    momentum_teacher: float = 0.996  # seed 000 (authors' command): --momentum_teacher 0.996
    warmup_teacher_temp: float = 0.04  # DINO: 0.04 works well in most cases
    teacher_temp: float = 0.04  # DINO: above 0.07 is unstable
    warmup_teacher_temp_epochs: int = 0  # DINO paper: 30 when teacher_temp > warmup_teacher_temp
    student_temp: float = 0.1
    center_momentum: float = 0.9
    freeze_last_layer: int = 1  # epochs with the last layer fixed; "doing so during the first epoch helps"
    drop_path: float = 0.1  # stochastic depth of the student ViT (teacher: none)


# -- the head -------------------------------------------------------------------------------------


class WeightNormLinear(nn.Module):
    """Linear layer without bias whose rows are ``weight_g * weight_v / |weight_v|`` (weight normalisation).

    DINO's last layer; with ``fix_norm`` the gain stays 1 (``norm_last_layer=True``). Parameter names
    match ``torch.nn.utils.weight_norm`` so official DINO heads load by name.
    """

    def __init__(self, in_dim: int, out_dim: int, fix_norm: bool = True) -> None:
        super().__init__()
        v = torch.empty(out_dim, in_dim)
        nn.init.trunc_normal_(v, std=0.02)
        self.weight_v = nn.Parameter(v)
        self.weight_g = nn.Parameter(torch.ones(out_dim, 1), requires_grad=not fix_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return F.linear(x, w)


class DINOHead(nn.Module):
    """MLP (``head_layers`` layers, GELU) to a bottleneck, L2 normalisation, weight-normalised prototypes."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        nlayers: int = 3,
        use_bn: bool = False,
        norm_last_layer: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        dims = [in_dim] + [hidden_dim] * (max(nlayers, 1) - 1) + [bottleneck_dim]
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                if use_bn:
                    layers.append(nn.BatchNorm1d(b))
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_layer = WeightNormLinear(bottleneck_dim, out_dim, fix_norm=norm_last_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(F.normalize(self.mlp(x), dim=-1, p=2))


class MultiCropWrapper(nn.Module):
    """Backbone + head over a list of views: views of equal size go through the backbone together."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, views: list[torch.Tensor]) -> torch.Tensor:
        feats, start = [], 0
        while start < len(views):
            end = start + 1
            while end < len(views) and views[end].shape[-1] == views[start].shape[-1]:
                end += 1
            feats.append(self.backbone(torch.cat(views[start:end])))
            start = end
        return self.head(torch.cat(feats))


# -- pure functions -------------------------------------------------------------------------------


def dino_loss(
    student_out: torch.Tensor,
    teacher_out: torch.Tensor,
    center: torch.Tensor,
    student_temp: float,
    teacher_temp: float,
    n_global: int = 2,
) -> torch.Tensor:
    """Seed 000, eq. 1: mean cross-entropy ``H(P_t(x), P_s(x'))`` over pairs of different views.

    ``student_out`` is ``[V * B, K]`` (view-major: all tiles' view 0, then view 1, ...), ``teacher_out``
    is ``[n_global * B, K]`` for the global views. The teacher is centred (``- center``) and
    sharpened (``/ teacher_temp``) and carries no gradient; pairs of a view with itself are skipped.
    """
    n_views = student_out.shape[0] // (teacher_out.shape[0] // n_global)
    student_logp = F.log_softmax(student_out / student_temp, dim=-1).chunk(n_views)
    teacher_p = F.softmax((teacher_out - center) / teacher_temp, dim=-1).detach().chunk(n_global)
    total, terms = student_out.new_zeros(()), 0
    for t, q in enumerate(teacher_p):
        for s, logp in enumerate(student_logp):
            if s == t:
                continue
            total = total + torch.sum(-q * logp, dim=-1).mean()
            terms += 1
    return total / terms


def ema_center(center: torch.Tensor, batch_center: torch.Tensor, momentum: float) -> torch.Tensor:
    """The new centre: ``momentum * center + (1 - momentum) * batch_center`` (DINO, eq. 4)."""
    return center * momentum + batch_center * (1.0 - momentum)


def batch_center(teacher_out: torch.Tensor) -> torch.Tensor:
    """Mean teacher output ``[1, K]`` over the global batch (summed over processes when distributed)."""
    total = teacher_out.detach().sum(dim=0, keepdim=True)
    count = torch.tensor([teacher_out.shape[0]], dtype=total.dtype, device=total.device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(total)
        dist.all_reduce(count)
    return total / count


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """Teacher parameters <- ``momentum * teacher + (1 - momentum) * student`` in place (DINO's momentum encoder)."""
    for p_t, p_s in zip(teacher.parameters(), student.parameters(), strict=True):
        p_t.mul_(momentum).add_(p_s.detach(), alpha=1.0 - momentum)


def clip_gradients_(model: nn.Module, max_norm: float) -> list[float]:
    """DINO's clipping: each parameter's gradient rescaled to norm at most ``max_norm``; returns the norms.

    Note this is per parameter tensor, as in facebookresearch/dino, not one global norm.
    """
    norms = []
    for p in model.parameters():
        if p.grad is None:
            continue
        norm = p.grad.norm(2)
        norms.append(float(norm))
        coef = max_norm / (norm + 1e-6)
        if coef < 1:
            p.grad.mul_(coef)
    return norms


def cancel_last_layer_gradients_(head: nn.Module, epoch: int, freeze_epochs: int) -> None:
    """Drop the gradients of the head's last layer while ``epoch < freeze_epochs`` (DINO: first epoch)."""
    if epoch >= freeze_epochs:
        return
    for name, p in head.named_parameters():
        if "last_layer" in name:
            p.grad = None


# -- the method -----------------------------------------------------------------------------------


class Dino(nn.Module):
    """Student, EMA teacher and output centre for one DINO training run.

    The training loop calls :meth:`loss` with a student that may be wrapped in
    DistributedDataParallel, :meth:`before_step` after backward, and :meth:`after_step` after the
    optimiser step; :meth:`export_backbone` gives the teacher backbone to save.
    """

    name = "dino"

    def __init__(self, spec: BackboneSpec, config: DinoConfig, views: MultiCropConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config
        self.views = MultiCrop(views)
        student_bb = build_backbone(spec, drop_path=config.drop_path if is_vit(spec) else None)
        teacher_bb = build_backbone(spec, drop_path=0.0 if is_vit(spec) else None)
        dim = student_bb.embed_dim

        def head() -> DINOHead:
            return DINOHead(
                dim,
                config.out_dim,
                config.hidden_dim,
                config.bottleneck_dim,
                config.head_layers,
                config.use_bn_in_head,
                config.norm_last_layer,
            )

        self.student = MultiCropWrapper(student_bb, head())
        self.teacher = MultiCropWrapper(teacher_bb, copy.deepcopy(self.student.head))
        self.teacher.load_state_dict(self.student.state_dict())
        for p in self.teacher.parameters():
            p.requires_grad = False
        self.register_buffer("center", torch.zeros(1, config.out_dim))

    def trainable(self) -> nn.Module:
        """The module the optimiser updates (and DistributedDataParallel wraps)."""
        return self.student

    def loss(self, student: nn.Module, views: list[torch.Tensor], epoch: int) -> torch.Tensor:
        c = self.config
        with torch.no_grad():
            teacher_out = self.teacher(views[:2])
        student_out = student(views)
        temp = teacher_temperature(epoch, c.warmup_teacher_temp, c.teacher_temp, c.warmup_teacher_temp_epochs)
        loss = dino_loss(student_out.float(), teacher_out.float(), self.center, c.student_temp, temp)
        self.center.copy_(ema_center(self.center, batch_center(teacher_out.float()), c.center_momentum))
        return loss

    def before_step(self, epoch: int) -> None:
        cancel_last_layer_gradients_(self.student.head, epoch, self.config.freeze_last_layer)

    def after_step(self, momentum: float) -> None:
        ema_update_(self.teacher, self.student, momentum)

    def export_backbone(self) -> nn.Module:
        return self.teacher.backbone

    def training_state(self) -> dict[str, object]:
        """Student and teacher as DINO lays them out (``backbone.*``, ``head.*``) plus the centre."""
        return {"student": self.student.state_dict(), "teacher": self.teacher.state_dict(), "center": self.center}

    def load_training_state(self, state: dict[str, object]) -> None:
        self.student.load_state_dict(state["student"])
        self.teacher.load_state_dict(state["teacher"])
        self.center.copy_(state["center"])
