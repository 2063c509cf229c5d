"""What a radio image viewer needs besides the pixels: display stretches, n-sigma contour levels,
the sky position under the cursor, a scale bar, the beam and catalogue ellipses, the whole field
downsampled and a tile's neighbourhood on the sky.

Stretches keep the image in its own unit (the colour bar stays in mJy/beam, as in DS9): a preset
picks the display limits (through the scalers of :mod:`radioexplore.ingest.scaling`) and a transfer curve
that spaces the colours of a linear colour mapper, so asinh or log only change which colour a value gets.
Pixel positions are 0-based and in the source image, as in the tile table (``x0``, ``y0``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd

from radioexplore.ingest.noise import mad_rms
from radioexplore.ingest.scaling import Asinh, ContrastStretch, ZScale
from radioexplore.io.beam import Beam
from radioexplore.io.fits import FitsImage

#: The stretch presets, in the order the viewer offers them.
STRETCHES = ("linear", "asinh", "log", "zscale", "percentile")
#: Softening of the log stretch: log(1 + x/a)/log(1 + 1/a) on the linear [0, 1] value.
LOG_A = 0.01
#: Contour level sets (in units of the local rms); each continues by doubling up to the peak.
CONTOUR_SETS = {"3, 5, 10, 20, …": (3.0, 5.0, 10.0, 20.0), "5, 10, 20, …": (5.0, 10.0, 20.0), "3, 6, 12, …": (3.0, 6.0)}


@dataclass(frozen=True)
class StretchLimits:
    """The limits a user sets: percentiles (percentile, asinh) or multiples of the noise (linear, log)."""

    low_percentile: float = 1.0
    high_percentile: float = 99.9
    min_sigma: float = -3.0
    max_sigma: float = 50.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise ValueError(
                f"stretch percentiles must satisfy 0 <= low < high <= 100, got {self.low_percentile}, "
                f"{self.high_percentile}"
            )
        if not self.min_sigma < self.max_sigma:
            raise ValueError(f"stretch min_sigma {self.min_sigma} must be below max_sigma {self.max_sigma}")


@dataclass(frozen=True)
class Stretch:
    """A fitted stretch: display limits ``lo``, ``hi`` in the image's unit and a transfer ``curve``
    from the linear position in [lo, hi] (sampled evenly on [0, 1]) to the colour position in [0, 1]."""

    name: str
    lo: float
    hi: float
    curve: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``values`` mapped to [0, 1] colour positions (NaN stays NaN)."""
        span = self.hi - self.lo if self.hi > self.lo else 1.0
        x = np.clip((np.asarray(values, dtype=np.float64) - self.lo) / span, 0.0, 1.0)
        out = np.interp(x, np.linspace(0.0, 1.0, self.curve.size), self.curve)
        return np.where(np.isfinite(values), out, np.nan)

    def palette(self, cmap: str = "inferno", n: int = 512) -> list[str]:
        """``n`` hex colours for a linear colour mapper between ``lo`` and ``hi`` that draw this stretch."""
        positions = np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, self.curve.size), self.curve)
        rgb = matplotlib.colormaps[cmap](positions)[:, :3]
        return [matplotlib.colors.to_hex(c) for c in rgb]


def _curve(name: str, n: int = 1024) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n, dtype=np.float32)
    if name == "asinh":
        return Asinh().apply(x, {"lo": 0.0, "hi": 1.0})[0].astype(np.float64)
    if name == "log":
        return np.log1p(x / LOG_A) / np.log1p(1.0 / LOG_A)
    return x.astype(np.float64)


def fit_stretch(pixels: np.ndarray, name: str, rms: float | None, limits: StretchLimits = StretchLimits()) -> Stretch:
    """The stretch ``name`` (one of :data:`STRETCHES`) fitted to ``pixels``, with the noise ``rms``
    (the robust rms of the pixels when None) for the limits in units of the noise."""
    if name not in STRETCHES:
        raise ValueError(f"unknown stretch {name!r}; choose one of {', '.join(STRETCHES)}")
    finite = np.asarray(pixels, dtype=np.float32)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return Stretch(name, 0.0, 1.0, _curve(name))
    if rms is None or not np.isfinite(rms) or rms <= 0:
        rms = mad_rms(finite) or float(np.ptp(finite)) or 1.0
    if name in ("linear", "log"):
        lo, hi = limits.min_sigma * rms, limits.max_sigma * rms
    elif name == "zscale":
        state = ZScale().fit(finite)
        lo, hi = state["lo"], state["hi"]
    elif name == "asinh":
        state = Asinh(low=limits.low_percentile, high=limits.high_percentile).fit(finite)
        lo, hi = state["lo"], state["hi"]
    else:
        state = ContrastStretch(low=limits.low_percentile, high=limits.high_percentile).fit(finite)
        lo, hi = state["lo"], state["hi"]
    if not hi > lo:
        hi = lo + (rms or 1.0)
    return Stretch(name, float(lo), float(hi), _curve(name))


def sigma_levels(base: tuple[float, ...], peak_snr: float, limit: int = 12) -> list[float]:
    """Contour levels in units of the noise: ``base`` continued by doubling, those below ``peak_snr``."""
    levels = [float(b) for b in base]
    while levels and levels[-1] * 2 < peak_snr and len(levels) < limit:
        levels.append(levels[-1] * 2)
    return [lv for lv in levels if lv < peak_snr]


def contour_levels(pixels: np.ndarray, rms: float, base: tuple[float, ...] = (3.0, 5.0, 10.0, 20.0)) -> list[float]:
    """Contour levels in the pixels' unit at ``base`` x ``rms`` and on by doubling, up to the peak."""
    if rms is None or not np.isfinite(rms) or rms <= 0:
        raise ValueError(f"noise rms {rms!r} must be a positive number to draw n-sigma contours")
    values = np.asarray(pixels, dtype=np.float64)
    peak = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    return [lv * rms for lv in sigma_levels(base, peak / rms)]


def format_radec(ra_deg: float, dec_deg: float, precision: int = 2) -> str:
    """RA/Dec in degrees as sexagesimal text, e.g. ``12h34m56.78s -45d12m34.5s``."""
    from astropy.coordinates import SkyCoord

    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg)):
        return "–"
    return SkyCoord(float(ra_deg), float(dec_deg), unit="deg").to_string("hmsdms", precision=precision)


def sky_readout(image: FitsImage, x: float, y: float) -> str:
    """The sky position of 0-based pixel (x, y) of ``image`` as sexagesimal RA/Dec, or why there is none."""
    if image.wcs is None:
        return f"{image.path.name} has no usable WCS: pixel ({x:.1f}, {y:.1f})"
    ra, dec = image.pixel_to_world(np.array([x]), np.array([y]))
    return format_radec(float(ra[0]), float(dec[0]))


_NICE_ARCSEC = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 18000, 36000)


def scale_bar(pixel_arcsec: float, width_px: float, fraction: float = 0.25) -> tuple[float, str]:
    """A round scale-bar length (in pixels) near ``fraction`` of an image ``width_px`` wide, and its label."""
    if pixel_arcsec is None or not pixel_arcsec > 0:
        raise ValueError(f"pixel size {pixel_arcsec!r} arcsec must be positive for a scale bar")
    target = fraction * width_px * pixel_arcsec
    arcsec = max((a for a in _NICE_ARCSEC if a <= target), default=_NICE_ARCSEC[0])
    if arcsec >= 3600:
        label = f"{arcsec / 3600:g}°"
    elif arcsec >= 60:
        label = f"{arcsec / 60:g}′"
    else:
        label = f"{arcsec:g}″"
    return arcsec / pixel_arcsec, label


def beam_ellipse(beam: Beam, pixel_arcsec: float) -> tuple[float, float, float]:
    """``(major_px, minor_px, orientation)`` of the beam FWHM ellipse, orientation in radians
    counter-clockwise from +x with north up and east left (BPA is east of north)."""
    return ellipse_px(beam.bmaj_arcsec, beam.bmin_arcsec, beam.bpa_deg, pixel_arcsec)


def ellipse_px(
    major_arcsec: float, minor_arcsec: float, pa_deg: float, pixel_arcsec: float
) -> tuple[float, float, float]:
    """An ellipse on the sky (FWHM axes, position angle east of north) in pixels, north up, east left."""
    return major_arcsec / pixel_arcsec, minor_arcsec / pixel_arcsec, math.radians(90.0 + pa_deg)


def catalogue_components(
    catalog: pd.DataFrame, image: FitsImage, box: tuple[int, int, int, int], beam: Beam | None = None
) -> pd.DataFrame:
    """Catalogue components inside pixel ``box`` (x0, y0, width, height) of ``image``, as ellipses:
    columns ``x``, ``y``, ``major``, ``minor`` (pixels), ``orientation`` (radians, as :func:`ellipse_px`).

    Sizes come from the catalogue's ``maj``, ``min``, ``pa`` (degrees, PyBDSF) where it has them,
    else from the beam (a point source), else a 3-pixel circle."""
    cols = ["x", "y", "major", "minor", "orientation"]
    if catalog.empty or image.wcs is None:
        return pd.DataFrame(columns=cols)
    x, y = image.world_to_pixel(catalog["ra"].to_numpy(), catalog["dec"].to_numpy())
    x0, y0, w, h = box
    inside = np.isfinite(x) & np.isfinite(y) & (x >= x0 - 0.5) & (x < x0 + w - 0.5)
    inside &= (y >= y0 - 0.5) & (y < y0 + h - 0.5)
    cat = catalog[inside]
    pix = image.pixel_arcsec or 1.0
    if beam is not None:
        default = (beam.bmaj_arcsec, beam.bmin_arcsec, beam.bpa_deg)
    else:
        default = (3 * pix, 3 * pix, 0.0)
    rows = []
    for xi, yi, (_, c) in zip(x[inside], y[inside], cat.iterrows(), strict=True):
        maj, mn, pa = (c.get("maj"), c.get("min"), c.get("pa"))
        if maj is not None and mn is not None and np.isfinite(maj) and np.isfinite(mn) and maj > 0:
            shape = (float(maj) * 3600, float(mn) * 3600, float(pa) if pa is not None and np.isfinite(pa) else 0.0)
        else:
            shape = default
        rows.append((float(xi), float(yi), *ellipse_px(*shape, pix)))
    return pd.DataFrame(rows, columns=cols)


def downsample_field(image: FitsImage, max_px: int = 1024, strip_px: int = 4096) -> tuple[np.ndarray, int]:
    """The whole image block-averaged by an integer ``step`` so its longer side is at most ``max_px``;
    returns ``(array, step)``, read in strips of about ``strip_px`` rows so any size fits in memory.
    Output pixel (j, i) covers input pixels ``[j*step, (j+1)*step)`` x ``[i*step, (i+1)*step)``."""
    if max_px < 1:
        raise ValueError(f"max_px must be at least 1, got {max_px}")
    step = max(1, math.ceil(max(image.nx, image.ny) / max_px))
    ny_out, nx_out = math.ceil(image.ny / step), math.ceil(image.nx / step)
    out = np.full((ny_out, nx_out), np.nan, dtype=np.float32)
    rows_per_strip = max(1, strip_px // step)
    for j0 in range(0, ny_out, rows_per_strip):
        j1 = min(ny_out, j0 + rows_per_strip)
        block = image.read_box(0, j0 * step, nx_out * step, (j1 - j0) * step)  # NaN beyond the edges
        block = block.reshape(j1 - j0, step, nx_out, step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks (blanked borders) stay NaN
            out[j0:j1] = np.nanmean(block, axis=(1, 3))
    return out, step


def neighbourhood_box(x0: int, y0: int, size: int, reach: int = 1) -> tuple[int, int, int, int]:
    """``(x0, y0, width, height)`` of the (2 reach + 1)^2 tiles' area centred on a tile (3x3 for reach 1)."""
    return x0 - reach * size, y0 - reach * size, (2 * reach + 1) * size, (2 * reach + 1) * size


def tiles_in_box(tiles: pd.DataFrame, box: tuple[int, int, int, int]) -> pd.DataFrame:
    """Rows of ``tiles`` (with ``x0``, ``y0``, ``size``) whose pixel box overlaps ``box``."""
    x0, y0, w, h = box
    overlap = (tiles["x0"] < x0 + w) & (tiles["x0"] + tiles["size"] > x0)
    overlap &= (tiles["y0"] < y0 + h) & (tiles["y0"] + tiles["size"] > y0)
    return tiles[overlap]


def tile_at(tiles: pd.DataFrame, x: float, y: float) -> int | None:
    """``tile_id`` of the tile whose box holds pixel (x, y), the one whose centre is nearest where
    tiles overlap; None when no tile does."""
    if x is None or y is None or tiles.empty:
        return None
    size = tiles["size"].to_numpy()
    x0, y0 = tiles["x0"].to_numpy(), tiles["y0"].to_numpy()
    inside = (x >= x0 - 0.5) & (x < x0 + size - 0.5) & (y >= y0 - 0.5) & (y < y0 + size - 0.5)
    if not inside.any():
        return None
    d = np.hypot(x0 + (size - 1) / 2 - x, y0 + (size - 1) / 2 - y)
    d[~inside] = np.inf
    return int(tiles["tile_id"].to_numpy()[int(np.argmin(d))])
