"""A small U-Net (Ronneberger et al. 2015) in plain torch: the Radio U-Net of seed 004, one logit per pixel.

``levels`` resolutions (``levels - 1`` max-poolings), ``base`` channels at full resolution doubling
at each level, two 3x3 conv + BatchNorm + ReLU per level, transposed-conv up-sampling and skip
concatenations. The default (4 levels, 16 channels) has ~0.47 M parameters (1.9 MB float32);
``unet_small`` (8 channels) a quarter of that, for the CPU checkpoint. Input sides must be
multiples of ``2 ** (levels - 1)`` (192 px tiles, seed 004, are).
"""

from __future__ import annotations

import torch
from torch import nn


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder-decoder with skips; ``forward`` returns logits of shape (B, 1, H, W)."""

    def __init__(self, in_chans: int = 1, base: int = 16, levels: int = 4) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"UNet levels must be at least 2 (got {levels})")
        widths = [base * 2**i for i in range(levels)]
        self.levels = levels
        self.down = nn.ModuleList([_double_conv(in_chans, widths[0])])
        self.down.extend(_double_conv(widths[i - 1], widths[i]) for i in range(1, levels))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i], widths[i - 1], 2, stride=2) for i in range(levels - 1, 0, -1)
        )
        self.merge = nn.ModuleList(_double_conv(2 * widths[i - 1], widths[i - 1]) for i in range(levels - 1, 0, -1))
        self.head = nn.Conv2d(widths[0], 1, 1)
        self.pool = nn.MaxPool2d(2)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


def unet(base: int = 16, levels: int = 4, in_chans: int = 1) -> UNet:
    return UNet(in_chans=in_chans, base=base, levels=levels)
