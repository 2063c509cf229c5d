"""Reading radio continuum FITS images: 2-4 axes, memory-mapped, with or without a usable WCS.

Radio images come as 4-D cubes with degenerate FREQ/STOKES axes, with BSCALE/BZERO, NaN
borders beyond the primary-beam cut-off and, now and then, a broken WCS. This module turns any
of those into one 2-D celestial image whose pixels are read lazily, box by box.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
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


#: Prefixes of the Jy/beam family of BUNIT values and their factor to Jy/beam. BUNIT is matched
#: case-insensitively, so 'MJY/BEAM' reads as milli (mega-Jansky per beam is not a radio image unit).
JY_PREFIXES = {"": 1.0, "m": 1e-3, "milli": 1e-3, "u": 1e-6, "micro": 1e-6, "n": 1e-9, "nano": 1e-9}
_JY_PER_BEAM = re.compile(r"^(?P<prefix>[a-z]*)jy(/beam|/bm|/b|beam-1|beam\^-1|beam\*\*-1|/beam\^1)$")

#: WCS keywords of the image plane that must be numbers: astropy's WCS silently takes a string
#: CDELT as 1 degree per pixel and a string CRVAL or CRPIX as 0.
_WCS_NUMBERS = ("CRVAL{i}", "CDELT{i}", "CRPIX{i}", "CROTA{i}", "CD{i}_1", "CD{i}_2", "PC{i}_1", "PC{i}_2")


class FitsReadError(ValueError):
    """A FITS file could not be read as an image; the message names the file and the reason."""


def jy_per_beam_scale(bunit: str) -> float | None:
    """Factor from ``bunit`` to Jy/beam for the Jy/beam family (Jy/beam, mJy/beam, uJy/beam, 'JY BEAM-1', ...).

    None for anything else (K, Jy/pixel, an empty or unknown unit): those cannot be converted.
    """
    text = str(bunit).strip().lower().replace("\u00b5", "u").replace("\u03bc", "u")
    text = re.sub(r"[\s.*]+", "", text)
    match = _JY_PER_BEAM.match(text)
    if match is None:
        return None
    return JY_PREFIXES.get(match["prefix"])


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
        lon, lat = np.asarray(ra, float), np.asarray(dec, float)
        frame = _non_equatorial_frame(self.wcs)
        if frame is not None:
            from astropy.coordinates import SkyCoord

            sky = SkyCoord(lon, lat, unit="deg", frame="icrs").transform_to(frame)
            lon, lat = sky.spherical.lon.deg, sky.spherical.lat.deg
        world = (lat, lon) if self.wcs.wcs.lat == 0 else (lon, lat)
        x, y = self.wcs.world_to_pixel_values(*world)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def sky_of_pixels(wcs: WCS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (ICRS degrees) of 0-based pixels through a 2-D celestial WCS.

    Handles latitude-first axes (DEC on axis 1) and non-equatorial frames (galactic, ecliptic,
    FK4), which a plain ``pixel_to_world_values`` would hand back as (Dec, RA) or (l, b).
    """
    world = wcs.pixel_to_world_values(np.asarray(x, float), np.asarray(y, float))
    lon, lat = (world[1], world[0]) if wcs.wcs.lat == 0 else (world[0], world[1])
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    frame = _non_equatorial_frame(wcs)
    if frame is not None:
        from astropy.coordinates import SkyCoord

        icrs = SkyCoord(lon, lat, unit="deg", frame=frame).icrs
        lon, lat = np.asarray(icrs.ra.deg, dtype=float), np.asarray(icrs.dec.deg, dtype=float)
    return lon, lat


def _non_equatorial_frame(wcs: WCS):
    """The WCS's celestial frame when RA/Dec must be converted to ICRS (galactic, FK4, ...); else None."""
    from astropy.coordinates import FK5, ICRS
    from astropy.wcs.utils import wcs_to_celestial_frame

    try:
        frame = wcs_to_celestial_frame(wcs)
    except ValueError:
        return None
    if isinstance(frame, ICRS) or (isinstance(frame, FK5) and abs(frame.equinox.jyear - 2000.0) < 1e-6):
        return None
    return frame


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
        _check_path(path)
    except OSError as exc:  # e.g. a folder on the way that may not be searched
        raise FitsReadError(f"{path}: cannot be opened ({_one_line(exc)})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            warnings.simplefilter("ignore", AstropyUserWarning)  # "may have been truncated": checked below
            hdul = fits.open(path, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
            hdu_index, hdu = _first_image_hdu(hdul, path)
            header = hdu.header.copy()
            shape = hdu.shape  # numpy order
            if hdul._file.compression is None:  # a .gz is read whole: its truncation shows on reading
                _check_size(path, hdu)
    except FitsReadError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError on broken files
        raise FitsReadError(f"{path}: not a readable FITS file ({type(exc).__name__}: {_one_line(exc)})") from exc

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
    bscale = _number(header, "BSCALE", 1.0, path)
    bzero = _number(header, "BZERO", 0.0, path)
    if bscale == 0.0:
        raise FitsReadError(f"{path}: BSCALE = 0 makes every pixel equal to BZERO; fix the header")
    blank = _blank(header, path)
    _check_wcs_numbers(header, path)
    wcs = _celestial_wcs(header, path, notes, (nx, ny))
    beam = _beam(header)
    pixel_arcsec = _pixel_arcsec(header, wcs)
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
        header=_celestial_header(header, wcs, bunit),
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


def _check_path(path: Path) -> None:
    """Name what is wrong with a path before astropy sees it: missing, a link loop, a folder, unreadable, empty."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (RuntimeError, OSError) as exc:  # Python < 3.13 says RuntimeError for a loop, later ELOOP
            if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
                raise FitsReadError(f"{path}: symbolic link loop; point the link at a real file") from None
            raise FitsReadError(f"{path}: broken symbolic link (its target does not exist)") from None
    if not path.exists():
        raise FitsReadError(f"{path}: no such file")
    if path.is_dir():
        raise FitsReadError(f"{path}: is a folder, not a FITS file")
    if not path.is_file():
        raise FitsReadError(f"{path}: not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK):
        raise FitsReadError(f"{path}: not readable (permission denied); fix its permissions")
    if path.stat().st_size == 0:
        raise FitsReadError(f"{path}: empty file (0 bytes); re-download or re-export it")


def _number(header: fits.Header, key: str, default: float, path: Path) -> float:
    """A finite numeric keyword, or ``default`` when absent; a string or non-finite value is refused."""
    if key not in header:
        return default
    value = header[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FitsReadError(f"{path}: header keyword {key} = {value!r} is not a finite number; fix the header")
    return float(value)


def _blank(header: fits.Header, path: Path) -> int | None:
    if "BLANK" not in header:
        return None
    value = header["BLANK"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FitsReadError(f"{path}: header keyword BLANK = {value!r} is not an integer; fix the header")
    return int(value)


def _check_wcs_numbers(header: fits.Header, path: Path) -> None:
    for i in (1, 2):
        for pattern in _WCS_NUMBERS:
            key = pattern.format(i=i)
            if key in header:
                _number(header, key, 0.0, path)


def _first_image_hdu(hdul: fits.HDUList, path: Path) -> tuple[int, fits.ImageHDU]:
    found = []
    for i, hdu in enumerate(hdul):
        if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU):
            shape = hdu.shape
            if len(shape) >= 2 and shape[-1] > 1 and shape[-2] > 1:
                return i, hdu
            found.append(f"HDU {i}: image of shape {tuple(shape) or 'none'}")
        else:
            found.append(f"HDU {i}: {type(hdu).__name__}")
    raise FitsReadError(
        f"{path}: holds no image HDU with at least 2 axes of more than one pixel (found {'; '.join(found)})"
    )


def _check_size(path: Path, hdu: fits.ImageHDU) -> None:
    """Detect a truncated file before any pixel is read: the data (a compressed HDU's table and heap
    included) must fit in what is on disk."""
    offset, size = getattr(hdu, "_data_offset", None), getattr(hdu, "_data_size", None)
    expected = offset + size if offset is not None and size is not None else None
    if expected is not None and path.stat().st_size < expected:
        raise FitsReadError(
            f"{path}: truncated: the header announces {hdu._data_size} bytes of data but the file "
            f"ends {expected - path.stat().st_size} bytes short; re-download or re-export it"
        )


def _celestial_wcs(header: fits.Header, path: Path, notes: list[str], shape_xy: tuple[int, int]) -> WCS | None:
    for i in (1, 2):
        ctype = str(header.get(f"CTYPE{i}", "")).upper()
        lat = header.get(f"CRVAL{i}")
        if (ctype.startswith("DEC-") or ctype[1:5] == "LAT-") and lat is not None and abs(float(lat)) > 90:
            raise FitsReadError(f"{path}: CRVAL{i} = {lat} on the latitude axis {ctype}: |Dec| > 90; fix the header")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2) if header.get("NAXIS", 0) > 2 else WCS(header)
            wcs = wcs.celestial if wcs.has_celestial else None
    except Exception as exc:
        notes.append(f"{path.name}: broken WCS ({_one_line(exc)}); ingesting in pixel-only mode, RA/Dec left empty")
        return None
    if wcs is None or wcs.naxis != 2:
        notes.append(f"{path.name}: no celestial WCS; ingesting in pixel-only mode, RA/Dec left empty")
        return None
    has_cd = any(f"CD{i}_{j}" in header for i in (1, 2) for j in (1, 2))
    if not has_cd and not ("CDELT1" in header and "CDELT2" in header):
        notes.append(
            f"{path.name}: no CDELT1/CDELT2 or CD matrix, so the pixel scale is unknown (a WCS would take "
            "1 degree per pixel); ingesting in pixel-only mode, RA/Dec left empty"
        )
        return None
    try:
        _, dec = sky_of_pixels(wcs, np.array([(shape_xy[0] - 1) / 2.0]), np.array([(shape_xy[1] - 1) / 2.0]))
    except Exception as exc:
        notes.append(f"{path.name}: WCS does not evaluate ({_one_line(exc)}); pixel-only mode")
        return None
    if not np.isfinite(dec[0]):
        notes.append(f"{path.name}: the WCS gives no sky position at the image centre; pixel-only mode")
        return None
    if abs(dec[0]) > 90:
        raise FitsReadError(f"{path}: the WCS puts the image centre at Dec {dec[0]:.3f} (|Dec| > 90); fix the header")
    return wcs


def _one_line(exc: Exception) -> str:
    """An exception's message on one line (wcslib's span several)."""
    return " ".join(str(exc).split())


def _celestial_header(header: fits.Header, wcs: WCS | None, bunit: str) -> fits.Header:
    """A 2-D header for cutouts: the celestial WCS plus beam and the units the pixels are read in."""
    out = wcs.to_header() if wcs is not None else fits.Header()
    for key in ("BUNIT", "BMAJ", "BMIN", "BPA", "TELESCOP", "OBJECT", "DQF", "DATE-OBS", "FREQ", "RESTFRQ"):
        if key in header:
            out[key] = bunit if key == "BUNIT" else header[key]
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
    if isinstance(header.get("CDELT2"), int | float):
        return abs(float(header["CDELT2"])) * 3600.0
    return None
