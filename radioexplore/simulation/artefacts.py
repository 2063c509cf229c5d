"""Imaging artefacts whose strength follows the MGCLS data-quality flag (DQF 0-3).

Knowles et al. (2022), as summarised by Lastufka et al. 2024 (seed 000, sec. 2.1 and fig. A.1):
0 = good dynamic range; 1 = moderate dynamic range with some artefacts around bright sources;
2 = poor dynamic range with high contamination by bright-source artefacts; 3 = poor dynamic range
with ripples across the image. Artefacts here are residual calibration errors: rings and radial
spokes around bright sources, scaled to the source's peak, and for DQF 3 plane-wave ripples across
the whole image. They live in the apparent (not primary-beam-corrected) image, so they rise
towards the edge as the noise does.

Why these shapes (Taylor, Carilli & Perley 1999, "Synthesis Imaging in Radio Astronomy II", ch. 13
on deconvolution and ch. 15 on error recognition; Thompson, Moran & Swenson, "Interferometry and
Synthesis in Radio Astronomy", ch. 11): a residual antenna-based phase or amplitude error on a
bright source convolves it with an error pattern whose lobes are positive and negative in about
equal measure; errors that vary with time give rings (concentric, lopsided when some antennas or
times dominate) and errors on some baselines give radial spokes; both scale with the source's
flux. Deconvolution errors (unmodelled extended flux, missing short spacings) leave negative
bowls round bright sources; a bad visibility or a seam between mosaic pointings gives stripes
across the image. ``strength`` (:data:`STRONG_ARTEFACTS` for the strong setting) multiplies all
of them and, above 1, adds the wider forms seen in real DQF 2-3 fields: ripple rings with a period
of 1.2-2 beams (6-10 px on MeerKAT's 5 px beam) whose crests reach tens of sigma and whose
troughs are as deep, reaching several hundred px; negative bowls; stripes across the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Artefact amplitude around a bright source, as a fraction of its peak (Jy/beam), per DQF.
#: DQF 1 puts ~2 sigma rings round a 50 mJy source at 4 uJy/beam noise, DQF 2 and 3 ~ 8 sigma.
DQF_SOURCE_LEVEL: tuple[float, float, float, float] = (0.0, 1.5e-4, 6e-4, 6e-4)
#: Amplitude of the image-wide ripples of DQF 3, in units of the central thermal noise.
DQF3_RIPPLE_SIGMA: tuple[float, float] = (0.4, 0.7)
#: The documented "strong" artefact setting: around a 50 mJy source in a DQF 2-3 field at 4 uJy/beam,
#: ripple crests of ~20-30 sigma and troughs as deep; a few sigma of stripes across DQF 3 fields.
STRONG_ARTEFACTS = 4.0
#: Side in px of the blocks of the per-field artefact truth (``artefacts.npz``, see :func:`artefact_block_max`).
ARTEFACT_BLOCK = 8


@dataclass(frozen=True)
class SourcePattern:
    """An artefact pattern round a bright source: its decay length range (beams), how far it is drawn (out to
    ``floor / depth``) and its shape, ``shape(rng, dx, dy, r, decay, beam_px)``, peak about 1."""

    decay_beams: tuple[float, float]
    depth: float
    shape: Callable[..., np.ndarray]


def source_artefacts(
    shape: tuple[int, int],
    rng: np.random.Generator,
    sources: list[tuple[float, float, float]],
    level: float,
    floor: float,
    beam_px: float,
    pattern: SourcePattern,
) -> np.ndarray:
    """``pattern`` round each ``(x, y, peak)`` source whose artefacts would exceed ``floor`` Jy/beam.

    Each pattern is ``level * peak`` at its strongest, decays with radius over ``pattern.decay_beams``
    and vanishes within two beams of the source so that its peak is untouched.
    """
    out = np.zeros(shape, dtype=np.float32)
    if level <= 0:
        return out
    ny, nx = shape
    for x, y, peak in sources:
        amp = level * peak
        if amp < floor:
            continue
        decay = rng.uniform(*pattern.decay_beams) * beam_px
        reach = int(min(decay * np.log(pattern.depth * amp / floor), max(nx, ny)))
        around = _around(shape, x, y, reach, beam_px)
        if around is None:
            continue
        (y0, y1, x0, x1), dx, dy, r, inner = around
        out[y0:y1, x0:x1] += np.float32(amp) * inner * pattern.shape(rng, dx, dy, r, decay, beam_px)
    return out


def _rings_and_spokes(rng: np.random.Generator, dx, dy, r, decay: float, beam_px: float) -> np.ndarray:
    """Lopsided rings of period 2-4 beams and 2k radial spokes, alternately positive and negative."""
    rings = _lopsided_rings(rng, dx, dy, r, (2.0, 4.0), decay, beam_px, 0.4)
    k = int(rng.integers(2, 5))  # 2k spokes, alternately positive and negative
    turn = np.exp(-1j * k * rng.uniform(0, np.pi))
    spokes = np.real(((dx + 1j * dy) / r) ** k * turn).astype(np.float32) ** 21
    spokes *= np.exp(-r / np.float32(2 * decay))
    return rings + np.float32(1.5) * spokes


def _ripples_and_bowl(rng: np.random.Generator, dx, dy, r, decay: float, beam_px: float) -> np.ndarray:
    """Lopsided ripple rings of period 1.2-2 beams and a negative bowl (a deconvolution error, Taylor et al.
    1999 ch. 13) half as deep and 4-12 beams wide."""
    rings = _lopsided_rings(rng, dx, dy, r, (1.2, 2.0), decay, beam_px, 0.35)
    width = rng.uniform(4.0, 12.0) * beam_px
    bowl = -np.float32(0.5) * np.exp(-0.5 * (r / np.float32(width)) ** 2)
    return rings + bowl


#: Rings and spokes of residual calibration errors, decaying over 6-14 beams, drawn out to ~floor/10.
RINGS_AND_SPOKES = SourcePattern((6.0, 14.0), 10.0, _rings_and_spokes)
#: The wide ripples and bowls of real DQF 2-3 fields, decaying over 20-60 beams (several hundred px).
RIPPLES_AND_BOWL = SourcePattern((20.0, 60.0), 1.0, _ripples_and_bowl)


def image_ripples(shape: tuple[int, int], rng: np.random.Generator, amplitude: float, beam_px: float) -> np.ndarray:
    """Two superposed plane waves across the whole image, periods 8-40 beams, total amplitude ``amplitude``."""
    xx, yy = _pixel_grid(shape)
    out = np.zeros(shape, dtype=np.float32)
    for share in (0.65, 0.35):
        period = rng.uniform(8.0, 40.0) * beam_px
        a = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        out += np.float32(share * amplitude) * np.sin(
            np.float32(2 * np.pi / period) * (xx * np.float32(np.cos(a)) + yy * np.float32(np.sin(a)))
            + np.float32(phase)
        )
    return out


def stripes(shape: tuple[int, int], rng: np.random.Generator, amplitude: float, beam_px: float) -> np.ndarray:
    """One to three straight stripes across the whole image (a bad visibility, a mosaic seam).

    Each is a band 3-8 beams wide of alternately positive and negative fringes of period 1.5-3
    beams, crossing the field at a random angle and offset, peak ``amplitude`` at its centre line.
    """
    ny, nx = shape
    xx, yy = _pixel_grid(shape)
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(int(rng.integers(1, 4))):
        a = rng.uniform(0, np.pi)
        c, s = np.cos(a), np.sin(a)
        lo = min(0.0, c * (nx - 1)) + min(0.0, s * (ny - 1))  # the projection's range over the image
        hi = max(0.0, c * (nx - 1)) + max(0.0, s * (ny - 1))
        u = xx * np.float32(c) + yy * np.float32(s) - np.float32(lo + rng.uniform(0.2, 0.8) * (hi - lo))
        width = rng.uniform(3.0, 8.0) * beam_px
        period = rng.uniform(1.5, 3.0) * beam_px
        fringe = np.cos(np.float32(2 * np.pi / period) * u + np.float32(rng.uniform(0, 2 * np.pi)))
        out += np.float32(amplitude * rng.uniform(0.6, 1.0)) * fringe * np.exp(-0.5 * (u / np.float32(width)) ** 2)
    return out


def dqf_artefacts(
    shape: tuple[int, int],
    rng: np.random.Generator,
    sources: list[tuple[float, float, float]],
    dqf: int,
    noise_jy: float,
    beam_px: float,
    strength: float = 1.0,
) -> np.ndarray:
    """All artefacts of a field of data-quality flag ``dqf`` (apparent Jy/beam, to be divided by the PB).

    ``sources`` are ``(x, y, apparent peak Jy/beam)``; ``noise_jy`` is the central thermal rms.
    ``strength`` multiplies every artefact; above 1 the wide ripples, negative bowls and stripes of
    real DQF 2-3 fields are added with amplitudes growing as ``strength - 1`` (so 1 gives exactly
    the artefacts of earlier versions, random draws included). :data:`STRONG_ARTEFACTS` is the
    strong setting.
    """
    if dqf not in (0, 1, 2, 3):
        raise ValueError(f"DQF must be 0, 1, 2 or 3 (MGCLS convention); got {dqf}")
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"artefact strength must be a finite number >= 0; got {strength}")
    level = DQF_SOURCE_LEVEL[dqf]
    out = source_artefacts(shape, rng, sources, level, 0.5 * noise_jy, beam_px, RINGS_AND_SPOKES)
    if dqf == 3:
        out += image_ripples(shape, rng, rng.uniform(*DQF3_RIPPLE_SIGMA) * noise_jy, beam_px)
    if strength == 1.0:
        return out
    out *= np.float32(strength)
    extra = strength - 1.0
    if extra > 0 and level > 0:
        out += source_artefacts(shape, rng, sources, extra * level, 0.5 * noise_jy, beam_px, RIPPLES_AND_BOWL)
        if dqf >= 2:  # stripes: always in DQF 3, now and then in DQF 2
            if dqf == 3 or rng.random() < 0.3:
                out += stripes(shape, rng, extra * rng.uniform(2.0, 4.0) * noise_jy, beam_px)
    return out


def artefact_block_max(artefacts: np.ndarray, noise: np.ndarray | float, block: int) -> np.ndarray:
    """Largest ``|artefacts| / noise`` in each ``block`` x ``block`` block (NaN noise counts as no artefact).

    The simulator keeps this per field as the truth of which tiles an artefact dominates: any tile
    grid whose boxes fall on block edges reads its peak artefact amplitude in units of the local noise.
    """
    ratio = np.abs(artefacts) / noise
    ratio = np.nan_to_num(np.asarray(ratio, dtype=np.float32), nan=0.0, posinf=0.0)
    ny, nx = ratio.shape
    py, px = -ny % block, -nx % block
    if py or px:
        ratio = np.pad(ratio, ((0, py), (0, px)))
    my, mx = ratio.shape[0] // block, ratio.shape[1] // block
    return ratio.reshape(my, block, mx, block).max(axis=(1, 3))


def _pixel_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pixel coordinates of an image of ``shape`` as float32 ``xx`` (one row) and ``yy`` (one column)."""
    ny, nx = shape
    return np.arange(nx, dtype=np.float32)[None, :], np.arange(ny, dtype=np.float32)[:, None]


def _around(shape: tuple[int, int], x: float, y: float, reach: int, beam_px: float):
    """The box within ``reach`` px of ``(x, y)`` clipped to ``shape``, its offsets ``dx, dy``, radius
    ``r`` and the taper that keeps a pattern off the source's own two beams; None when the box is empty."""
    ny, nx = shape
    x0, x1 = max(int(x) - reach, 0), min(int(x) + reach + 1, nx)
    y0, y1 = max(int(y) - reach, 0), min(int(y) + reach + 1, ny)
    if x1 <= x0 or y1 <= y0:
        return None
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(x)
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(y)
    r = np.sqrt(dx * dx + dy * dy) + np.float32(1e-3)
    inner = 1.0 - np.exp(-((r / np.float32(2.0 * beam_px)) ** 2))
    return (y0, y1, x0, x1), dx, dy, r, inner


def _lopsided_rings(
    rng: np.random.Generator,
    dx: np.ndarray,
    dy: np.ndarray,
    r: np.ndarray,
    period_beams: tuple[float, float],
    decay: float,
    beam_px: float,
    lopsidedness: float,
) -> np.ndarray:
    """Concentric rings of a period drawn in ``period_beams`` (beams), decaying over ``decay`` px and
    made lopsided by an m = 1-3 azimuthal term: calibration errors do not leave perfect circles."""
    period = rng.uniform(*period_beams) * beam_px
    rings = np.cos(np.float32(2 * np.pi / period) * r + np.float32(rng.uniform(0, 2 * np.pi)))
    rings *= np.exp(-r / np.float32(decay))
    m = int(rng.integers(1, 4))
    lopsided = np.real(((dx + 1j * dy) / r) ** m * np.exp(-1j * rng.uniform(0, 2 * np.pi))).astype(np.float32)
    return rings * (np.float32(1.0 - lopsidedness) + np.float32(lopsidedness) * lopsided)
