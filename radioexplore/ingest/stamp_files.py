"""Stamp files: finding FITS, PNG and JPEG stamps in a folder, reading one, and the collection's common size.

FITS stamps are read with their WCS, unit and beam; pictures as grey levels flipped so that row 0
is the bottom, as in FITS. A file that cannot be used raises :class:`StampError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radioexplore.ingest.vetting import unit_problem
from radioexplore.io.fits import read_image
from radioexplore.io.fits_checks import FitsReadError

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Bounds of the common tile size chosen from a collection's median stamp side. 256 px is the
#: largest side the network sees (``radioexplore.embed.embedding.MAX_EMBED_PX``): larger tiles would be
#: shrunk to it anyway.
MAX_AUTO_TILE = 256
MIN_AUTO_TILE = 32


class StampError(ValueError):
    """A stamp file or a labels table that cannot be used; the message names the file."""


@dataclass
class Stamp:
    """One stamp's pixels (row 0 at the bottom, NaN where blank) and what its file says about them."""

    path: Path
    pixels: np.ndarray
    wcs: object | None
    bunit: str
    beam_area_px: float | None
    kind: str  # "fits" or "picture"


def find_stamps(folder: str | Path) -> list[Path]:
    """FITS, PNG and JPEG files under ``folder`` (recursively), in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StampError(f"{folder}: not a folder of stamps")
    suffixes = FITS_SUFFIXES + PICTURE_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))


def read_stamp(path: str | Path) -> Stamp:
    """Read one stamp; FITS through :func:`radioexplore.io.fits.read_image` (2-4 axes, BSCALE, WCS),
    pictures through Pillow (converted to grey levels, flipped so that row 0 is the bottom)."""
    path = Path(path)
    if path.name.lower().endswith(FITS_SUFFIXES):
        try:
            image = read_image(path)
            problem = unit_problem(image)
            if problem:
                raise FitsReadError(f"{path}: {problem}")
            pixels = image.read()
        except FitsReadError as exc:
            raise StampError(str(exc)) from exc
        except Exception as exc:  # astropy's decompressors raise TypeError, OSError, zlib errors on damaged data
            raise StampError(f"{path}: its pixels cannot be read ({type(exc).__name__}: {exc})") from exc
        area = image.beam.area_pixels(image.pixel_arcsec) if image.beam and image.pixel_arcsec else None
        return Stamp(path, pixels, image.wcs, image.bunit, area, "fits")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
                pixels = np.asarray(im, dtype=np.float32)
            else:
                pixels = np.asarray(im.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise StampError(f"{path}: not a readable picture ({exc})") from exc
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise StampError(f"{path}: picture of shape {pixels.shape} is not a 2-D image")
    return Stamp(path, np.ascontiguousarray(pixels[::-1]), None, "", None, "picture")


def stamp_side(path: Path) -> int | None:
    """The longer side of a stamp in pixels, read from its header alone; None if it cannot be read."""
    try:
        if path.name.lower().endswith(FITS_SUFFIXES):
            image = read_image(path)
            return max(int(image.nx), int(image.ny))
        from PIL import Image

        with Image.open(path) as im:
            return max(im.size)
    except Exception:  # an unreadable stamp is reported by the ingest loop, not here
        return None


def common_tile_px(files: list[Path]) -> int:
    """The tile side a collection is resampled to: its median stamp side within
    [:data:`MIN_AUTO_TILE`, :data:`MAX_AUTO_TILE`] (256 if no stamp can be read)."""
    sides = [s for s in (stamp_side(f) for f in files) if s]
    if not sides:
        return MAX_AUTO_TILE
    return int(min(max(round(float(np.median(sides))), MIN_AUTO_TILE), MAX_AUTO_TILE))
