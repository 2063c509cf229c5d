"""Reading radio continuum FITS images: 2-4 axes, memory-mapped, with or without a usable WCS.

Radio images come as 4-D cubes with degenerate FREQ/STOKES axes, with BSCALE/BZERO, NaN
borders beyond the primary-beam cut-off and, now and then, a broken WCS. This module turns any
of those into one 2-D celestial image whose pixels are read lazily, box by box.

What a file must pass is in :mod:`radioexplore.io.fits_checks` (with :class:`FitsReadError`), its
WCS in :mod:`radioexplore.io.wcs`, sky and pixel conversions in :mod:`radioexplore.io.sky`, the beam
in :mod:`radioexplore.io.beam` and Jy/beam units in :mod:`radioexplore.io.bunit`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS

from radioexplore.io.beam import Beam, beam_from_header
from radioexplore.io.bunit import jy_per_beam_scale
from radioexplore.io.fits_checks import (
    FitsReadError,
    blank_keyword,
    check_path,
    check_size,
    first_image_hdu,
    number,
    one_line,
)
from radioexplore.io.sky import pixels_of_sky, sky_of_pixels
from radioexplore.io.wcs import celestial_header, celestial_wcs, check_wcs_numbers, pixel_scale_arcsec

log = logging.getLogger(__name__)

#: Pixels read (on a regular sub-grid) to estimate field-wide statistics such as the scaling
#: percentiles: a million pixels pin a percentile to ~0.1%, and memory stays bounded for any image.
SAMPLE_PIXELS = 1_000_000


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
    _unit_scale: float = 1.0  # stored units to Jy/beam (e.g. 1e-3 for mJy/beam); bunit then says JY/BEAM

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
        """Apply BLANK, BSCALE, BZERO and the unit conversion to raw stored values (overflow gives inf)."""
        values = np.asarray(block, dtype=np.float32)
        if self._blank is not None and np.issubdtype(block.dtype, np.integer):
            values[block == self._blank] = np.nan
        with np.errstate(over="ignore", invalid="ignore"):
            if self._bscale != 1.0 or self._bzero != 0.0:
                values = values * np.float32(self._bscale) + np.float32(self._bzero)
            if self._unit_scale != 1.0:
                values = values * np.float32(self._unit_scale)
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
        return sky_of_pixels(self.wcs, x, y)

    def world_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """0-based pixel positions of RA, Dec (ICRS degrees), whatever the order and frame of the WCS axes."""
        if self.wcs is None:
            raise FitsReadError(f"{self.path}: no usable WCS, so sky positions cannot be placed on its pixels")
        return pixels_of_sky(self.wcs, ra, dec)


def read_image(path: str | Path) -> FitsImage:
    """Open ``path`` as a 2-D radio image without reading its pixels.

    Degenerate axes (FREQ, STOKES of length 1) are dropped; of a real cube the first plane is
    taken, with a warning. A missing or broken celestial WCS gives pixel-only mode, with a warning.
    Pixels in mJy/beam or uJy/beam are read in Jy/beam (``bunit`` then says JY/BEAM).

    Raises
    ------
    FitsReadError
        When the file is missing, unreadable, truncated, not FITS, holds no image of at least
        2 axes, or its header has a non-numeric BSCALE, BZERO, BLANK or WCS keyword, or a |Dec| > 90.
    """
    path = Path(path)
    try:
        check_path(path)
    except OSError as exc:  # e.g. a folder on the way that may not be searched
        raise FitsReadError(f"{path}: cannot be opened ({one_line(exc)})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            warnings.simplefilter("ignore", AstropyUserWarning)  # "may have been truncated": checked below
            hdul = fits.open(path, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
            hdu_index, hdu = first_image_hdu(hdul, path)
            header = hdu.header.copy()
            shape = hdu.shape  # numpy order
            if hdul._file.compression is None:  # a .gz is read whole: its truncation shows on reading
                check_size(path, hdu)
    except FitsReadError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError on broken files
        raise FitsReadError(f"{path}: not a readable FITS file ({type(exc).__name__}: {one_line(exc)})") from exc

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
    bscale = number(header, "BSCALE", 1.0, path)
    bzero = number(header, "BZERO", 0.0, path)
    if bscale == 0.0:
        raise FitsReadError(f"{path}: BSCALE = 0 makes every pixel equal to BZERO; fix the header")
    blank = blank_keyword(header, path)
    check_wcs_numbers(header, path)
    wcs = celestial_wcs(header, path, notes, (nx, ny))
    beam = beam_from_header(header)
    pixel_arcsec = pixel_scale_arcsec(header, wcs)
    bunit = str(header.get("BUNIT", "")).strip()
    unit_scale = jy_per_beam_scale(bunit) or 1.0
    if unit_scale != 1.0:
        notes.append(f"{path.name}: BUNIT {bunit!r} converted to Jy/beam (x {unit_scale:g})")
        bunit = "JY/BEAM"
    for note in notes:
        log.warning(note)
    return FitsImage(
        path=path,
        hdu_index=hdu_index,
        shape=(int(ny), int(nx)),
        header=celestial_header(header, wcs, bunit),
        wcs=wcs,
        beam=beam,
        bunit=bunit,
        pixel_arcsec=pixel_arcsec,
        warnings=notes,
        _plane=tuple(plane),
        _bscale=bscale,
        _bzero=bzero,
        _blank=blank,
        _unit_scale=unit_scale,
    )
