"""A model of the plane waves across a field image, found in the image's Fourier transform, to be subtracted.

A calibration error on one or a few baselines (a bad visibility, an antenna's gain jumping for a
while) puts a few Fourier components of the image plane in error: each is a plane wave, a sinusoid
across the WHOLE image (Taylor, Carilli & Perley 1999, "Synthesis Imaging in Radio Astronomy II",
ch. 15, error recognition: "a single bad visibility gives a sinusoidal ripple across the map";
Ekers' stripes in the same chapter). MGCLS's DQF 3 fields carry such ripples (seed 000, sec. 2.1).
The error lives in the apparent image, so in a primary-beam-corrected image a wave rises outwards
as the noise does (1/PB). The sky is local and positive; a plane wave is global and as negative as
positive, and concentrates its power in one cell of the Fourier plane where the sky's spreads.

So the model is built from the image alone: the image divided by the radial shape of its noise
envelope (:func:`radioexplore.ranking.local_noise.noise_envelope`, from below: the 1/PB rise, which
makes the noise and the waves flat), with the islands of emission above ``mask_sigma`` times the
local rms (either sign: a ripple ring's troughs as its crests) and ``mask_beams`` round them set to
zero; the strongest cell of its Fourier transform with periods between ``min_period_beams`` and
``max_period_beams`` (the ripple rings and stripes of bright sources have periods of 1.2-4 beams) is
kept when its power exceeds the noise power at that spatial frequency (the median over the ring of
cells at that radius) by what a ``false_alarm`` chance over all the cells searched allows (the power
of noise in one cell is exponential); its frequency is refined and its amplitude and phase fitted
by least squares on the unmasked pixels; and it is kept only where each quarter of the image fits it
with at least ``quarter_share`` of that amplitude in phase (a wave across the whole image, not one
source's spectrum or a stripe in one part). The wave is subtracted and the next peak sought, up to
``max_waves``. A field without such waves gets a model of exactly zero.

Measured on simulated surveys (benchmarks/README.md, issue 24, branch plane-waves): waves in every DQF 3 field
and in none of the DQF 0-2 fields but one (0.07 of its noise); the DQF 3 noise on the image smoothed to 3 beams halves,
to the DQF 0-2 level; recall of peculiar tiles moves within the object forest's spread, so it is off by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radioexplore.ingest.noise import mesh_background
from radioexplore.ranking.local_noise import noise_envelope, noise_map


@dataclass(frozen=True)
class PlaneWaveConfig:
    """How the plane-wave model is built (:func:`plane_wave_model`)."""

    max_waves: int = 4  # a DQF 3 field shows a few (Taylor, Carilli & Perley 1999, ch. 15)
    min_period_beams: float = 6.0  # shorter: ripple rings (1.2-4 beams) and stripes, which are not whole-image waves
    max_period_beams: float = 80.0  # longer: the background mesh (40 beams) takes it out anyway
    false_alarm: float = 1e-3  # chance that noise alone gives a peak this strong anywhere in the searched cells
    mask_sigma: float = 3.0  # |S/N| above which a pixel is emission or a source's ripple, not fitted (PyBDSF's 3)
    mask_beams: float = 1.0  # ... and this many beam FWHM round it
    quarter_share: float = 0.5  # each quarter of the image must fit at least this share of the wave, in phase
    mesh_beams: float = 40.0  # the mask's background and rms mesh (as ObjectConfig's)
    floor_block_beams: float = 12.0  # blocks of the noise envelope (as ObjectConfig's)

    def __post_init__(self) -> None:
        if self.max_waves < 0:
            raise ValueError(f"PlaneWaveConfig.max_waves must be >= 0, not {self.max_waves}")
        if not 0 < self.min_period_beams < self.max_period_beams:
            raise ValueError(
                f"PlaneWaveConfig needs 0 < min_period_beams < max_period_beams, not "
                f"{self.min_period_beams}, {self.max_period_beams}"
            )
        if not 0 < self.false_alarm < 1:
            raise ValueError(f"PlaneWaveConfig.false_alarm must lie in (0, 1), not {self.false_alarm}")
        for name in ("mask_sigma", "mesh_beams", "floor_block_beams"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PlaneWaveConfig.{name} must be positive, not {getattr(self, name)}")


@dataclass(frozen=True)
class PlaneWave:
    """One fitted wave: ``amplitude * cos(2 pi (kx x + ky y) + phase)`` in image units at the image
    centre (rising outwards with the noise), x and y in px from the image centre, ``kx``, ``ky`` in cycles per px; ``ratio``: its Fourier
    power over the noise power at that frequency."""

    kx: float
    ky: float
    amplitude: float
    phase: float
    ratio: float

    @property
    def period_px(self) -> float:
        return float(1.0 / np.hypot(self.kx, self.ky))


def noise_shape(image: np.ndarray, block: int) -> np.ndarray:
    """The image's noise envelope over its least value, per pixel (1 at the centre of a PB-corrected image,
    rising outwards as 1/PB): dividing by it makes the apparent image's noise and waves flat."""
    ny, nx = image.shape
    radius, env = noise_envelope(image, block)
    good = np.isfinite(env) & (env > 0)
    if not good.any():
        return np.ones(image.shape, dtype=np.float32)
    r = np.hypot(np.arange(ny)[:, None] - (ny - 1) / 2.0, np.arange(nx)[None, :] - (nx - 1) / 2.0)
    shape = np.interp(r, radius[good], env[good]) / float(env[good].min())
    return shape.astype(np.float32)


def fit_mask(image: np.ndarray, fwhm: float, config: PlaneWaveConfig) -> np.ndarray:
    """True where a pixel is fitted: finite, and not within ``mask_beams`` of an island above
    ``mask_sigma`` times the local rms of either sign (the waves themselves, a few sigma, stay in)."""
    box = max(16, int(round(config.mesh_beams * fwhm)))
    finite = np.isfinite(image)
    residual = image - mesh_background(image, box)
    rms = noise_map(residual, box)
    with np.errstate(invalid="ignore", divide="ignore"):
        loud = finite & (rms > 0) & (np.abs(residual) > config.mask_sigma * rms)
    grow = int(round(config.mask_beams * fwhm))
    if grow > 0:
        loud = ndimage.binary_dilation(loud, structure=np.ones((3, 3), bool), iterations=grow)
    return finite & ~loud


def _design(shape: tuple[int, int], kx: float, ky: float, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    y = (np.arange(0, ny, step, dtype=np.float64) - (ny - 1) / 2.0)[:, None]
    x = (np.arange(0, nx, step, dtype=np.float64) - (nx - 1) / 2.0)[None, :]
    arg = 2 * np.pi * (kx * x + ky * y)
    return np.cos(arg), np.sin(arg)


def _fit(u: np.ndarray, use: np.ndarray, c: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Least-squares ``a cos + b sin`` to ``u`` over ``use``."""
    cu, su = c[use], s[use]
    m = np.array([[cu @ cu, cu @ su], [cu @ su, su @ su]])
    v = np.array([cu @ u[use], su @ u[use]])
    try:
        a, b = np.linalg.solve(m, v)
    except np.linalg.LinAlgError:
        return 0.0, 0.0
    return float(a), float(b)


def find_plane_waves(image: np.ndarray, fwhm: float, config: PlaneWaveConfig = PlaneWaveConfig()) -> list[PlaneWave]:
    """The plane waves of ``image`` (2-D, image units, NaN where blanked; beam ``fwhm`` px), strongest first."""
    data = np.asarray(image, dtype=np.float32)
    ny, nx = data.shape
    if config.max_waves == 0 or min(ny, nx) < 4 * config.min_period_beams * fwhm:
        return []
    shape = noise_shape(data, max(16, int(round(config.floor_block_beams * fwhm))))
    use = fit_mask(data, fwhm, config)
    if use.sum() < 0.25 * data.size:
        return []
    u = np.where(use, data / shape, 0.0).astype(np.float64)
    u[use] -= u[use].mean()
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(fx, fy)
    region = (k >= 1.0 / (config.max_period_beams * fwhm)) & (k <= 1.0 / (config.min_period_beams * fwhm))
    region[fy[:, 0] < 0, 0] = False  # the kx = 0 column holds each wave twice
    cells = int(region.sum())
    if cells == 0:
        return []
    # the noise power at a spatial frequency: the median over the ring of cells at that radius (in cells)
    ring = np.rint(np.hypot(fx * nx, fy * ny)).astype(np.int64)
    # a cell's power over the mean noise power is exponential: ln(cells / false_alarm) times the mean,
    # the median being ln 2 times it
    threshold = np.log(cells / config.false_alarm) / np.log(2.0)
    quarters = [
        (slice(0, ny // 2), slice(0, nx // 2)),
        (slice(0, ny // 2), slice(nx // 2, nx)),
        (slice(ny // 2, ny), slice(0, nx // 2)),
        (slice(ny // 2, ny), slice(nx // 2, nx)),
    ]
    waves: list[PlaneWave] = []
    refused = np.zeros(region.shape, bool)
    for _ in range(2 * config.max_waves):
        if len(waves) >= config.max_waves:
            break
        power = np.abs(np.fft.rfft2(u)) ** 2
        rings = ring[region]
        medians = np.zeros(int(ring.max()) + 1)
        for r in np.unique(rings):
            medians[r] = np.median(power[region & (ring == r)])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(region & ~refused, power / medians[ring], 0.0)
        iy, ix = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        best = float(ratio[iy, ix])
        if not best > threshold:
            break
        kx, ky = _refine(u, use, float(fx[0, ix]), float(fy[iy, 0]), nx, ny)
        c, s = _design(data.shape, kx, ky)
        a, b = _fit(u, use, c, s)
        amp = float(np.hypot(a, b))
        whole = amp > 0
        for qy, qx in quarters:  # across the whole image: each quarter fits it in phase
            if use[qy, qx].sum() < 0.05 * use.size:
                continue
            qa, qb = _fit(u[qy, qx], use[qy, qx], c[qy, qx], s[qy, qx])
            whole &= (qa * a + qb * b) / max(amp, 1e-30) >= config.quarter_share * amp
        if not whole:
            refused[iy, ix] = True
            continue
        u[use] -= (a * c + b * s)[use]
        waves.append(PlaneWave(kx, ky, amp, float(np.arctan2(-b, a)), best))
    return waves


def _refine(u: np.ndarray, use: np.ndarray, kx: float, ky: float, nx: int, ny: int) -> tuple[float, float]:
    """The frequency near ``(kx, ky)`` (a cell's centre) that fits the most power: a grid of half, then
    a quarter, then an eighth of a cell round the best so far, fitted on every 2nd pixel."""
    sub, sub_use = u[::2, ::2], use[::2, ::2]
    best = (kx, ky)
    best_power = -1.0
    for step in (0.5, 0.25, 0.125):
        cx, cy = best
        for dx in (-step, 0.0, step):
            for dy in (-step, 0.0, step):
                tx, ty = cx + dx / nx, cy + dy / ny
                c, s = _design(u.shape, tx, ty, 2)
                a, b = _fit(sub, sub_use, c, s)
                if a * a + b * b > best_power:
                    best, best_power = (tx, ty), a * a + b * b
    return best


def evaluate(waves: list[PlaneWave], shape_px: tuple[int, int], noise_shape_map: np.ndarray) -> np.ndarray:
    """The sum of ``waves`` on an image of ``shape_px``, times the noise shape (back to image units)."""
    ny, nx = shape_px
    y = (np.arange(ny, dtype=np.float64) - (ny - 1) / 2.0)[:, None]
    x = (np.arange(nx, dtype=np.float64) - (nx - 1) / 2.0)[None, :]
    out = np.zeros(shape_px, dtype=np.float64)
    for w in waves:
        out += w.amplitude * np.cos(2 * np.pi * (w.kx * x + w.ky * y) + w.phase)
    return (out * noise_shape_map).astype(np.float32)


def plane_wave_model(image: np.ndarray, fwhm: float, config: PlaneWaveConfig = PlaneWaveConfig()) -> np.ndarray:
    """The plane-wave model of ``image`` (image units; zero everywhere when none is found)."""
    data = np.asarray(image, dtype=np.float32)
    waves = find_plane_waves(data, fwhm, config)
    if not waves:
        return np.zeros(data.shape, dtype=np.float32)
    shape = noise_shape(data, max(16, int(round(config.floor_block_beams * fwhm))))
    return evaluate(waves, data.shape, shape)
