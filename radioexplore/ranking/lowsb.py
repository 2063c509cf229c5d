"""Low-surface-brightness islands: emission spread over many beams, found on the image smoothed to a few beams.

Odd radio circles are faint, limb-brightened shells seen at a few sigma per beam (Norris et al. 2021,
PASA 38, e003, ASKAP EMU): a smooth ring of 2 sigma per beam never makes a 3 sigma island with a 5 sigma
peak at full resolution, although its total signal is many sigma. Smoothing the image with a Gaussian
to ``k`` beam FWHM is the matched filter for emission on that scale: the noise falls about k-fold, the
surface brightness of emission wider than k beams stays, so its S/N rises, while a point source's peak
S/N falls; radio source finders look for extended emission the same way on smoothed or wavelet scales
(Rudnick 2002, PASP 114, 427: multi-resolution filtering; PyBDSF's a-trous wavelet module, Mohan &
Rafferty 2015). The smoothed noise is beam-correlated and is measured on the smoothed image itself,
from its negative side (sky emission is positive: :func:`radioexplore.ranking.local_noise.negative_noise_map`),
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


#: A low-resolution island is radial to a bright source when its extent along the radius from that
#: source is at least this many times its extent across (a spoke is a line pointing at its source).
RADIAL_ELONGATION = 2.0


def source_annulus_ratio(
    low: np.ndarray,
    low_snr: np.ndarray,
    island: np.ndarray,
    sources: list[tuple[float, float]],
    trough_sigma: float,
    radial: bool = True,
) -> float:
    """The strongest evidence that an island of the smoothed image is a radial spoke of a bright source.

    A calibration error of one bright source is about zero-mean round that source at each radius
    (Perley 1999; Taylor et al. 1999, ch. 15); its rings average out on a few-beam Gaussian, its radial
    spokes do not, and a positive spoke's negative twins lie tens of beams away round the circle, beyond
    any box round the island. So for each source ``(x, y)`` the island is radial to (its extent along the
    radius at least :data:`RADIAL_ELONGATION` times its extent across, 10th-90th percentiles of its
    pixels' distance and position angle), the significant troughs (``low_snr`` below ``-trough_sigma``)
    in the annulus its pixels span over the island's own smoothed flux; the largest over the sources
    (0 for none). With ``radial`` False every source counts, whatever the island's direction (any error
    pattern of the source at that distance). Read as :data:`radioexplore.ranking.objects.NEGATIVE_RATIO`.
    """
    own = float(np.nansum(low[island]))
    if own <= 0 or not sources:
        return 0.0
    ys, xs = np.nonzero(island)
    best = 0.0
    trough = None
    for bx, by in sources:
        d = np.hypot(xs - bx, ys - by)
        r0, r1 = np.percentile(d, [10, 90])
        angle = np.arctan2(ys - by, xs - bx)
        centre = np.angle(np.exp(1j * angle).mean())
        turn = np.angle(np.exp(1j * (angle - centre)))  # unwrapped about the island's mean direction
        a0, a1 = np.percentile(turn, [10, 90])
        if radial and r1 - r0 < RADIAL_ELONGATION * np.median(d) * (a1 - a0):
            continue
        if trough is None:
            trough = (low_snr < -trough_sigma) & ~island
            ty, tx = np.nonzero(trough)
            tv = low[ty, tx]
        td = np.hypot(tx - bx, ty - by)
        best = max(best, float(-tv[(td >= r0) & (td <= r1)].sum()) / own)
    return best
