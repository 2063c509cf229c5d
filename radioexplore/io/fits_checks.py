"""What makes a FITS file unreadable as an image, refused with a FitsReadError that names the file and the fix."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

from astropy.io import fits


class FitsReadError(ValueError):
    """A FITS file could not be read as an image; the message names the file and the reason."""


def check_path(path: Path) -> None:
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


def number(header: fits.Header, key: str, default: float, path: Path) -> float:
    """A finite numeric keyword, or ``default`` when absent; a string or non-finite value is refused."""
    if key not in header:
        return default
    value = header[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FitsReadError(f"{path}: header keyword {key} = {value!r} is not a finite number; fix the header")
    return float(value)


def blank_keyword(header: fits.Header, path: Path) -> int | None:
    """The integer BLANK keyword, or None when absent; any other value is refused."""
    if "BLANK" not in header:
        return None
    value = header["BLANK"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FitsReadError(f"{path}: header keyword BLANK = {value!r} is not an integer; fix the header")
    return int(value)


def first_image_hdu(hdul: fits.HDUList, path: Path) -> tuple[int, fits.ImageHDU]:
    """The first HDU holding an image of at least 2 axes of more than one pixel, and its index."""
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


def check_size(path: Path, hdu: fits.ImageHDU) -> None:
    """Detect a truncated file before any pixel is read: the data (a compressed HDU's table and heap
    included) must fit in what is on disk."""
    offset, size = getattr(hdu, "_data_offset", None), getattr(hdu, "_data_size", None)
    expected = offset + size if offset is not None and size is not None else None
    if expected is not None and path.stat().st_size < expected:
        raise FitsReadError(
            f"{path}: truncated: the header announces {hdu._data_size} bytes of data but the file "
            f"ends {expected - path.stat().st_size} bytes short; re-download or re-export it"
        )


def one_line(exc: Exception) -> str:
    """An exception's message on one line (wcslib's span several)."""
    return " ".join(str(exc).split())
