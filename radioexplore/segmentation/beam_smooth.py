"""An S/N map smoothed by a Gaussian of the beam's FWHM, blank pixels as 0: the matched filter for emission
on the beam's scale, which the region options (pattern_cut, edge_snap, arc_join) read their contours on."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

#: FWHM over the standard deviation of a Gaussian.
FWHM_PER_SIGMA = float(np.sqrt(8.0 * np.log(2.0)))


def beam_smoothed(snr: np.ndarray, fwhm_px: float) -> np.ndarray:
    """``snr`` (NaN where blank) smoothed by a Gaussian of ``fwhm_px`` FWHM, blank pixels counted as 0;
    the dtype of ``snr`` is kept."""
    return gaussian_filter(np.where(np.isfinite(snr), snr, 0.0), fwhm_px / FWHM_PER_SIGMA)
