"""Cut a bright source's error pattern off the regions of a probability map, pixel by pixel.

A bright source's residual calibration errors leave a pattern centred on it whose positive and negative lobes
have comparable amplitude (Taylor, Carilli & Perley 1999, "Synthesis Imaging in Radio Astronomy II", ch. 15):
radial spokes alternate in sign round the source (a positive spoke lies midway between two negative ones; an odd
number of spoke pairs is antisymmetric, its point mirror negative), and rings alternate in sign with radius. The
network sometimes joins a relic or a halo to such a positive lobe (benchmarks/README.md, issue 22, "Relics lost to
the sidelobe test"), so a keep-or-drop test per region trades truth for as many false pixels. Here each pixel is
compared with the pattern's amplitude read on its negative side. Round each bright source the image, smoothed to
the beam, is resampled on a polar grid; a cell is the pattern's when two cells flank it symmetrically, both more
than PATTERN_SIGMA x the noise below zero (the pattern is there: white noise gets a pair there with odds of ~1e-6),
and the cell's own S/N is not above the flanks' mean depth by more than PATTERN_SIGMA x the noise of a difference
of two cells. Flanks of spokes lie at the same radius and azimuths ``theta +- delta`` (any delta up to pi, the
point mirror), judged on the grid averaged along the radius over SPOKE_RUN_BEAMS beams (a spoke runs radially, so
the averaging lowers the noise without diluting it; its noise is measured on that grid); flanks of rings lie at the
same azimuth and radii ``r +- rho``, half a beam to RING_FLANK_BEAMS beams. The pixels so found are closed over a
beam (the pattern is smooth on that scale, the per-pixel decision is not). Emission of the sky either outshines
the pattern it lies on or lies where the pattern's flanks are not negative. The noise is measured, the margins are
the region tests' 3 sigma; the averaging and the closing were chosen on calibration skies 300-302 among 0 / 4
beams and 0 / 1 beam (benchmarks/README.md, issue 22, branch relic-cut).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_closing, map_coordinates, uniform_filter1d

from radioexplore.ingest.noise import mad_rms
from radioexplore.segmentation.beam_smooth import beam_smoothed

#: Pixels this many times the smoothed map's noise below zero count as the pattern's negative lobes (regions.py).
PATTERN_SIGMA = 3.0
#: Azimuthal sampling of the polar grid round a source (2 degrees: about a beam at 30 beams from the source).
N_AZIMUTH = 180
#: Radial flanks for rings: half a beam to this many beam FWHMs on either side.
RING_FLANK_BEAMS = 2.5
#: Pixels nearer a source than this many FWHMs are the source itself and never cut.
SOURCE_RADIUS_BEAMS = 2.0
#: Spokes are judged on the polar grid averaged along the radius over this many beam FWHMs (0: not averaged).
SPOKE_RUN_BEAMS = 4.0
#: The cut is closed over a disc of this diameter in beam FWHMs (the pattern is smooth on the beam's scale; 0: off).
CLOSE_BEAMS = 1.0


def smoothed_snr(snr: np.ndarray, fwhm_px: float) -> tuple[np.ndarray, float]:
    """The S/N map smoothed by a Gaussian of the beam's FWHM (NaN as 0), and its noise: 1.4826 x the median
    absolute deviation of the imaged pixels (robust against the sources and the pattern)."""
    smooth = beam_smoothed(np.asarray(snr, dtype=np.float32), fwhm_px)
    return smooth, _mad_sigma(smooth[np.isfinite(snr)])


def _mad_sigma(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite ``values`` (1 when none or zero)."""
    sigma = mad_rms(values)
    return sigma if sigma > 0 else 1.0  # NaN (no finite value) is not > 0


def _explained_on_polar(polar: np.ndarray, sigma: float, azimuthal: bool, fwhm_px: float) -> np.ndarray:
    """Per polar cell: whether its value is explained by two symmetric flanks that are both below -PATTERN_SIGMA x
    ``sigma`` (the pattern is there) and whose mean depth it does not exceed by PATTERN_SIGMA x ``sigma`` x sqrt 2.
    Flanks at the same radius (``azimuthal``: every offset up to pi) or at the same azimuth (half a beam to
    RING_FLANK_BEAMS beams)."""
    depth = np.where(np.isfinite(polar), -polar, -np.inf)
    gate, margin = PATTERN_SIGMA * sigma, PATTERN_SIGMA * sigma * np.sqrt(2.0)
    value = np.where(np.isfinite(polar), polar, np.inf)
    out = np.zeros(polar.shape, bool)

    def judge(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (np.minimum(a, b) > gate) & (v <= (a + b) / 2 + margin)

    if azimuthal:
        for d in range(1, N_AZIMUTH // 2 + 1):
            out |= judge(np.roll(depth, d, axis=1), np.roll(depth, -d, axis=1), value)
        return out
    for rho in range(max(int(0.5 * fwhm_px), 1), int(RING_FLANK_BEAMS * fwhm_px) + 1):
        if 2 * rho >= depth.shape[0]:
            break
        out[rho:-rho] |= judge(depth[: -2 * rho], depth[2 * rho :], value[rho:-rho])
    return out


def polar_explained(smooth: np.ndarray, sigma: float, x0: float, y0: float, r_max: float, fwhm_px: float) -> np.ndarray:
    """Whether the pattern explains each cell of a polar grid round ``(x0, y0)`` (rows: radius 0..r_max px by 1 px;
    columns: N_AZIMUTH azimuths from -pi). Spokes are judged on the grid averaged along the radius over
    SPOKE_RUN_BEAMS beams (a spoke runs radially, so its lobes and the pixel are compared at that S/N, its noise
    measured on that grid), rings on the grid itself with ``sigma``."""
    r = np.arange(0.0, np.ceil(r_max) + 1.0)
    theta = np.linspace(-np.pi, np.pi, N_AZIMUTH, endpoint=False)
    rr, tt = np.meshgrid(r, theta, indexing="ij")
    polar = map_coordinates(smooth, [y0 + rr * np.sin(tt), x0 + rr * np.cos(tt)], order=1, cval=np.nan)
    run = max(int(round(SPOKE_RUN_BEAMS * fwhm_px)), 1)
    if run > 1:
        filled = np.where(np.isfinite(polar), polar, 0.0)
        weight = uniform_filter1d(np.isfinite(polar).astype(float), run, axis=0, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            radial = uniform_filter1d(filled, run, axis=0, mode="nearest") / weight
        radial[~np.isfinite(polar)] = np.nan
    else:
        radial = polar
    return _explained_on_polar(radial, _mad_sigma(radial), True, fwhm_px) | _explained_on_polar(
        polar, sigma, False, fwhm_px
    )


def pattern_pixels(mask: np.ndarray, snr: np.ndarray, sources: list[tuple[float, float]], fwhm_px: float) -> np.ndarray:
    """The pixels of ``mask`` (bool) whose emission a bright source's error pattern explains (bool map; see the
    module docstring). ``snr``: the image over its local noise; ``sources``: ``(x, y)`` of the bright sources
    (:func:`radioexplore.segmentation.regions.bright_sources`); ``fwhm_px``: the beam's FWHM in pixels."""
    out = np.zeros(mask.shape, bool)
    if not sources or not mask.any():
        return out
    smooth, sigma = smoothed_snr(snr, fwhm_px)
    ys, xs = np.nonzero(mask)
    for x0, y0 in sources:
        dx, dy = xs - x0, ys - y0
        r = np.hypot(dx, dy)
        near = r >= SOURCE_RADIUS_BEAMS * fwhm_px
        if not near.any():
            continue
        cells = polar_explained(smooth, sigma, x0, y0, float(r[near].max()), fwhm_px)
        ri = np.clip(np.round(r).astype(np.int64), 0, cells.shape[0] - 1)
        ti = np.round((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * N_AZIMUTH).astype(np.int64) % N_AZIMUTH
        explained = near & cells[ri, ti]
        out[ys[explained], xs[explained]] = True
    if CLOSE_BEAMS > 0:
        k = int(np.ceil(CLOSE_BEAMS * fwhm_px / 2))
        yy, xx = np.mgrid[-k : k + 1, -k : k + 1]
        out = binary_closing(out, structure=yy**2 + xx**2 <= k * k) & mask
    return out
