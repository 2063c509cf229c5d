"""The celestial WCS of a FITS header: checked, reduced to the image plane, or refused for pixel-only mode."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from radioexplore.io.fits_checks import FitsReadError, number, one_line
from radioexplore.io.sky import sky_of_pixels

#: WCS keywords of the image plane that must be numbers: astropy's WCS silently takes a string
#: CDELT as 1 degree per pixel and a string CRVAL or CRPIX as 0.
_WCS_NUMBERS = ("CRVAL{i}", "CDELT{i}", "CRPIX{i}", "CROTA{i}", "CD{i}_1", "CD{i}_2", "PC{i}_1", "PC{i}_2")


def check_wcs_numbers(header: fits.Header, path: Path) -> None:
    """Refuse a non-numeric WCS keyword of the image plane (astropy would read it as 1 degree or 0)."""
    for i in (1, 2):
        for pattern in _WCS_NUMBERS:
            key = pattern.format(i=i)
            if key in header:
                number(header, key, 0.0, path)


def celestial_wcs(header: fits.Header, path: Path, notes: list[str], shape_xy: tuple[int, int]) -> WCS | None:
    """The header's 2-D celestial WCS, or None (pixel-only mode, the reason appended to ``notes``) when it
    is missing, broken, has no pixel scale or gives no sky position; a |Dec| > 90 is refused."""
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
        notes.append(f"{path.name}: broken WCS ({one_line(exc)}); ingesting in pixel-only mode, RA/Dec left empty")
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
        notes.append(f"{path.name}: WCS does not evaluate ({one_line(exc)}); pixel-only mode")
        return None
    if not np.isfinite(dec[0]):
        notes.append(f"{path.name}: the WCS gives no sky position at the image centre; pixel-only mode")
        return None
    if abs(dec[0]) > 90:
        raise FitsReadError(f"{path}: the WCS puts the image centre at Dec {dec[0]:.3f} (|Dec| > 90); fix the header")
    return wcs


def celestial_header(header: fits.Header, wcs: WCS | None, bunit: str) -> fits.Header:
    """A 2-D header for cutouts: the celestial WCS plus beam and the units the pixels are read in."""
    out = wcs.to_header() if wcs is not None else fits.Header()
    for key in ("BUNIT", "BMAJ", "BMIN", "BPA", "TELESCOP", "OBJECT", "DQF", "DATE-OBS", "FREQ", "RESTFRQ"):
        if key in header:
            out[key] = bunit if key == "BUNIT" else header[key]
    return out


def pixel_scale_arcsec(header: fits.Header, wcs: WCS | None) -> float | None:
    """Arcsec per pixel: the mean of the WCS's two scales, else CDELT2, else None."""
    if wcs is not None:
        scales = [abs(s.to_value("arcsec")) for s in wcs.proj_plane_pixel_scales()]
        return float(np.mean(scales))
    if isinstance(header.get("CDELT2"), int | float):
        return abs(float(header["CDELT2"])) * 3600.0
    return None
