"""The restoring beam of a radio image, read from its header's BMAJ, BMIN and BPA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits


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


def beam_from_header(header: fits.Header) -> Beam | None:
    """The beam of BMAJ, BMIN (degrees) and BPA, or None when they are absent or not numbers."""
    if "BMAJ" in header and "BMIN" in header:
        try:
            return Beam(float(header["BMAJ"]) * 3600.0, float(header["BMIN"]) * 3600.0, float(header.get("BPA", 0.0)))
        except (TypeError, ValueError):
            return None
    return None
