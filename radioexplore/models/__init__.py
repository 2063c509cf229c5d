"""Backbones by name: ViT (patch 8 or 16; tiny, small, base), ResNet-18/50 and a small ResNet-10, one input channel.

A :class:`BackboneSpec` is plain data (it lives in recipes and checkpoints); :func:`build_backbone`
turns it into a module whose forward returns one embedding per image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from torch import nn

from radioexplore.models.resnet import resnet18, resnet50, resnet_small
from radioexplore.models.unet import UNet, unet
from radioexplore.models.vit import vit
from radioexplore.registry import lookup


@dataclass(frozen=True)
class BackboneSpec:
    """What network and what input it expects; stored with every checkpoint."""

    arch: str = "vit_small"  # seed 000: ViT-S/8 and ResNet-50
    patch: int = 8  # seed 000: patch size 8 (attention maps of 8 x 8 patches)
    in_chans: int = 1
    input_px: int = 224  # tiles are resized to this before the network; seed 000 global crops 224 px
    mean: float = 0.0  # input normalisation: (x - mean) / std on tiles scaled to [0, 1]
    std: float = 1.0
    depth: int | None = None  # ViT blocks; None: the width's standard depth (12), fewer for tests and quick trials

    def to_dict(self) -> dict:
        return asdict(self)


#: Factories by name; each takes the spec and keyword options (``drop_path`` for ViTs).
BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "vit_tiny": lambda s, **kw: vit("tiny", s.patch, s.in_chans, img_px=s.input_px, depth=s.depth, **kw),
    "vit_small": lambda s, **kw: vit("small", s.patch, s.in_chans, img_px=s.input_px, depth=s.depth, **kw),
    "vit_base": lambda s, **kw: vit("base", s.patch, s.in_chans, img_px=s.input_px, depth=s.depth, **kw),
    "resnet18": lambda s, **kw: resnet18(s.in_chans),
    "resnet50": lambda s, **kw: resnet50(s.in_chans),
    "resnet_small": lambda s, **kw: resnet_small(s.in_chans),  # CPU-sized ResNet-10 (models.resnet)
}


def build_backbone(spec: BackboneSpec, drop_path: float | None = None) -> nn.Module:
    """The backbone named by ``spec.arch``, randomly initialised.

    ``drop_path`` sets a ViT's stochastic-depth rate (DINO trains the student with 0.1 and the
    teacher with 0); it is ignored for ResNets and left at the ViT default when None.
    """
    factory = lookup(BACKBONES, spec.arch, "backbone")
    return factory(spec) if drop_path is None else factory(spec, drop_path=drop_path)


def is_vit(spec: BackboneSpec) -> bool:
    return spec.arch.startswith("vit")


#: Segmentation networks by name (one logit per pixel); seed 004's Radio U-Net.
SEGMENTERS: dict[str, Callable[..., nn.Module]] = {
    "unet": lambda in_chans=1: unet(in_chans=in_chans, base=16, levels=4),
    "unet_small": lambda in_chans=1: unet(in_chans=in_chans, base=8, levels=4),
}


def build_segmenter(arch: str, in_chans: int = 1) -> UNet:
    """The segmentation network named ``arch`` with ``in_chans`` input channels, randomly initialised."""
    return lookup(SEGMENTERS, arch, "segmentation network")(in_chans=in_chans)
