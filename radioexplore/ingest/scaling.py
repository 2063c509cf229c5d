"""Intensity scalings that turn Jy/beam into model input in [0, 1], fitted per field.

Lastufka et al. 2024 (seed 000, sec. 2.2) fit the scaling on the whole image of a field, not on
each crop, so that the relative brightness of crops near the pointing centre and near the edge
of the primary beam survives; contrast stretching between the 2nd and 98th percentile is their
choice. Riggi et al. 2024 (seed 002, sec. 2.3) stack three scalings as three channels.

Each scaler is chosen by name from :data:`SCALERS`; ``fit`` sees a sample of a field's finite
pixels and returns plain numbers (recorded in run.toml), ``apply`` maps a crop to ``[C, H, W]``.
NaN pixels (blanked borders) become 0 after scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.visualization import ZScaleInterval

from radioexplore.ingest.noise import mad_rms
from radioexplore.registry import lookup


def _linear(pixels: np.ndarray, lo: float, hi: float) -> np.ndarray:
    span = hi - lo if hi > lo else 1.0
    out = (np.asarray(pixels, dtype=np.float32) - np.float32(lo)) / np.float32(span)
    out = np.clip(out, 0.0, 1.0)
    return np.nan_to_num(out, nan=0.0)


@dataclass(frozen=True)
class ContrastStretch:
    """Linear stretch between two percentiles of the field (seed 000: 2nd and 98th)."""

    low: float = 2.0  # seed 000, sec. 2.2 (MGCLS)
    high: float = 98.0  # seed 000, sec. 2.2; 99.9 for MIGHTEE's spurious bright pixels
    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        lo, hi = np.percentile(sample, [self.low, self.high])
        if hi <= lo and sample.size:  # mostly one value (a thresholded stamp): stretch to the maximum
            hi = np.max(sample)
        return {"lo": float(lo), "hi": float(hi)}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        return _linear(pixels, state["lo"], state["hi"])[None]


@dataclass(frozen=True)
class MinMax:
    """Linear stretch between the minimum and maximum: per-cutout min-max normalisation (seed 001,
    Cecconello et al., for source-centred cutouts; on a wide field one bright pixel sets the top)."""

    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        if sample.size == 0:
            return {"lo": 0.0, "hi": 1.0}
        return {"lo": float(np.min(sample)), "hi": float(np.max(sample))}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        return _linear(pixels, state["lo"], state["hi"])[None]


@dataclass(frozen=True)
class ZScale:
    """IRAF zscale limits of the field, then a linear stretch (seed 002 uses contrast 0.25 and 0.4)."""

    contrast: float = 0.25
    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        lo, hi = ZScaleInterval(contrast=self.contrast).get_limits(_subsample(sample))
        return {"lo": float(lo), "hi": float(hi)}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        return _linear(pixels, state["lo"], state["hi"])[None]


@dataclass(frozen=True)
class Asinh:
    """Percentile stretch followed by asinh(x/a)/asinh(1/a): keeps bright structure without saturating."""

    low: float = 2.0
    high: float = 99.9
    a: float = 0.1
    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        lo, hi = np.percentile(sample, [self.low, self.high])
        return {"lo": float(lo), "hi": float(hi)}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        x = _linear(pixels, state["lo"], state["hi"])
        return (np.arcsinh(x / self.a) / np.arcsinh(1.0 / self.a)).astype(np.float32)[None]


@dataclass(frozen=True)
class PowerLaw:
    """Divide by the field maximum and raise to a power (seed 000, fig. 4, after Drozdova et al. 2024)."""

    power: float = 0.5
    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        return {"max": float(np.max(sample)) if sample.size else 1.0}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        x = np.clip(np.asarray(pixels, np.float32) / np.float32(state["max"] or 1.0), 0.0, 1.0)
        return np.nan_to_num(x**self.power, nan=0.0).astype(np.float32)[None]


@dataclass(frozen=True)
class SignLog:
    """sign(x) log(1 + |x|/rms) in units of the field's noise, mapped to [0, 1] (seed 000, fig. 4).

    The paper applies sign-log to raw values; in Jy/beam those are far below 1 and the log would
    be linear, so we first divide by the robust field rms.
    """

    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        rms = mad_rms(sample) or 1.0
        top = float(np.log1p(np.max(np.abs(sample)) / rms)) if sample.size else 1.0
        return {"rms": float(rms), "top": top or 1.0}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        x = np.asarray(pixels, np.float32) / np.float32(state["rms"])
        y = np.sign(x) * np.log1p(np.abs(x)) / np.float32(state["top"])
        return np.nan_to_num(np.clip(0.5 + 0.5 * y, 0.0, 1.0), nan=0.0).astype(np.float32)[None]


@dataclass(frozen=True)
class SigmaClip:
    """The background sigma-clipped: pixels below ``sigma`` x the clipped rms above its median are set
    to 0, the rest min-max scaled to (0, 1]. This is how FR-DEEP (Tang et al. 2019) and the public
    FIRST collections (Aniyan & Thorat 2017) were made: only emission above the noise is left."""

    sigma: float = 3.0  # threshold, in units of the sigma-clipped background rms
    clip: float = 3.0  # the clip that measures the background (astropy sigma_clipped_stats)
    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        median, rms = _background(sample, self.clip)
        lo = median + self.sigma * rms
        hi = float(np.max(sample)) if sample.size else lo + 1.0
        if hi <= lo:  # nothing above the threshold: the whole stamp sits at the floor
            hi = lo + (rms or 1.0)
        return {"median": median, "rms": rms, "lo": float(lo), "hi": float(hi)}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        return _linear(pixels, state["lo"], state["hi"])[None]


@dataclass(frozen=True)
class AsinhNoise:
    """asinh of the pixels in units of the sigma-clipped background noise, asinh(x / soft) with
    x = (pixel - median) / rms, divided by its value at the maximum; values below the median are 0."""

    soft: float = 3.0  # noise units where the stretch turns from linear to logarithmic
    clip: float = 3.0
    channels: int = 1

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        median, rms = _background(sample, self.clip)
        rms = rms or 1.0
        top = (float(np.max(sample)) - median) / rms if sample.size else 1.0
        return {"median": median, "rms": float(rms), "top": float(np.arcsinh(max(top, 1e-6) / self.soft))}

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        x = (np.asarray(pixels, np.float32) - np.float32(state["median"])) / np.float32(state["rms"])
        y = np.arcsinh(np.clip(x, 0.0, None) / np.float32(self.soft)) / np.float32(state["top"])
        return np.nan_to_num(np.clip(y, 0.0, 1.0), nan=0.0).astype(np.float32)[None]


@dataclass(frozen=True)
class ThreeChannel:
    """Riggi et al. 2024 (seed 002, sec. 2.3): sigma-clip (5 low, 30 high), zscale 0.25, zscale 0.4."""

    sigma_low: float = 5.0  # seed 002, sec. 2.3
    sigma_high: float = 30.0  # seed 002, sec. 2.3
    contrasts: tuple[float, float] = (0.25, 0.4)  # seed 002, sec. 2.3
    channels: int = 3

    def fit(self, sample: np.ndarray) -> dict[str, float]:
        _, median, std = sigma_clipped_stats(_subsample(sample), sigma=3.0, maxiters=5)
        state = {"clip_lo": float(median - self.sigma_low * std), "clip_hi": float(median + self.sigma_high * std)}
        for i, c in enumerate(self.contrasts):
            lo, hi = ZScaleInterval(contrast=c).get_limits(_subsample(sample))
            state[f"z{i}_lo"], state[f"z{i}_hi"] = float(lo), float(hi)
        return state

    def apply(self, pixels: np.ndarray, state: dict[str, float]) -> np.ndarray:
        return np.stack(
            [
                _linear(pixels, state["clip_lo"], state["clip_hi"]),
                _linear(pixels, state["z0_lo"], state["z0_hi"]),
                _linear(pixels, state["z1_lo"], state["z1_hi"]),
            ]
        )


SCALERS = {
    "contrast": ContrastStretch,
    "minmax": MinMax,
    "zscale": ZScale,
    "asinh": Asinh,
    "powerlaw": PowerLaw,
    "signlog": SignLog,
    "sigmaclip": SigmaClip,
    "asinh_noise": AsinhNoise,
    "three_channel": ThreeChannel,
}


def make_scaler(name: str, **params: float):
    """The scaler registered as ``name``, built with ``params``."""
    cls = lookup(SCALERS, name, "scaling")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"scaling {name!r}: bad parameters {params}: {exc}") from None


def _subsample(sample: np.ndarray, n: int = 200_000) -> np.ndarray:
    if sample.size <= n:
        return sample
    step = sample.size // n
    return sample[::step]


def _background(sample: np.ndarray, clip: float) -> tuple[float, float]:
    """Median and rms of the background of ``sample``: sigma-clipped at ``clip`` sigma until it settles."""
    if sample.size == 0:
        return 0.0, 0.0
    _, median, std = sigma_clipped_stats(_subsample(sample), sigma=clip, maxiters=10)
    return float(median), float(std)
