"""Views of a radio tile for self-supervision: DINO multi-crop (seed 000) and SimCLR pairs (seed 002).

Everything works on one tile, a float tensor ``[C, H, W]`` in [0, 1] as ``tiles.zarr`` holds it,
and draws its randomness from an explicit ``torch.Generator`` so a view is a function of
(seed, epoch, tile): a resumed run sees the same views an uninterrupted one would.

DINO (Caron et al. 2021) as seed 000 uses it (sec. 3.2): two global crops (scale 0.4-1, 224 px)
and eight local crops (96 px; scale 0.05-0.4 for a ViT, 0.05-0.14 for a ResNet), with random
flips, Gaussian blur (always on the first global view, rarely on the second, half the time on
local views), 90-degree rotations and random power-law scaling. Colour jitter and solarisation
are left out: they are designed for RGB photographs, not single-channel flux maps (seed 000,
sec. 3.2).

SimCLR as seed 002 uses it (sec. 2.3, Table 2): a random crop of 0.8-1 of the side resized back,
brightness/contrast jitter, horizontal or vertical flip, rotation by 90/180/270 degrees, blur
with sigma 1-3 and RandomThresholding, which zeroes the pixels under a random per-channel
percentile (40-60) so the model depends less on the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# -- random draws ---------------------------------------------------------------------------------


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=gen).item()


def _coin(gen: torch.Generator, p: float) -> bool:
    return p > 0 and torch.rand((), generator=gen).item() < p


def _log_uniform(gen: torch.Generator, low: float, high: float) -> float:
    return math.exp(_uniform(gen, math.log(low), math.log(high)))


# -- single operations (deterministic given their parameters) ------------------------------------


def resize(img: torch.Tensor, out_px: int) -> torch.Tensor:
    """Bicubic resize of ``[C, H, W]`` to ``out_px`` square (antialiased when shrinking), clamped to [0, 1]."""
    if img.shape[-1] == out_px and img.shape[-2] == out_px:
        return img
    shrink = img.shape[-1] > out_px or img.shape[-2] > out_px
    out = F.interpolate(img[None], size=(out_px, out_px), mode="bicubic", align_corners=False, antialias=shrink)[0]
    return out.clamp_(0.0, 1.0)


def crop(img: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    return img[..., top : top + height, left : left + width]


def random_resized_crop_box(
    gen: torch.Generator, h: int, w: int, scale: tuple[float, float], ratio: tuple[float, float] = (3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """A box ``(top, left, height, width)`` covering a random ``scale`` fraction of the area.

    As torchvision's ``RandomResizedCrop`` that DINO uses: area fraction uniform in ``scale``,
    aspect ratio log-uniform in ``ratio``; ten tries, then the largest centred box that fits.
    """
    area = h * w
    for _ in range(10):
        target = area * _uniform(gen, *scale)
        aspect = _log_uniform(gen, *ratio)
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(0, h - ch + 1, (), generator=gen))
            left = int(torch.randint(0, w - cw + 1, (), generator=gen))
            return top, left, ch, cw
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side, side


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[C, H, W]`` with standard deviation ``sigma`` pixels (reflected edges)."""
    if sigma <= 0:
        return img
    radius = max(1, int(math.ceil(3.0 * sigma)))
    radius = min(radius, img.shape[-1] - 1, img.shape[-2] - 1)
    x = torch.arange(-radius, radius + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = img.shape[0]
    out = F.pad(img[None], (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return out[0]


def power_law(img: torch.Tensor, gamma: float) -> torch.Tensor:
    """Power-law intensity scaling ``x ** gamma`` of a [0, 1] image (seed 000, sec. 3.2 and fig. 4).

    ``gamma > 1`` pushes the noise towards 0 and keeps the bright sources; ``gamma < 1`` lifts faint
    emission. Seed 000 found rotation plus power-law scaling the best pair of radio augmentations.
    """
    return img.clamp(0.0, 1.0).pow(gamma)


def random_threshold(img: torch.Tensor, percentile: float) -> torch.Tensor:
    """Seed 002's RandomThresholding: in each channel, pixels under its ``percentile`` become 0.

    Seed 002 (sec. 2.3) thresholds "each channel separately using a per-channel percentile
    threshold" to make the model less dependent on background features; we read "threshold" as
    zeroing what lies below it and keeping the rest unchanged.
    """
    flat = img.reshape(img.shape[0], -1)
    thr = torch.quantile(flat.float(), percentile / 100.0, dim=1).to(img.dtype)
    return torch.where(img < thr.view(-1, 1, 1), torch.zeros_like(img), img)


def adjust_brightness_contrast(img: torch.Tensor, brightness: float, contrast: float) -> torch.Tensor:
    """Multiply by ``brightness``, then scale deviations from the mean by ``contrast``; clamp to [0, 1]."""
    out = img * brightness
    mean = out.mean(dim=(-2, -1), keepdim=True)
    return ((out - mean) * contrast + mean).clamp_(0.0, 1.0)


def adjust_saturation(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend a multi-channel image with its channel mean (saturation jitter); a no-op on one channel."""
    if img.shape[0] == 1:
        return img
    grey = img.mean(dim=0, keepdim=True)
    return (grey + (img - grey) * factor).clamp_(0.0, 1.0)


def flip_rotate(img: torch.Tensor, hflip: bool, vflip: bool, quarter_turns: int) -> torch.Tensor:
    if hflip:
        img = img.flip(-1)
    if vflip:
        img = img.flip(-2)
    if quarter_turns % 4:
        img = torch.rot90(img, quarter_turns % 4, dims=(-2, -1))
    return img


# -- DINO multi-crop ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultiCropConfig:
    """DINO's views; defaults are seed 000's (sec. 3.2) and Caron et al. 2021's."""

    global_px: int = 224  # seed 000: global views 224 x 224
    local_px: int = 96  # seed 000: local views 96 x 96
    n_local: int = 8  # seed 000: "we chose to use eight local crops"
    global_scale: tuple[float, float] = (0.4, 1.0)  # seed 000: "randomly re-scaled between 0.4 and 1"
    local_scale: tuple[float, float] = (0.05, 0.4)  # seed 000: 0.05-0.4 for ViT, 0.05-0.14 for ResNet
    hflip_p: float = 0.5  # DINO: RandomHorizontalFlip(p=0.5)
    vflip_p: float = 0.0  # with 90-degree rotations a vertical flip adds nothing new
    rot90_p: float = 0.75  # seed 000: rotation; 0.75 makes the four orientations equally likely
    blur_p: tuple[float, float, float] = (1.0, 0.1, 0.5)  # DINO: first global, second global, local views
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # DINO: radius 0.1-2 px
    powerlaw_p: float = 0.5  # seed 000 (authors' code): random power-law scaling applied with p = 0.5
    powerlaw_gamma: tuple[float, float] = (0.5, 3.0)  # exponent, log-uniform; see power_law()


class MultiCrop:
    """``views(tile, gen)``: 2 global then ``n_local`` local views of one tile (DINO's order)."""

    def __init__(self, config: MultiCropConfig = MultiCropConfig()) -> None:
        self.config = config

    @property
    def n_views(self) -> int:
        return 2 + self.config.n_local

    def _view(self, tile: torch.Tensor, gen: torch.Generator, px: int, scale, blur_p: float) -> torch.Tensor:
        c = self.config
        top, left, h, w = random_resized_crop_box(gen, tile.shape[-2], tile.shape[-1], scale)
        img = resize(crop(tile, top, left, h, w), px)
        img = flip_rotate(img, _coin(gen, c.hflip_p), _coin(gen, c.vflip_p), _quarter_turns(gen, c.rot90_p))
        if _coin(gen, blur_p):
            img = gaussian_blur(img, _uniform(gen, *c.blur_sigma))
        if _coin(gen, c.powerlaw_p):
            img = power_law(img, _log_uniform(gen, *c.powerlaw_gamma))
        return img.contiguous()

    def __call__(self, tile: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        c = self.config
        views = [self._view(tile, gen, c.global_px, c.global_scale, c.blur_p[i]) for i in range(2)]
        views += [self._view(tile, gen, c.local_px, c.local_scale, c.blur_p[2]) for _ in range(c.n_local)]
        return views


def _quarter_turns(gen: torch.Generator, p: float) -> int:
    return int(torch.randint(1, 4, (), generator=gen)) if _coin(gen, p) else 0


# -- SimCLR pairs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimCLRAugmentConfig:
    """Seed 002, Table 2: augmenters applied in sequence, each with its probability."""

    out_px: int = 224  # seed 002: images resized to 224 x 224
    crop_side: tuple[float, float] = (0.8, 1.0)  # RandomCropResize, crop_size = [0.8, 1.0], p = 1
    jitter_p: float = 0.8  # ColorJitter, p = 0.8
    brightness: float = 0.4  # 0.8 x strength 0.5
    contrast: float = 0.4  # 0.8 x strength 0.5
    saturation: float = 0.4  # 0.8 x strength 0.5; acts only on multi-channel tiles (hue has no analogue)
    hflip_p: float = 0.33  # HorizontalFlip, p = 0.33
    vflip_p: float = 0.33  # VerticalFlip, p = 0.33
    rot90_p: float = 0.5  # Rotate by 90, 180 or 270 degrees, p = 0.5
    blur_p: float = 0.1  # Blur, p = 0.1
    blur_sigma: tuple[float, float] = (1.0, 3.0)  # Blur sigma = [1, 3]
    threshold_p: float = 0.5  # RandomThresholding, p = 0.5
    threshold_percentile: tuple[float, float] = (40.0, 60.0)  # percentileThr = [40, 60]
    # Radio additions (augment_radio.py), off by default so older recipes give the same views:
    rotate_p: float = 0.0  # any-angle rotation (Slijepcevic et al. 2022 via seed 000, sec. 3.2)
    rotate_fill: str = "background"  # corners: "background" (median + rms noise), "zero" or "crop"
    noise_p: float = 0.0  # Gaussian noise injection (seed 003, sec. 6.1.1, Table 3: additive noise)
    noise_frac: tuple[float, float] = (0.5, 2.0)  # added rms, x the tile's robust rms
    noise_clipped_peak_frac: tuple[float, float] = (0.01, 0.05)  # clipped-background tiles: x the peak
    noise_beam_px: float = 0.0  # Gaussian sigma of the beam the noise is smoothed to (tile pixels)


class SimCLRViews:
    """``views(tile, gen)``: two independently augmented views of one tile (seed 002, sec. 2.3)."""

    n_views = 2

    def __init__(self, config: SimCLRAugmentConfig = SimCLRAugmentConfig()) -> None:
        self.config = config

    def _view(self, tile: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.config
        if c.rotate_p > 0 or c.noise_p > 0:  # draws only when on: older recipes keep their views
            tile = _radio_ops(tile, gen, c)
        h, w = tile.shape[-2:]
        side = max(1, int(round(min(h, w) * _uniform(gen, *c.crop_side))))
        top = int(torch.randint(0, h - side + 1, (), generator=gen))
        left = int(torch.randint(0, w - side + 1, (), generator=gen))
        img = resize(crop(tile, top, left, side, side), c.out_px)
        if _coin(gen, c.jitter_p):
            b = _uniform(gen, 1 - c.brightness, 1 + c.brightness)
            k = _uniform(gen, 1 - c.contrast, 1 + c.contrast)
            img = adjust_saturation(
                adjust_brightness_contrast(img, b, k), _uniform(gen, 1 - c.saturation, 1 + c.saturation)
            )
        img = flip_rotate(img, _coin(gen, c.hflip_p), _coin(gen, c.vflip_p), _quarter_turns(gen, c.rot90_p))
        if _coin(gen, c.blur_p):
            img = gaussian_blur(img, _uniform(gen, *c.blur_sigma))
        if _coin(gen, c.threshold_p):
            img = random_threshold(img, _uniform(gen, *c.threshold_percentile))
        return img.contiguous()

    def __call__(self, tile: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
        return [self._view(tile, gen), self._view(tile, gen)]


def _radio_ops(tile: torch.Tensor, gen: torch.Generator, c: SimCLRAugmentConfig) -> torch.Tensor:
    """The optional radio operations on the whole tile, before the crop: noise (beam in tile pixels), then rotation."""
    from radioexplore.ssl.augment_radio import add_noise, rotate  # augment_radio imports this module

    if _coin(gen, c.noise_p):
        frac, peak_frac = _uniform(gen, *c.noise_frac), _uniform(gen, *c.noise_clipped_peak_frac)
        tile = add_noise(tile, frac, gen, beam_sigma_px=c.noise_beam_px, clipped_peak_frac=peak_frac)
    if _coin(gen, c.rotate_p):
        tile = rotate(tile, _uniform(gen, 0.0, 360.0), gen, fill=c.rotate_fill)
    return tile
