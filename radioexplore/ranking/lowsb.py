"""Low-surface-brightness islands: emission spread over many beams, found on the image smoothed to a few beams.

Odd radio circles and faint lobes were found at a few sigma per beam (Norris et al. 2021, ASKAP
EMU): a smooth ring of 2 sigma per beam over 30 beams never makes a 3 sigma island with a 5 sigma
peak at full resolution, although its total signal is many sigma. Smoothing the image with a
Gaussian to ``k`` beam FWHM is the matched filter for emission on that scale: the noise of the
smoothed image falls about as the number of beams averaged (k^2), emission wider than k beams keeps
its surface brightness, so its S/N rises about k-fold, while a point source's peak S/N falls (Rudnick
2002 smoothed radio images to find diffuse emission; Norris et al. 2021 searched EMU at reduced
resolution). The smoothed noise is beam-correlated and is measured on the smoothed image itself, from
its negative side (sky emission is positive: :func:`radioexplore.ranking.local_noise.negative_noise_map`),
not scaled by a formula. An island found there at the same 3 / 5 sigma (PyBDSF's thresholds) is kept
when most of its smoothed flux is not the smoothed flux of full-resolution islands: the faint extended
emission no full-resolution island explains. A calibration ripple (6-10 px period, alternating in sign)
averages out on a few-beam Gaussian, its troughs with its crests.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Gaussian FWHM over sigma.
FWHM_TO_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def smooth_to_beams(image: np.ndarray, fwhm_px: float, beams: float) -> np.ndarray:
    """``image`` (NaN where blanked) convolved with the Gaussian that takes a beam of ``fwhm_px`` to
    ``beams`` times its FWHM (kernel FWHM ``fwhm_px * sqrt(beams^2 - 1)``, unit sum: surface
    brightness kept); blanked pixels stay NaN and do not leak in (normalised convolution)."""
    if beams <= 1:
        raise ValueError(f"smooth_to_beams: beams must exceed 1 (the image's own beam), not {beams}")
    sigma = fwhm_px * np.sqrt(beams**2 - 1.0) / FWHM_TO_SIGMA
    finite = np.isfinite(image)
    filled = np.where(finite, image, 0.0).astype(np.float32)
    out = ndimage.gaussian_filter(filled, sigma, mode="constant", truncate=3.0)
    if not finite.all():
        weight = ndimage.gaussian_filter(finite.astype(np.float32), sigma, mode="constant", truncate=3.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(finite & (weight > 0.5), out / weight, np.nan)
    else:  # edges: the constant-0 border would dim them; normalise by the kernel's weight inside
        weight = ndimage.gaussian_filter(np.ones_like(filled), sigma, mode="constant", truncate=3.0)
        out = out / weight
    return out.astype(np.float32)


def explained_fraction(smoothed: np.ndarray, explained: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Per island ``1..n`` of ``labels``: the share of its smoothed flux (sum of ``smoothed``) that the
    smoothed full-resolution islands (``explained``) account for, clipped to [0, 1]."""
    idx = np.arange(1, n + 1)
    total = np.asarray(ndimage.sum(np.nan_to_num(smoothed), labels, idx), dtype=np.float64)
    part = np.asarray(ndimage.sum(np.nan_to_num(explained), labels, idx), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, part / total, 1.0)
    return np.clip(share, 0.0, 1.0)
