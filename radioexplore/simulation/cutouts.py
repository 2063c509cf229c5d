"""Simulated FR I / FR II postage stamps in the two forms astronomers meet them.

*Raw* cutouts as an image archive serves them (FIRST-like by default: 1.8 arcsec pixels, a
5 arcsec beam, ~0.15 mJy/beam of noise correlated on the beam, Jy/beam, a TAN WCS, unrelated
compact sources, NaN borders on some where the cutout leaves the survey), and *clean* stamps as
the labelled collections ship them (FR-DEEP, Tang et al. 2019): the central part of the same
image, pixels below 3 sigma of the sigma-clipped background set to 0, min-max scaled to 8-bit PNG.
Both hold the same objects, so a probe on either measures what the preparation of the stamps
costs. Used by the acceptance test of raw stamps and by ``benchmarks/stamps_scaling.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS

from radioexplore.simulation.instrument import convolve_beam
from radioexplore.simulation.morphology import fr1, fr2
from radioexplore.simulation.sky import add_points

FR_KINDS = {"FRI": fr1, "FRII": fr2}


@dataclass(frozen=True)
class CutoutConfig:
    """What the simulated cutouts look like (defaults: FIRST)."""

    raw_px: int = 300  # the archive's cutout (FIRST's cutout server: 9 arcmin at 1.8 arcsec/px)
    clean_px: int = 150  # the collection's stamp: the central part (FR-DEEP: 150 px)
    pixel_arcsec: float = 1.8
    beam_arcsec: float = 5.0
    noise_jy: float = 1.5e-4
    size_px: tuple[float, float] = (40.0, 130.0)  # object's largest extent, pixels (fits the clean stamp)
    flux_mjy: tuple[float, float] = (15.0, 300.0)  # total flux density, log-uniform
    field_sources: float = 2.0  # mean number of unrelated compact sources per raw cutout
    nan_fraction: float = 0.3  # share of cutouts with a NaN border (the survey's edge)
    clip_sigma: float = 3.0  # the clean stamps' threshold, as FR-DEEP's


def raw_cutout(kind: str, rng: np.random.Generator, config: CutoutConfig = CutoutConfig()) -> np.ndarray:
    """One raw cutout (Jy/beam, float32, row 0 at the bottom) with an object of ``kind`` near its centre."""
    n = config.raw_px
    sky = np.zeros((n, n), np.float64)
    beam_px = config.beam_arcsec / config.pixel_arcsec
    c = (n - 1) / 2.0 + rng.normal(0, 1.5, 2)
    size = float(rng.uniform(*config.size_px))
    flux = float(10 ** rng.uniform(*np.log10(config.flux_mjy))) * 1e-3
    FR_KINDS[kind](sky, rng, c[0], c[1], size, flux, beam_px)
    k = rng.poisson(config.field_sources)
    add_points(sky, rng.uniform(0, n - 1, k), rng.uniform(0, n - 1, k), 10 ** rng.uniform(-3, -2, k))
    image = convolve_beam(sky, beam_px, beam_px, 0.0, rng=rng, noise_rms=config.noise_jy)
    if rng.random() < config.nan_fraction:  # blank beyond the survey's edge: one or two sides
        for _ in range(rng.integers(1, 3)):
            width = int(rng.integers(n // 15, n // 4))
            side = rng.integers(4)
            if side == 0:
                image[:width] = np.nan
            elif side == 1:
                image[-width:] = np.nan
            elif side == 2:
                image[:, :width] = np.nan
            else:
                image[:, -width:] = np.nan
    return image


def clean_stamp(raw: np.ndarray, config: CutoutConfig = CutoutConfig()) -> np.ndarray:
    """FR-DEEP's preparation of ``raw``: the central ``clean_px`` square, below ``clip_sigma`` x the
    sigma-clipped background set to 0, the rest min-max scaled to 0..255 (uint8)."""
    n, m = raw.shape[0], config.clean_px
    a = (n - m) // 2
    crop = np.nan_to_num(raw[a : a + m, a : a + m], nan=-np.inf)
    finite = raw[np.isfinite(raw)]
    _, median, std = sigma_clipped_stats(finite, sigma=3.0, maxiters=10)
    lo = median + config.clip_sigma * std
    hi = max(float(crop.max()), lo + std)
    out = np.clip((crop - lo) / (hi - lo), 0.0, 1.0)
    return np.round(out * 255).astype(np.uint8)


def cutout_header(ra: float, dec: float, config: CutoutConfig = CutoutConfig()) -> fits.Header:
    """A FITS header with a TAN WCS centred on (``ra``, ``dec``), the beam and BUNIT JY/BEAM."""
    n = config.raw_px
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [n / 2.0 + 0.5, n / 2.0 + 0.5]
    w.wcs.cdelt = [-config.pixel_arcsec / 3600.0, config.pixel_arcsec / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    header = w.to_header()
    header["BUNIT"] = "JY/BEAM"
    header["BMAJ"] = header["BMIN"] = config.beam_arcsec / 3600.0
    header["BPA"] = 0.0
    return header


def write_fr_collection(
    folder: str | Path, n_per_class: int, seed: int = 0, config: CutoutConfig = CutoutConfig()
) -> dict[str, Path]:
    """Write ``n_per_class`` FR I and FR II objects as raw FITS cutouts (``folder/raw/``) and as clean
    PNG stamps (``folder/clean/``), with one labels table ``folder/labels.csv`` (``file,label``, by
    stem) for both. Returns the paths of the two folders and the table."""
    from PIL import Image

    folder = Path(folder)
    raw_dir, clean_dir = folder / "raw", folder / "clean"
    raw_dir.mkdir(parents=True, exist_ok=True)
    clean_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = ["file,label"]
    for i in range(2 * n_per_class):
        label = ("FRI", "FRII")[i % 2]
        name = f"src{i:04d}"
        image = raw_cutout(label, rng, config)
        ra, dec = float(rng.uniform(0, 360)), float(np.rad2deg(np.arcsin(rng.uniform(-0.3, 0.9))))
        fits.PrimaryHDU(image, cutout_header(ra, dec, config)).writeto(raw_dir / f"{name}.fits", overwrite=True)
        Image.fromarray(clean_stamp(image, config)[::-1]).save(clean_dir / f"{name}.png")  # PNG row 0 is the top
        rows.append(f"{name},{label}")
    labels = folder / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return {"raw": raw_dir, "clean": clean_dir, "labels": labels}
