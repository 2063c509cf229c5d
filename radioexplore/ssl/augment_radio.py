"""Radio-specific view operations: rotation by any angle and survey-like noise injection.

The sky has no preferred orientation at any angle, not only in quarter turns: Slijepcevic et al.
(2022, cited by seed 000, sec. 3.2) found rotation the second most useful augmentation for BYOL on
FIRST radio galaxies, and seed 000 found rotation + power-law scaling the best pair. Surveys also
differ in noise level and beam; seed 003 (sec. 6.1.1, Table 3) adds pixelwise Gaussian noise to its
views. Both operations act on one ``[C, H, W]`` tile in [0, 1] and draw from an explicit
``torch.Generator`` so a view is a function of (seed, epoch, tile), as in ``augment.py``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from radioexplore.ssl.augment import gaussian_blur

MAD_TO_SIGMA = 1.4826  # a Gaussian's standard deviation per median absolute deviation


def background(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel robust background level (median) and rms (1.4826 x MAD), each of shape ``[C]``.

    A stamp whose background was clipped to a constant (FR-DEEP, the public FIRST collections:
    noise set to 0 under 3 sigma) has rms 0 here.
    """
    flat = img.reshape(img.shape[0], -1).float()
    med = flat.median(dim=1).values
    mad = (flat - med[:, None]).abs().median(dim=1).values
    return med.to(img.dtype), (MAD_TO_SIGMA * mad).to(img.dtype)


def rotate(
    img: torch.Tensor, angle_deg: float, gen: torch.Generator | None = None, fill: str = "background"
) -> torch.Tensor:
    """Rotate ``[C, H, W]`` by ``angle_deg`` (counter-clockwise) about its centre, bilinear.

    ``fill="background"`` fills the corners that come from outside the image with the image's
    robust background plus Gaussian noise of its robust rms (drawn from ``gen``; 0 on a clipped
    stamp); ``"zero"`` fills them with 0; ``"crop"`` returns the largest centred square that lies
    inside the rotated image (side ``H / (|cos| + |sin|)``), so no corner is invented.
    """
    if fill not in ("background", "zero", "crop"):
        raise ValueError(f"rotate: fill={fill!r}; use 'background', 'zero' or 'crop'")
    if angle_deg % 360 == 0:
        return img
    c, h, w = img.shape
    t = math.radians(angle_deg)
    cos, sin = math.cos(t), math.sin(t)
    # affine_grid maps output to input coordinates in [-1, 1]; with a square image this is the inverse
    # rotation, and y points down in image rows, so a counter-clockwise turn on screen uses -sin here.
    theta = torch.tensor([[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]], dtype=torch.float32)[None]
    grid = F.affine_grid(theta, [1, c, h, w], align_corners=False)
    src = img[None].float()
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    if fill == "crop":
        side = max(1, int(math.floor(min(h, w) / (abs(cos) + abs(sin)))))
        top, left = (h - side) // 2, (w - side) // 2
        return out[:, top : top + side, left : left + side].to(img.dtype)
    if fill == "background":
        inside = F.grid_sample(
            torch.ones(1, 1, h, w), grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )[0]
        med, rms = background(img)
        noise = torch.randn(c, h, w, generator=gen) if gen is not None else torch.randn(c, h, w)
        fill_img = med.float().view(-1, 1, 1) + rms.float().view(-1, 1, 1) * noise
        out = out + (1.0 - inside) * fill_img
    return out.clamp_(0.0, 1.0).to(img.dtype)


def beam_noise(
    shape: tuple[int, int, int], sigma: float, gen: torch.Generator, beam_sigma_px: float = 0.0
) -> torch.Tensor:
    """Gaussian noise of rms ``sigma``, correlated over a Gaussian beam of ``beam_sigma_px`` when > 0.

    Smoothing white noise lowers its rms; the smoothed field is rescaled so its expected rms is
    still ``sigma`` (1 / (2 sqrt(pi) beam_sigma) is the rms of unit white noise after the blur).
    """
    noise = torch.randn(shape, generator=gen)
    if beam_sigma_px > 0:
        noise = gaussian_blur(noise, beam_sigma_px)
        noise = noise * (2.0 * math.sqrt(math.pi) * beam_sigma_px)
    return noise * sigma


def add_noise(
    img: torch.Tensor,
    frac: float,
    gen: torch.Generator,
    beam_sigma_px: float = 0.0,
    clipped_peak_frac: float = 0.0,
    reclip_sigma: float = 3.0,
) -> torch.Tensor:
    """Add Gaussian noise of rms ``frac`` x the image's robust rms (per channel), as a noisier survey would.

    On a stamp whose background was clipped to a constant (rms 0) the noise rms is instead
    ``clipped_peak_frac`` x the channel's peak above that constant, and pixels that end under
    ``reclip_sigma`` x the added rms are set back to the constant, as the stamp was prepared:
    a survey that much noisier would have lost that faint emission. Clamped to [0, 1].
    """
    med, rms = background(img)
    peak = img.reshape(img.shape[0], -1).amax(dim=1)
    clipped = rms <= 0
    sigma = torch.where(clipped, clipped_peak_frac * (peak - med), frac * rms).float()
    out = img.float() + beam_noise(tuple(img.shape), 1.0, gen, beam_sigma_px) * sigma.view(-1, 1, 1)
    if bool(clipped.any()) and reclip_sigma > 0:
        level = (med.float() + reclip_sigma * sigma).view(-1, 1, 1)
        floor = med.float().view(-1, 1, 1).expand_as(out)
        out = torch.where(clipped.view(-1, 1, 1) & (out < level), floor, out)
    return out.clamp_(0.0, 1.0).to(img.dtype)
