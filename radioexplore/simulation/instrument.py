"""What the telescope does to the sky: restoring beam, primary beam, thermal noise correlated on the beam scale.

A MeerKAT L-band image (Lastufka et al. 2024, seed 000, sec. 2.1) has a restoring beam of about
7.5-8 arcsec and 3-5 uJy/beam of noise at the pointing centre; after primary-beam correction the
noise rises towards the edge as 1/PB, and the image is blanked beyond a primary-beam cut-off.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS
from scipy import fft

#: FWHM of a Gaussian in units of its standard deviation, inverted.
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def field_wcs(ra: float, dec: float, size: int, pixel_arcsec: float) -> WCS:
    """A SIN-projected celestial WCS centred on (``ra``, ``dec``) degrees, ``size`` px square."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [size / 2.0 + 0.5, size / 2.0 + 0.5]
    w.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = "FK5"
    w.wcs.equinox = 2000.0
    return w


def primary_beam(size: int, fwhm_px: float) -> np.ndarray:
    """Gaussian primary-beam response on a ``size`` x ``size`` grid, 1 at the image centre (float32)."""
    c = (size - 1) / 2.0
    axis = np.exp(-4.0 * np.log(2.0) * (np.arange(size, dtype=np.float64) - c) ** 2 / fwhm_px**2)
    return np.outer(axis, axis).astype(np.float32)  # a circular Gaussian is separable


def primary_beam_at(x: np.ndarray, y: np.ndarray, size: int, fwhm_px: float) -> np.ndarray:
    """The same primary-beam response at 0-based pixel positions (x, y)."""
    c = (size - 1) / 2.0
    r2 = (np.asarray(x, float) - c) ** 2 + (np.asarray(y, float) - c) ** 2
    return np.exp(-4.0 * np.log(2.0) * r2 / fwhm_px**2)


def beam_kernel(bmaj_px: float, bmin_px: float, bpa_deg: float) -> np.ndarray:
    """Elliptical Gaussian restoring beam with peak 1, so a point source of S Jy peaks at S Jy/beam.

    ``bpa_deg`` is the position angle of the major axis, east of north, as in the BPA keyword.
    """
    half = int(np.ceil(3 * bmaj_px))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    theta = np.deg2rad(bpa_deg + 90.0)  # BPA is east of north; x points east-ish
    sx, sy = bmaj_px * FWHM_TO_SIGMA, bmin_px * FWHM_TO_SIGMA
    xr = xx * np.cos(theta) + yy * np.sin(theta)
    yr = -xx * np.sin(theta) + yy * np.cos(theta)
    return np.exp(-0.5 * ((xr / sx) ** 2 + (yr / sy) ** 2))


def beam_area_px(bmaj_px: float, bmin_px: float) -> float:
    """Beam solid angle in pixels, pi/(4 ln 2) bmaj bmin: Jy/beam = Jy/pixel x this for smooth emission."""
    return float(np.pi / (4.0 * np.log(2.0)) * bmaj_px * bmin_px)


def _beam_transfer(shape: tuple[int, int], bmaj_px: float, bmin_px: float, bpa_deg: float) -> np.ndarray:
    """Fourier transform of the peak-1 beam on an ``rfft2`` grid of ``shape`` (analytic, no ringing)."""
    fy = fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    theta = np.deg2rad(bpa_deg + 90.0)
    sx, sy = bmaj_px * FWHM_TO_SIGMA, bmin_px * FWHM_TO_SIGMA
    fu = (fx * np.float32(np.cos(theta)) + fy * np.float32(np.sin(theta))) * np.float32(sx)
    fv = (fy * np.float32(np.cos(theta)) - fx * np.float32(np.sin(theta))) * np.float32(sy)
    norm = np.float32(2.0 * np.pi * sx * sy)  # the kernel's sum, since its peak is 1
    return norm * np.exp(np.float32(-2.0 * np.pi**2) * (fu * fu + fv * fv))


def white_noise_scale(bmaj_px: float, bmin_px: float) -> float:
    """Rms of white unit noise after convolution with the peak-1 beam: sqrt(sum k^2) = sqrt(pi sx sy)."""
    return float(np.sqrt(np.pi * bmaj_px * bmin_px) * FWHM_TO_SIGMA)


def convolve_beam(
    sky: np.ndarray,
    bmaj_px: float,
    bmin_px: float,
    bpa_deg: float,
    rng: np.random.Generator | None = None,
    noise_rms: float = 0.0,
) -> np.ndarray:
    """Convolve a Jy/pixel sky with the peak-1 restoring beam, giving Jy/beam (float32).

    With ``rng`` and ``noise_rms``, white noise scaled so that it has rms ``noise_rms`` after the
    convolution is added first: noise correlated on the beam scale, as in an interferometric image
    (the dirty-beam-convolved thermal noise, whose correlation length is the beam's), for the
    price of one FFT pair. The sky is zero-padded by three beam widths so that sources near one
    edge do not wrap round to the other.
    """
    ny, nx = sky.shape
    pad = int(np.ceil(3 * bmaj_px))
    shape = (fft.next_fast_len(ny + pad, real=True), fft.next_fast_len(nx + pad, real=True))
    plane = np.zeros(shape, dtype=np.float32)
    plane[:ny, :nx] = sky
    if rng is not None and noise_rms > 0:
        white = rng.standard_normal(shape, dtype=np.float32)
        white *= np.float32(noise_rms / white_noise_scale(bmaj_px, bmin_px))
        plane += white
        del white
    spec = fft.rfft2(plane)
    del plane
    spec *= _beam_transfer(shape, bmaj_px, bmin_px, bpa_deg)
    return fft.irfft2(spec, s=shape)[:ny, :nx].astype(np.float32)


def correlated_noise(
    rng: np.random.Generator, shape: tuple[int, int], bmaj_px: float, bmin_px: float, bpa_deg: float
) -> np.ndarray:
    """Gaussian noise with the restoring beam's correlation length and unit rms (float32)."""
    return convolve_beam(np.zeros(shape, np.float32), bmaj_px, bmin_px, bpa_deg, rng=rng, noise_rms=1.0)
