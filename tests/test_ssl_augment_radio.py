"""Any-angle rotation and noise injection for BYOL / SimCLR views (radioexplore.ssl.augment_radio)."""

from __future__ import annotations

import math

import pytest
import torch

from radioexplore.ssl.augment import SimCLRAugmentConfig, SimCLRViews
from radioexplore.ssl.augment_radio import add_noise, background, beam_noise, rotate


def _blob(n: int = 64, x0: float | None = None, y0: float | None = None, sigma: float = 3.0) -> torch.Tensor:
    """A Gaussian source of peak 1 at pixel (x0, y0) (image centre by default), shape [1, n, n]."""
    c = (n - 1) / 2
    x0 = c if x0 is None else x0
    y0 = c if y0 is None else y0
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32), indexing="ij")
    return torch.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))[None]


def _centroid(img: torch.Tensor) -> tuple[float, float]:
    n = img.shape[-1]
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32), indexing="ij")
    w = img[0]
    return float((w * x).sum() / w.sum()), float((w * y).sum() / w.sum())


@pytest.mark.parametrize("angle", [17.0, 45.0, 133.0, 290.0])
def test_rotation_keeps_flux_and_the_centre(angle: float) -> None:
    img = _blob()
    out = rotate(img, angle, torch.Generator().manual_seed(0), fill="zero")
    assert out.shape == img.shape
    assert float(out.sum()) == pytest.approx(float(img.sum()), rel=0.02)
    cx, cy = _centroid(out)
    assert cx == pytest.approx(31.5, abs=0.05) and cy == pytest.approx(31.5, abs=0.05)
    assert float(out.max()) > 0.9  # bilinear smoothing of a 3 px source stays small


def test_rotation_moves_an_off_centre_source_by_the_angle() -> None:
    n, c, r = 64, 31.5, 12.0
    img = _blob(n, x0=c + r, y0=c)
    out = rotate(img, 90.0, fill="zero")
    cx, cy = _centroid(out)
    # counter-clockwise on screen with rows going down: +x goes to -y
    assert cx == pytest.approx(c, abs=0.1) and cy == pytest.approx(c - r, abs=0.1)
    assert float(out.sum()) == pytest.approx(float(img.sum()), rel=0.01)
    assert torch.allclose(out, torch.rot90(img, 1, dims=(-2, -1)), atol=1e-4)


def test_rotation_fills_corners_with_background_or_crops_inside() -> None:
    gen = torch.Generator().manual_seed(1)
    img = (0.3 + 0.02 * torch.randn(1, 64, 64, generator=gen)).clamp(0, 1)
    med, rms = background(img)
    out = rotate(img, 45.0, gen, fill="background")
    corner = out[0, :8, :8]
    assert float(corner.mean()) == pytest.approx(float(med), abs=0.01)
    assert float(corner.std()) == pytest.approx(float(rms), rel=0.3)
    zero = rotate(img, 45.0, fill="zero")
    assert float(zero[0, 0, 0]) == 0.0
    cropped = rotate(img, 45.0, fill="crop")
    side = math.floor(64 / math.sqrt(2))
    assert cropped.shape == (1, side, side)
    assert float(cropped.min()) > 0.1  # nothing from outside the original square


def test_rotation_is_deterministic_under_a_seed() -> None:
    img = (_blob() + 0.05 * torch.rand(1, 64, 64, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    a = rotate(img, 33.0, torch.Generator().manual_seed(7))
    b = rotate(img, 33.0, torch.Generator().manual_seed(7))
    c = rotate(img, 33.0, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("beam", [0.0, 1.3, 2.5])
def test_noise_has_the_asked_rms(beam: float) -> None:
    gen = torch.Generator().manual_seed(0)
    base = (0.5 + 0.01 * torch.randn(1, 256, 256, generator=gen)).clamp(0, 1)
    _, rms = background(base)
    out = add_noise(base, 2.0, torch.Generator().manual_seed(1), beam_sigma_px=beam)
    added = (out - base)[0, 16:-16, 16:-16]  # away from the blur's reflected edges
    assert float(added.std()) == pytest.approx(2.0 * float(rms), rel=0.1)
    assert abs(float(added.mean())) < 0.1 * float(rms) * 2.0 + 0.003
    raw = beam_noise((1, 256, 256), 0.07, torch.Generator().manual_seed(2), beam)[0, 16:-16, 16:-16]
    assert float(raw.std()) == pytest.approx(0.07, rel=0.1)


def test_noise_on_a_clipped_stamp_uses_the_peak_and_clips_again() -> None:
    img = _blob(128, sigma=8.0)
    img = torch.where(img < 0.05, torch.zeros_like(img), img)  # background clipped to 0, as FR-DEEP
    assert float(background(img)[1]) == 0.0
    out = add_noise(img, 1.0, torch.Generator().manual_seed(0), clipped_peak_frac=0.04, reclip_sigma=3.0)
    sigma = 0.04 * float(img.max())  # the added rms: a fraction of the peak above the clipped level
    kept = out[out > 0]
    assert float(kept.min()) >= 3 * sigma - 1e-6  # everything under 3 x the added rms was clipped
    # the empty background stays empty but for the Gaussian tail over 3 sigma (0.13% of pixels)
    assert float((out[0, :30, :] > 0).float().mean()) < 0.006
    core = (out - img)[0, 54:74, 54:74]
    assert float(core.std()) == pytest.approx(sigma, rel=0.25)


def test_noise_is_deterministic_under_a_seed() -> None:
    img = (0.4 + 0.02 * torch.randn(1, 48, 48, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    a = add_noise(img, 1.0, torch.Generator().manual_seed(9), beam_sigma_px=1.3)
    b = add_noise(img, 1.0, torch.Generator().manual_seed(9), beam_sigma_px=1.3)
    assert torch.equal(a, b) and not torch.equal(a, img)


def test_views_default_off_and_deterministic_when_on() -> None:
    tile = _blob(64, x0=40, y0=25)
    off = SimCLRAugmentConfig(out_px=32)
    assert off.rotate_p == 0.0 and off.noise_p == 0.0  # older recipes keep their views
    on = SimCLRAugmentConfig(out_px=32, rotate_p=1.0, noise_p=1.0, noise_beam_px=1.3)
    va = SimCLRViews(on)(tile, torch.Generator().manual_seed(4))
    vb = SimCLRViews(on)(tile, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(va, vb, strict=True))
    assert all(v.shape == (1, 32, 32) and float(v.min()) >= 0 and float(v.max()) <= 1 for v in va)
    vo = SimCLRViews(off)(tile, torch.Generator().manual_seed(4))
    assert not torch.equal(vo[0], va[0])


def test_rotate_names_a_bad_fill() -> None:
    with pytest.raises(ValueError, match="fill"):
        rotate(_blob(), 10.0, fill="mirror")
