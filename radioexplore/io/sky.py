"""Sky and pixel positions through a 2-D celestial WCS, whatever its axis order and frame (ICRS degrees)."""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS


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


def pixels_of_sky(wcs: WCS, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based pixel positions of RA, Dec (ICRS degrees) through a 2-D celestial WCS, the inverse of
    :func:`sky_of_pixels` (latitude-first axes and non-equatorial frames included)."""
    lon, lat = np.asarray(ra, float), np.asarray(dec, float)
    frame = _non_equatorial_frame(wcs)
    if frame is not None:
        from astropy.coordinates import SkyCoord

        sky = SkyCoord(lon, lat, unit="deg", frame="icrs").transform_to(frame)
        lon, lat = sky.spherical.lon.deg, sky.spherical.lat.deg
    world = (lat, lon) if wcs.wcs.lat == 0 else (lon, lat)
    x, y = wcs.world_to_pixel_values(*world)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


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
