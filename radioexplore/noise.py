"""Robust noise estimates of radio images, in the image's own units (usually Jy/beam)."""

from __future__ import annotations

import numpy as np
from astropy.stats import sigma_clipped_stats

#: Scale from the median absolute deviation to the standard deviation of a Gaussian.
MAD_TO_SIGMA = 1.482602218505602


def mad_rms(values: np.ndarray) -> float:
    """Robust rms from the median absolute deviation of the finite values; NaN if there are none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    med = np.median(v)
    return float(MAD_TO_SIGMA * np.median(np.abs(v - med)))


def clipped_rms(values: np.ndarray, sigma: float = 3.0, maxiters: int = 5) -> float:
    """Standard deviation after iterative sigma clipping of the finite values; NaN if there are none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    _, _, std = sigma_clipped_stats(v, sigma=sigma, maxiters=maxiters)
    return float(std)


NOISE_ESTIMATORS = {"mad": mad_rms, "sigma_clip": clipped_rms}


def robust_rms(values: np.ndarray, method: str = "mad") -> float:
    """Noise rms by the named estimator (``mad`` or ``sigma_clip``)."""
    try:
        return NOISE_ESTIMATORS[method](values)
    except KeyError:
        raise ValueError(f"unknown noise estimator {method!r}; choose one of {sorted(NOISE_ESTIMATORS)}") from None
