"""The one place that decides how flux densities are shown: every view shows Jy/beam images, their
noise and their colour bars in mJy/beam, and S/N views in units of the local noise.

Images are read in Jy/beam (:func:`radioexplore.io.fits.read_image` converts mJy/beam and uJy/beam);
images in other units (or none) are shown as they are, under their own BUNIT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The unit every view shows surface brightness in when the image is in Jy/beam.
DISPLAY_UNIT = "mJy/beam"
#: Jy/beam to :data:`DISPLAY_UNIT`.
DISPLAY_FACTOR = 1e3
#: The unit of an S/N view.
SNR_UNIT = "S/N"


def is_jy_per_beam(bunit: object) -> bool:
    """True when an image's BUNIT (as :func:`radioexplore.io.fits.read_image` leaves it) is Jy/beam."""
    return str(bunit or "").strip().upper().startswith("JY")


@dataclass(frozen=True)
class DisplayUnit:
    """How an image's values are shown: multiply by ``factor`` and label with ``label``."""

    factor: float
    label: str

    def values(self, values: np.ndarray | float) -> np.ndarray | float:
        """``values`` in the image's unit (Jy/beam) in this display unit."""
        return np.asarray(values) * self.factor

    def text(self, value: float, digits: int = 3) -> str:
        """One value in this unit as text, e.g. ``0.0312 mJy/beam``."""
        if value is None or not np.isfinite(value):
            return "–"
        return f"{value * self.factor:.{digits}g} {self.label}"


def display_unit(bunit: object) -> DisplayUnit:
    """The display unit for an image whose BUNIT is ``bunit``: mJy/beam for Jy/beam, else as is."""
    if is_jy_per_beam(bunit):
        return DisplayUnit(DISPLAY_FACTOR, DISPLAY_UNIT)
    label = str(bunit or "").strip()
    return DisplayUnit(1.0, label if label and label.lower() != "nan" else "image units")


def signal_to_noise(values: np.ndarray, rms: float) -> np.ndarray:
    """``values`` in units of the noise ``rms`` (same unit as ``values``); raises on a useless rms."""
    if rms is None or not np.isfinite(rms) or rms <= 0:
        raise ValueError(f"noise rms {rms!r} must be a positive number to show S/N")
    return np.asarray(values, dtype=np.float32) / np.float32(rms)
