"""A calibration-ripple model round each bright source, to be subtracted before islands are found.

A residual calibration error on a bright source convolves it with an error pattern (Perley 1999,
"High Dynamic Range Imaging", Synthesis Imaging in Radio Astronomy II, ch. 13; Grobler et al. 2014,
MNRAS 439, 4030): rings concentric on that ONE source, lopsided (their amplitude varies slowly with
position angle), alternating in sign with radius, with a mean over a full period of about zero.
Sky emission is positive and local in angle. So round every source brighter than ``bright_sigma``
times the field's thermal noise (:func:`radioexplore.ranking.local_noise.noise_envelope`, measured
from below, which the ripples do not inflate) the pattern is estimated as the median of the image
in annuli of ``annulus_beams`` and position-angle sectors of ``sector_deg`` (a median: an object
covering a small part of a sector does not move it), smoothed over neighbouring sectors by a
median too, and kept only where it differs from zero by more than ``keep_sigma`` times the
thermal noise of that many independent beams and where the sector shows both a significant crest and
a significant trough within a ripple period (``alternate_beams``): a source without ripples gets no
model, and the positive emission of its own lobes, with no trough beside it, stays. The sources
are modelled brightest first, each on the image with the models before it removed.

Radial spokes (errors on some baselines; alternating in sign round the source) can be modelled
the same way with the rings out (``spoke_deg`` > 0: narrow sectors, medians over radial segments,
a trough within 90 deg of each crest; only round a source whose rings are significant); off by default: on the development surveys it also cut up
bright radio galaxies whose lobes point away from their core (benchmarks/README.md, issue 24).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from radioexplore.ranking.local_noise import noise_envelope, noise_floor_at


@dataclass(frozen=True)
class RippleConfig:
    """How the ripple model is built (:func:`ripple_model`)."""

    bright_sigma: float = 100.0  # sources above this many thermal sigma carry a model
    annulus_beams: float = 0.2  # 1 px on a 5 px beam: read linearly between, a 6 px period is drawn to within 8%
    sector_deg: float = 24.0  # position-angle sectors; lopsided rings vary over 120 deg or more (m <= 3)
    smooth_sectors: int = 3  # median over this many neighbouring sectors
    inner_beams: float = 2.0  # within this radius the source itself: not modelled
    reach_beams: float = 120.0  # farthest radius modelled
    keep_sigma: float = 3.0  # a bin's median is kept where it exceeds this many sigma of its own scatter
    alternate_beams: float = 2.0  # ... and a crest and a trough lie within this many beams of it (a period)
    max_sources: int = 20  # per image, brightest first
    sample_step: int = 1  # medians read on every pixel (the coarse first pass reads every 4th)
    floor_block_beams: float = 12.0  # blocks of the noise envelope (as ObjectConfig's)
    spoke_deg: float = 0.0  # spoke model: position-angle sectors, e.g. 2 deg (0: none; module docstring)
    spoke_beams: float = 4.0  # ... read in radial segments this long, a median over 3 along radius

    def __post_init__(self) -> None:
        for name in ("bright_sigma", "annulus_beams", "sector_deg", "inner_beams", "reach_beams", "keep_sigma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RippleConfig.{name} must be positive, not {getattr(self, name)}")
        if self.smooth_sectors < 1 or self.max_sources < 0 or self.sample_step < 1:
            raise ValueError("RippleConfig.smooth_sectors and sample_step must be >= 1, max_sources >= 0")


def bright_sources(residual: np.ndarray, fwhm: float, config: RippleConfig) -> list[tuple[float, float, float]]:
    """``(x, y, peak / thermal sigma)`` of the local maxima above ``config.bright_sigma`` times the
    field's noise envelope, brightest first, at most ``config.max_sources``, a few beams apart."""
    data = np.nan_to_num(np.asarray(residual, dtype=np.float32), nan=0.0)
    envelope = noise_envelope(residual, max(16, int(round(config.floor_block_beams * fwhm))))
    radius, env = envelope
    if not np.isfinite(env).any():
        return []
    least = float(np.nanmin(env))
    size = max(3, int(round(4 * fwhm)) | 1)
    peaks = (data == ndimage.maximum_filter(data, size=size)) & (data > config.bright_sigma * least)
    ys, xs = np.nonzero(peaks)
    out = []
    for y, x in zip(ys, xs, strict=True):
        floor = noise_floor_at(envelope, float(x), float(y), data.shape, np.inf)
        if np.isfinite(floor) and floor > 0 and data[y, x] > config.bright_sigma * floor:
            out.append((float(x), float(y), float(data[y, x] / floor)))
    out.sort(key=lambda s: -s[2])
    return out[: config.max_sources]


def source_ripple(
    image: np.ndarray, x: float, y: float, fwhm: float, sigma: float, config: RippleConfig
) -> tuple[slice, slice, np.ndarray] | None:
    """The ripple model of the source at ``(x, y)`` in ``image`` (thermal noise ``sigma``): the box it
    covers and its values there (rings, then spokes read on the image with the rings out); None when
    no bin is significant.

    A first pass on a coarse grid (every 4th pixel, annuli twice as wide) finds how far the
    significant rings reach; only then is the fine table read, out to there: most bright sources
    of a good field carry no ripple and cost only the coarse pass."""
    reach = int(np.ceil(config.reach_beams * fwhm))
    step = max(4, config.sample_step)
    rings = _Polar(2 * config.annulus_beams * fwhm, _sectors(config.sector_deg), config.smooth_sectors, 1, 0)
    first = _table(image, x, y, fwhm, sigma, config, reach, step, rings, config.alternate_beams * fwhm)
    if first is None:
        return None
    rows = np.flatnonzero(first.any(axis=1))
    reach = min(reach, int(np.ceil((rows[-1] + 1) * rings.dr + config.alternate_beams * fwhm)))
    rings = replace(rings, dr=config.annulus_beams * fwhm)
    table = _table(image, x, y, fwhm, sigma, config, reach, config.sample_step, rings, config.alternate_beams * fwhm)
    if table is None:
        return None
    sy, sx, model = _evaluate(image.shape, x, y, reach, config.inner_beams * fwhm, rings, table)
    if config.spoke_deg > 0:  # radial spokes alternate in sign round the source (Perley 1999); rings out first
        spokes = _Polar(config.spoke_beams * fwhm, _sectors(config.spoke_deg), 3, 0, 1)
        rest = image[sy, sx] - model
        cut = np.full(image.shape, np.nan, dtype=np.float32)
        cut[sy, sx] = rest
        table = _table(cut, x, y, fwhm, sigma, config, reach, config.sample_step, spokes, 90.0)
        if table is not None:
            model += _evaluate(image.shape, x, y, reach, config.inner_beams * fwhm, spokes, table)[2]
    return sy, sx, model


@dataclass(frozen=True)
class _Polar:
    """A polar table round a source: radial bin ``dr`` px, ``n_sec`` position-angle sectors, a median
    over ``smooth`` neighbours along ``smooth_axis`` (0 radius, 1 angle), and the sign alternation
    asked for along ``alternate_axis`` (rings alternate along radius, spokes along angle)."""

    dr: float
    n_sec: int
    smooth: int
    smooth_axis: int
    alternate_axis: int


def _sectors(deg: float) -> int:
    return max(1, int(round(360.0 / deg)))


def _evaluate(shape, x, y, reach, inner, polar: _Polar, table):
    """``table`` on the pixels within ``reach`` of ``(x, y)``, linear between annulus and sector centres."""
    ny, nx = shape
    y0, y1 = max(0, int(y) - reach), min(ny, int(y) + reach + 1)
    x0, x1 = max(0, int(x) - reach), min(nx, int(x) + reach + 1)
    n_rad, n_sec = table.shape
    fy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(y)
    fx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(x)
    fr = np.hypot(fx, fy)
    ft = (np.arctan2(np.broadcast_to(fy, fr.shape), np.broadcast_to(fx, fr.shape)) + np.pi) / (2 * np.pi) * n_sec - 0.5
    s0 = np.floor(ft).astype(np.int64)
    w = (ft - s0).astype(np.float32)
    # linear between annulus centres too: a ripple of 6 px period read from the nearest 1 px annulus
    # would be out of phase by up to 30 deg
    fq = np.clip(fr / polar.dr - 0.5, 0, n_rad - 1)
    r0 = np.minimum(fq.astype(np.int64), max(n_rad - 2, 0))
    v = (fq - r0).astype(np.float32)
    r1 = np.minimum(r0 + 1, n_rad - 1)
    s0, s1 = s0 % n_sec, (s0 + 1) % n_sec
    model = (1 - v) * ((1 - w) * table[r0, s0] + w * table[r0, s1]) + v * ((1 - w) * table[r1, s0] + w * table[r1, s1])
    model[(fr < inner) | (fr > reach)] = 0.0
    return slice(y0, y1), slice(x0, x1), model.astype(np.float32)


def _table(image, x, y, fwhm, sigma, config: RippleConfig, reach: int, step: int, polar: _Polar, alternate: float):
    """The significant, alternating (radius, sector) medians round ``(x, y)`` out to ``reach`` px, read
    every ``step`` px; None when there are none. ``alternate``: how far (px along radius, or degrees
    along angle) a bin of the other sign may lie."""
    ny, nx = image.shape
    y0, y1 = max(0, int(y) - reach), min(ny, int(y) + reach + 1)
    x0, x1 = max(0, int(x) - reach), min(nx, int(x) + reach + 1)
    dr, n_sec = polar.dr, polar.n_sec
    n_rad = int(np.ceil(reach / dr)) + 1
    sub = image[y0:y1:step, x0:x1:step]
    sy = np.arange(y0, y1, step, dtype=np.float32)[:, None] - np.float32(y)
    sx = np.arange(x0, x1, step, dtype=np.float32)[None, :] - np.float32(x)
    r = np.hypot(sx, sy)
    use = np.isfinite(sub) & (r >= config.inner_beams * fwhm) & (r <= reach)
    if not use.any():
        return None
    theta = np.arctan2(np.broadcast_to(sy, r.shape)[use], np.broadcast_to(sx, r.shape)[use])
    rb = np.minimum((r[use] / dr).astype(np.int64), n_rad - 1)
    sb = np.minimum(((theta + np.pi) / (2 * np.pi) * n_sec).astype(np.int64), n_sec - 1)
    med, count = _medians(rb * n_sec + sb, sub[use], n_rad * n_sec)
    table = med.reshape(n_rad, n_sec)
    count = count.reshape(n_rad, n_sec)
    k = polar.smooth
    if k > 1:  # median over neighbouring bins (wrapping round the source along angle)
        pad = k // 2
        if polar.smooth_axis == 1:
            wrap = lambda a: np.concatenate([a[:, n_sec - pad :], a, a[:, :pad]], axis=1)  # noqa: E731
            shifted = lambda a, j: a[:, j : j + n_sec]  # noqa: E731
        else:
            wrap = lambda a: np.pad(a, ((pad, pad), (0, 0)), constant_values=np.nan)  # noqa: E731
            shifted = lambda a, j: a[j : j + n_rad]  # noqa: E731
        wt, wc = wrap(table), wrap(count)
        with warnings.catch_warnings():  # a bin with no neighbour holding pixels stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            table = np.nanmedian(np.stack([shifted(wt, j) for j in range(k)]), axis=0) if n_sec >= k else table
        count = np.nansum(np.stack([shifted(wc, j) for j in range(k)]), axis=0)
    # the median of n samples of Gaussian noise scatters by 1.253 sigma / sqrt(n); pixels within a beam
    # are correlated, so n counts beams (each sampled pixel stands for step^2 of the image's)
    beams = np.maximum(count * step * step / (1.1331 * fwhm * fwhm), 1.0)
    scatter = 1.2533 * sigma / np.sqrt(beams)
    significant = np.where(np.isfinite(table) & (np.abs(table) > config.keep_sigma * scatter), np.sign(table), 0.0)
    # a ripple alternates in sign: a bin is kept where a significant bin of the other sign lies within
    # ``alternate`` of it (rings: along radius, within a period; spokes: along angle, round the source);
    # the positive emission of the source's own lobes or of a neighbour shows no trough beside it
    if polar.alternate_axis == 0:
        window, mode = 2 * int(np.ceil(alternate / dr)) + 1, "constant"
    else:
        window, mode = 2 * int(np.ceil(alternate / 360.0 * n_sec)) + 1, "wrap"
    crest = ndimage.maximum_filter1d((significant > 0).astype(np.uint8), window, axis=polar.alternate_axis, mode=mode)
    trough = ndimage.maximum_filter1d((significant < 0).astype(np.uint8), window, axis=polar.alternate_axis, mode=mode)
    table = np.where((significant != 0) & (crest > 0) & (trough > 0), np.nan_to_num(table), 0.0)
    return table if table.any() else None


def _medians(index: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``values`` per ``index`` in ``0..n-1`` (NaN where empty) and the counts, by one sort on
    a key that orders by index, then by value (a float argsort: several times ndimage.median's speed)."""
    v = values.astype(np.float64)
    lo, hi = float(v.min()), float(v.max())
    key = index + (v - lo) / (hi - lo + 1e-30) * 0.999 if hi > lo else index.astype(np.float64)
    sorted_v = v[np.argsort(key, kind="quicksort")]
    count = np.bincount(index, minlength=n)
    end = np.cumsum(count)
    start = end - count
    med = np.full(n, np.nan)
    has = count > 0
    med[has] = 0.5 * (sorted_v[(start[has] + end[has] - 1) // 2] + sorted_v[(start[has] + end[has]) // 2])
    return med, count.astype(np.float64)


def ripple_model(residual: np.ndarray, fwhm: float, config: RippleConfig = RippleConfig()) -> np.ndarray:
    """The summed ripple models of the bright sources of ``residual`` (background removed, image
    units, NaN where blanked), brightest first, each fitted with the models before it removed."""
    data = np.asarray(residual, dtype=np.float32)
    model = np.zeros(data.shape, dtype=np.float32)
    sources = bright_sources(data, fwhm, config)
    if not sources:
        return model
    # the scatter of a bin's median is judged against the field's least thermal noise: the envelope at
    # the source's own radius may be lifted by its ripples where they cover every block at that radius
    sigma = float(np.nanmin(noise_envelope(data, max(16, int(round(config.floor_block_beams * fwhm))))[1]))
    work = data.copy()
    for x, y, _ in sources:
        found = source_ripple(work, x, y, fwhm, sigma, config)
        if found is None:
            continue
        sy, sx, values = found
        model[sy, sx] += values
        work[sy, sx] -= values
    return model
