"""Pieces of the small skies the object tests draw: beam-correlated noise, elliptical Gaussians, and the
object nearest a position."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage


def beam_noise(rng: np.random.Generator, size: int, fwhm: float, rms: float = 1.0) -> np.ndarray:
    """White noise smoothed by a Gaussian beam of ``fwhm`` px, scaled to standard deviation ``rms``."""
    noise = ndimage.gaussian_filter(rng.normal(size=(size, size)), fwhm / 2.3548)
    return noise / noise.std() * rms


def blob(xx, yy, x, y, amp, smaj, smin, pa):
    """An elliptical Gaussian of peak ``amp`` at ``(x, y)``, sigmas ``smaj`` / ``smin`` px, major axis at ``pa`` rad."""
    u = (xx - x) * np.cos(pa) + (yy - y) * np.sin(pa)
    v = -(xx - x) * np.sin(pa) + (yy - y) * np.cos(pa)
    return amp * np.exp(-0.5 * ((u / smaj) ** 2 + (v / smin) ** 2))


def row_at(table: pd.DataFrame, x: float, y: float) -> int:
    """Row position of the object whose centroid lies nearest ``(x, y)`` (asserted within 6 px)."""
    d = np.hypot(table["x"] - x, table["y"] - y).to_numpy()
    assert d.min() < 6, (x, y, d.min())
    return int(np.argmin(d))


def write_field(path, image: np.ndarray, fwhm: float, pix_arcsec: float = 1.5) -> None:
    """``image`` as a FITS field: a SIN WCS with its reference pixel at the centre of 512 px, pixels of
    ``pix_arcsec`` and a round beam of ``fwhm`` px in BMAJ / BMIN (Jy/beam), as `segment` reads a field."""
    from astropy.io import fits

    header = fits.Header()
    pix = pix_arcsec / 3600
    header.update(
        CTYPE1="RA---SIN", CTYPE2="DEC--SIN", CRPIX1=256.5, CRPIX2=256.5, CRVAL1=150.0, CRVAL2=2.0,
        CDELT1=-pix, CDELT2=pix, BMAJ=fwhm * pix, BMIN=fwhm * pix, BPA=0.0, BUNIT="JY/BEAM",
    )  # fmt: skip
    fits.writeto(path, image, header)
