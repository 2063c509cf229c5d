"""Reading radio continuum FITS images: 2-4 axes, memory-mapped, with or without a usable WCS.

Radio images come as 4-D cubes with degenerate FREQ/STOKES axes, with BSCALE/BZERO, NaN
borders beyond the primary-beam cut-off and, now and then, a broken WCS. This module turns any
of those into one 2-D celestial image whose pixels are read lazily, box by box.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS, FITSFixedWarning

log = logging.getLogger(__name__)

#: Pixels read (on a regular sub-grid) to estimate field-wide statistics such as the scaling
#: percentiles: a million pixels pin a percentile to ~0.1%, and memory stays bounded for any image.
SAMPLE_PIXELS = 1_000_000


class FitsReadError(ValueError):
    """A FITS file could not be read as an image; the message names the file and the reason."""


@dataclass
class Beam:
    """Restoring beam: major and minor FWHM in arcsec, position angle in degrees."""

    bmaj_arcsec: float
    bmin_arcsec: float
    bpa_deg: float

    def area_pixels(self, pixel_arcsec: float) -> float:
        """Beam area in pixels, 2 pi sigma_maj sigma_min / pixel^2."""
        fwhm_to_sigma = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        return float(
            2.0 * np.pi * (self.bmaj_arcsec * fwhm_to_sigma) * (self.bmin_arcsec * fwhm_to_sigma) / pixel_arcsec**2
        )


@dataclass
class FitsImage:
    """One 2-D image plane of a FITS file, with its celestial WCS (or None) and radio metadata."""

    path: Path
    hdu_index: int
    shape: tuple[int, int]  # (ny, nx)
    header: fits.Header
    wcs: WCS | None
    beam: Beam | None
    bunit: str
    pixel_arcsec: float | None
    warnings: list[str] = field(default_factory=list)
    _plane: tuple[int, ...] = ()
    _bscale: float = 1.0
    _bzero: float = 0.0
    _blank: int | None = None

    @property
    def ny(self) -> int:
        return self.shape[0]

    @property
    def nx(self) -> int:
        return self.shape[1]

    def _raw(self) -> np.ndarray:
        """The memory-mapped plane, opened once per object (not pickled, so Dask can ship it)."""
        raw = self.__dict__.get("_cache")
        if raw is None:
            hdul = fits.open(self.path, memmap=True, do_not_scale_image_data=True)
            data = hdul[self.hdu_index].data
            raw = data[self._plane] if self._plane else data
            self.__dict__["_cache"] = raw
        return raw

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state

    def _physical(self, block: np.ndarray) -> np.ndarray:
        """Apply BLANK, BSCALE and BZERO to raw stored values."""
        values = np.asarray(block, dtype=np.float32)
        if self._blank is not None and np.issubdtype(block.dtype, np.integer):
            values[block == self._blank] = np.nan
        if self._bscale != 1.0 or self._bzero != 0.0:
            values = values * np.float32(self._bscale) + np.float32(self._bzero)
        return values

    def read_box(self, x0: int, y0: int, width: int, height: int | None = None) -> np.ndarray:
        """Pixels of ``[y0:y0+height, x0:x0+width]`` as float32, NaN where the box leaves the image."""
        height = width if height is None else height
        out = np.full((height, width), np.nan, dtype=np.float32)
        xa, ya = max(x0, 0), max(y0, 0)
        xb, yb = min(x0 + width, self.nx), min(y0 + height, self.ny)
        if xb > xa and yb > ya:
            out[ya - y0 : yb - y0, xa - x0 : xb - x0] = self._physical(self._raw()[ya:yb, xa:xb])
        return out

    def read(self) -> np.ndarray:
        """The whole plane as float32 (only for images that fit in memory)."""
        return self.read_box(0, 0, self.nx, self.ny)

    def values_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Pixel values at the nearest pixels of 0-based positions (which must lie in the image)."""
        xi = np.clip(np.round(np.asarray(x)).astype(np.int64), 0, self.nx - 1)
        yi = np.clip(np.round(np.asarray(y)).astype(np.int64), 0, self.ny - 1)
        if xi.size == 0:
            return np.empty(0, np.float32)
        return self._physical(self._raw()[yi, xi])

    def sample(self, max_pixels: int = SAMPLE_PIXELS) -> np.ndarray:
        """Finite pixels on a regular sub-grid, for field-wide statistics of images of any size."""
        step = max(1, int(np.ceil(np.sqrt(self.nx * self.ny / max_pixels))))
        raw = self._raw()
        rows = []
        for y in range(0, self.ny, step * 64):
            rows.append(self._physical(raw[y : y + step * 64 : step, ::step]).ravel())
        values = np.concatenate(rows) if rows else np.empty(0, np.float32)
        return values[np.isfinite(values)]

    def pixel_to_world(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RA, Dec in degrees of 0-based pixel positions; NaN in pixel-only mode."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.wcs is None:
            return np.full(x.shape, np.nan), np.full(y.shape, np.nan)
        ra, dec = self.wcs.pixel_to_world_values(x, y)
        return np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)

    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.wcs is None:
            raise FitsReadError(f"{self.path}: no usable WCS, so sky positions cannot be placed on its pixels")
        x, y = self.wcs.world_to_pixel_values(np.asarray(ra, float), np.asarray(dec, float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def read_image(path: str | Path) -> FitsImage:
    """Open ``path`` as a 2-D radio image without reading its pixels.

    Degenerate axes (FREQ, STOKES of length 1) are dropped; of a real cube the first plane is
    taken, with a warning. A missing or broken celestial WCS gives pixel-only mode, with a warning.

    Raises
    ------
    FitsReadError
        When the file is missing, truncated, not FITS, or holds no image of at least 2 axes.
    """
    path = Path(path)
    if not path.is_file():
        raise FitsReadError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            warnings.simplefilter("ignore", AstropyUserWarning)  # "may have been truncated": checked below
            hdul = fits.open(path, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
            hdu_index, hdu = _first_image_hdu(hdul, path)
            header = hdu.header.copy()
            shape = hdu.shape  # numpy order
            _check_size(path, hdu)
    except FitsReadError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError on broken files
        raise FitsReadError(f"{path}: not a readable FITS file ({type(exc).__name__}: {exc})") from exc

    notes: list[str] = []
    plane: list[int] = []
    naxis = len(shape)
    for axis in range(naxis - 2):  # numpy axes before the last two are FITS axes NAXIS..3
        fits_axis = naxis - axis
        if shape[axis] != 1:
            notes.append(
                f"{path.name}: axis {fits_axis} ({header.get(f'CTYPE{fits_axis}', '?')}) has "
                f"{shape[axis]} planes; using the first"
            )
        plane.append(0)
    ny, nx = shape[-2], shape[-1]
    wcs = _celestial_wcs(header, path, notes)
    beam = _beam(header)
    pixel_arcsec = _pixel_arcsec(header, wcs)
    bunit = str(header.get("BUNIT", "")).strip()
    for note in notes:
        log.warning(note)
    return FitsImage(
        path=path,
        hdu_index=hdu_index,
        shape=(int(ny), int(nx)),
        header=_celestial_header(header, wcs),
        wcs=wcs,
        beam=beam,
        bunit=bunit,
        pixel_arcsec=pixel_arcsec,
        warnings=notes,
        _plane=tuple(plane),
        _bscale=float(header.get("BSCALE", 1.0)),
        _bzero=float(header.get("BZERO", 0.0)),
        _blank=int(header["BLANK"]) if "BLANK" in header else None,
    )


def _first_image_hdu(hdul: fits.HDUList, path: Path) -> tuple[int, fits.ImageHDU]:
    for i, hdu in enumerate(hdul):
        if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU) and hdu.header.get("NAXIS", 0) >= 2:
            shape = hdu.shape
            if len(shape) >= 2 and shape[-1] > 1 and shape[-2] > 1:
                return i, hdu
    raise FitsReadError(f"{path}: holds no image HDU with at least 2 axes of more than one pixel")


def _check_size(path: Path, hdu: fits.ImageHDU) -> None:
    """Detect a truncated file before any pixel is read: the data must fit in what is on disk."""
    if isinstance(hdu, fits.CompImageHDU):
        return
    expected = hdu._data_offset + hdu._data_size if hdu._data_offset is not None else None
    if expected is not None and path.stat().st_size < expected:
        raise FitsReadError(
            f"{path}: truncated: the header announces {hdu._data_size} bytes of data but the file "
            f"ends {expected - path.stat().st_size} bytes short; re-download or re-export it"
        )


def _celestial_wcs(header: fits.Header, path: Path, notes: list[str]) -> WCS | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2) if header.get("NAXIS", 0) > 2 else WCS(header)
            wcs = wcs.celestial if wcs.has_celestial else None
    except Exception as exc:
        notes.append(f"{path.name}: broken WCS ({exc}); ingesting in pixel-only mode, RA/Dec left empty")
        return None
    if wcs is None or wcs.naxis != 2:
        notes.append(f"{path.name}: no celestial WCS; ingesting in pixel-only mode, RA/Dec left empty")
        return None
    try:
        wcs.pixel_to_world_values(0.0, 0.0)
    except Exception as exc:
        notes.append(f"{path.name}: WCS does not evaluate ({exc}); pixel-only mode")
        return None
    return wcs


def _celestial_header(header: fits.Header, wcs: WCS | None) -> fits.Header:
    """A 2-D header for cutouts: the celestial WCS plus beam and units."""
    out = wcs.to_header() if wcs is not None else fits.Header()
    for key in ("BUNIT", "BMAJ", "BMIN", "BPA", "TELESCOP", "OBJECT", "DQF", "DATE-OBS", "FREQ", "RESTFRQ"):
        if key in header:
            out[key] = header[key]
    return out


def _beam(header: fits.Header) -> Beam | None:
    if "BMAJ" in header and "BMIN" in header:
        try:
            return Beam(float(header["BMAJ"]) * 3600.0, float(header["BMIN"]) * 3600.0, float(header.get("BPA", 0.0)))
        except (TypeError, ValueError):
            return None
    return None


def _pixel_arcsec(header: fits.Header, wcs: WCS | None) -> float | None:
    if wcs is not None:
        scales = [abs(s.to_value("arcsec")) for s in wcs.proj_plane_pixel_scales()]
        return float(np.mean(scales))
    if "CDELT2" in header:
        return abs(float(header["CDELT2"])) * 3600.0
    return None
