"""Ripple evidence of a tile: a periodic pattern at 1-4 beams in the residual, as a detection significance.

Calibration errors on a bright source leave ripples round it whose period is a few beams
(Perley 1999, "High Dynamic Range Imaging", in Synthesis Imaging in Radio Astronomy II, ch. 13;
Grobler et al. 2014, MNRAS 439, 4030, on calibration artefacts): far from the source a tile sees
them as near-plane waves (and stripes across a mosaic, radial spokes, are plane waves too), whose
power sits in a few cells of the tile's power spectrum, even when their troughs stay above -5
sigma. Thermal noise, whatever its correlation (the beam, the uv weighting), is statistically
isotropic: at one spatial frequency ``|k|`` its periodogram cells are exponentially distributed
about their common mean. So, in the tile with its sources masked (pixels above the detection
threshold, grown by a beam, set to the mean), each cell's power at periods of ``1..4`` beams is
divided by the median power of its ``|k|`` annulus (over ln 2: the mean an exponential has); the
strongest such ratio ``R`` among the ``N`` cells of that band has false-alarm probability
``p = 1 - (1 - exp(-R))^N`` for noise (the periodogram peak test of Scargle 1982, ApJ 263, 835).
``ripple_sigma`` is ``p`` as a one-sided Gaussian significance, so a ripple counts against the
same 5 sigma convention as a trough: no threshold fitted to a survey. Rings centred in the tile
(power spread round a whole annulus) are the axis's ``ring_contrast``'s to find, not this one's.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, special

#: Periods of the ripple band, in beams (the calibration ripples of Perley 1999 and of the simulator's DQF 2-3 fields).
PERIOD_BEAMS = (1.0, 4.0)


def ripple_sigma(
    z: np.ndarray, beam_px: float, source_sigma: float = 5.0, period_beams: tuple[float, float] = PERIOD_BEAMS
) -> np.ndarray:
    """Significance (Gaussian sigma, >= 0) of the strongest plane-wave ripple of each tile ``z`` ``[T, S, S]``
    (pixels in units of the tile's noise, blanks 0) at periods ``period_beams`` beams of ``beam_px`` px.

    Pixels above ``source_sigma`` (emission), grown by one beam, are masked to the tile's mean before
    a Hann-tapered FFT; each cell of the band is compared with its ``|k|`` annulus's median (module
    docstring). 0 where the band holds no cell (a tile smaller than a few beams).
    """
    return ripple_peak(z, beam_px, source_sigma, period_beams)[0]


def ripple_peak(
    z: np.ndarray, beam_px: float, source_sigma: float = 5.0, period_beams: tuple[float, float] = PERIOD_BEAMS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`ripple_sigma` and where that ripple's cell lies: ``(sigma, wave_deg, k)``, the wave vector's
    direction in degrees (0..180, from +x towards +y in the pixel frame; the crests run across it) and its
    spatial frequency in cycles per px (NaN where the band holds no cell). Rings concentric on a bright
    source have, in a tile well away from it, a wave vector pointing at the source
    (:func:`radioexplore.ranking.artefacts._nearest_bright`)."""
    z = np.asarray(z, dtype=np.float32)
    t, ny, nx = z.shape
    if t == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    grow = max(1, int(round(beam_px)))
    emission = ndimage.maximum_filter(z, size=(1, 2 * grow + 1, 2 * grow + 1)) > source_sigma
    keep = ~emission
    n_keep = keep.sum(axis=(1, 2))
    mean = np.divide((z * keep).sum(axis=(1, 2)), n_keep, out=np.zeros(t), where=n_keep > 0)
    resid = np.where(keep, z - mean[:, None, None].astype(np.float32), np.float32(0.0))
    resid *= (np.hanning(ny)[:, None] * np.hanning(nx)[None, :]).astype(np.float32)
    power = np.abs(np.fft.rfft2(resid, axes=(1, 2))) ** 2
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(ky, kx)
    lo, hi = 1.0 / (period_beams[1] * beam_px), 1.0 / (period_beams[0] * beam_px)
    band = (k >= lo) & (k <= hi) & ~((kx == 0) & (ky < 0))  # the kx = 0 column holds each cell twice
    ring = np.floor(k * max(ny, nx)).astype(np.int64)
    cells = np.flatnonzero(band.ravel())
    if cells.size == 0:
        return np.zeros(t), np.full(t, np.nan), np.full(t, np.nan)
    flat = power.reshape(t, -1)[:, cells]
    ratio = np.empty_like(flat)
    rings = ring.ravel()[cells]
    for r in np.unique(rings):
        sel = rings == r
        med = np.median(flat[:, sel], axis=1) / np.log(2.0)
        ratio[:, sel] = np.divide(flat[:, sel], med[:, None], out=np.zeros_like(flat[:, sel]), where=med[:, None] > 0)
    peak = ratio.max(axis=1).astype(np.float64)
    at = cells[ratio.argmax(axis=1)]
    wave_y = np.broadcast_to(ky, k.shape).ravel()[at]
    wave_x = np.broadcast_to(kx, k.shape).ravel()[at]
    # p = 1 - (1 - e^-R)^N, computed as -expm1(N log1p(-e^-R)) so that tiny p keep their digits
    with np.errstate(divide="ignore"):  # a peak of 0 (a blank tile) gives log1p(-1) = -inf: p = 1
        p = -np.expm1(cells.size * np.log1p(-np.exp(-peak)))
    p = np.clip(p, 1e-300, 1.0)
    sigma = np.maximum(-special.ndtri(p), 0.0)
    return sigma, np.degrees(np.arctan2(wave_y, wave_x)) % 180.0, np.hypot(wave_y, wave_x)
