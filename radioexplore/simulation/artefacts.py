"""Imaging artefacts whose strength follows the MGCLS data-quality flag (DQF 0-3).

Knowles et al. (2022), as summarised by Lastufka et al. 2024 (seed 000, sec. 2.1 and fig. A.1):
0 = good dynamic range; 1 = moderate dynamic range with some artefacts around bright sources;
2 = poor dynamic range with high contamination by bright-source artefacts; 3 = poor dynamic range
with ripples across the image. Artefacts here are residual calibration errors: rings and radial
spokes around bright sources, scaled to the source's peak, and for DQF 3 plane-wave ripples across
the whole image. They live in the apparent (not primary-beam-corrected) image, so they rise
towards the edge as the noise does.
"""

from __future__ import annotations

import numpy as np

#: Artefact amplitude around a bright source, as a fraction of its peak (Jy/beam), per DQF.
#: DQF 1 puts ~2 sigma rings round a 50 mJy source at 4 uJy/beam noise, DQF 2 and 3 ~ 8 sigma.
DQF_SOURCE_LEVEL: tuple[float, float, float, float] = (0.0, 1.5e-4, 6e-4, 6e-4)
#: Amplitude of the image-wide ripples of DQF 3, in units of the central thermal noise.
DQF3_RIPPLE_SIGMA: tuple[float, float] = (0.4, 0.7)


def source_artefacts(
    shape: tuple[int, int],
    rng: np.random.Generator,
    sources: list[tuple[float, float, float]],
    level: float,
    floor: float,
    beam_px: float,
) -> np.ndarray:
    """Rings and spokes around each ``(x, y, peak)`` source whose artefacts would exceed ``floor`` Jy/beam.

    Each pattern is ``level * peak`` at its strongest, decays exponentially with radius over tens
    of beams and vanishes within two beams of the source so that its peak is untouched.
    """
    out = np.zeros(shape, dtype=np.float32)
    if level <= 0:
        return out
    ny, nx = shape
    for x, y, peak in sources:
        amp = level * peak
        if amp < floor:
            continue
        decay = rng.uniform(6.0, 14.0) * beam_px
        reach = int(min(decay * np.log(10.0 * amp / floor), max(nx, ny)))  # out to ~floor/10
        x0, x1 = max(int(x) - reach, 0), min(int(x) + reach + 1, nx)
        y0, y1 = max(int(y) - reach, 0), min(int(y) + reach + 1, ny)
        if x1 <= x0 or y1 <= y0:
            continue
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(x)
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(y)
        r = np.sqrt(dx * dx + dy * dy) + np.float32(1e-3)
        inner = 1.0 - np.exp(-((r / np.float32(2.0 * beam_px)) ** 2))
        period = rng.uniform(2.0, 4.0) * beam_px
        rings = np.cos(np.float32(2 * np.pi / period) * r + np.float32(rng.uniform(0, 2 * np.pi)))
        rings *= np.exp(-r / np.float32(decay))
        m = int(rng.integers(1, 4))  # calibration errors make the rings lopsided, not perfect circles
        lopsided = np.real(((dx + 1j * dy) / r) ** m * np.exp(-1j * rng.uniform(0, 2 * np.pi))).astype(np.float32)
        rings *= np.float32(0.6) + np.float32(0.4) * lopsided
        k = int(rng.integers(2, 5))  # 2k spokes, alternately positive and negative
        turn = np.exp(-1j * k * rng.uniform(0, np.pi))
        spokes = np.real(((dx + 1j * dy) / r) ** k * turn).astype(np.float32) ** 21
        spokes *= np.exp(-r / np.float32(2 * decay))
        out[y0:y1, x0:x1] += np.float32(amp) * inner * (rings + np.float32(1.5) * spokes)
    return out


def image_ripples(shape: tuple[int, int], rng: np.random.Generator, amplitude: float, beam_px: float) -> np.ndarray:
    """Two superposed plane waves across the whole image, periods 8-40 beams, total amplitude ``amplitude``."""
    ny, nx = shape
    yy = np.arange(ny, dtype=np.float32)[:, None]
    xx = np.arange(nx, dtype=np.float32)[None, :]
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


def dqf_artefacts(
    shape: tuple[int, int],
    rng: np.random.Generator,
    sources: list[tuple[float, float, float]],
    dqf: int,
    noise_jy: float,
    beam_px: float,
) -> np.ndarray:
    """All artefacts of a field of data-quality flag ``dqf`` (apparent Jy/beam, to be divided by the PB).

    ``sources`` are ``(x, y, apparent peak Jy/beam)``; ``noise_jy`` is the central thermal rms.
    """
    if dqf not in (0, 1, 2, 3):
        raise ValueError(f"DQF must be 0, 1, 2 or 3 (MGCLS convention); got {dqf}")
    out = source_artefacts(shape, rng, sources, DQF_SOURCE_LEVEL[dqf], 0.5 * noise_jy, beam_px)
    if dqf == 3:
        out += image_ripples(shape, rng, rng.uniform(*DQF3_RIPPLE_SIGMA) * noise_jy, beam_px)
    return out
