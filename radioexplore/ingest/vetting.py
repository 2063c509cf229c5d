"""Which FITS images an ingest can use: units, size, finite and plausible pixels, and duplicated footprints.

Each image is vetted before any tile is cut, so a file that cannot be ingested is named with
the reason (and what to do) and the others go ahead.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from radioexplore.ingest.noise import mad_rms
from radioexplore.ingest.report import IngestReport
from radioexplore.io.bunit import jy_per_beam_scale
from radioexplore.io.fits import FitsImage, read_image
from radioexplore.io.fits_checks import FitsReadError

log = logging.getLogger(__name__)

#: A field-wide robust rms above this many Jy/beam is not a radio image's noise (the brightest
#: sources in the sky are a few hundred Jy): the image's BSCALE, BZERO or BUNIT is wrong.
MAX_NOISE_JY = 1e3


def open_images(paths: list[str | Path], report: IngestReport, tile_px: int | None = None) -> list[FitsImage]:
    """Open every path as an image; failures go into the report by name and reason, the rest are returned.

    Besides what :func:`radioexplore.io.fits.read_image` refuses, each image is vetted by
    :func:`vet_image` (units, shape against ``tile_px``, finite and plausible pixel values).
    """
    images = []
    for p in paths:
        try:
            image = read_image(p)
            notes = vet_image(image, tile_px)
        except FitsReadError as exc:
            report.failed[str(p)] = str(exc).split(": ", 1)[-1] if str(exc).startswith(f"{Path(p)}: ") else str(exc)
            log.error("%s", exc)
            continue
        except Exception as exc:  # astropy's decompressors raise TypeError, OSError, zlib errors on damaged data
            report.failed[str(p)] = (
                f"its pixels cannot be read ({type(exc).__name__}: {exc}); re-download or re-export it"
            )
            log.error("%s: pixels cannot be read (%s)", p, exc)
            continue
        report.warnings.extend(image.warnings + notes)
        images.append(image)
    report.warnings.extend(shared_footprints(images))
    return images


def unit_problem(image: FitsImage) -> str | None:
    """Why ``image``'s BUNIT cannot be taken as Jy/beam, or None (an empty BUNIT is taken as Jy/beam)."""
    if not image.bunit or jy_per_beam_scale(image.bunit) is not None:
        return None
    if image.bunit.strip().upper() in ("K", "MK", "KELVIN"):
        return (
            f"BUNIT {image.bunit!r} is a brightness temperature; noise_rms is in Jy/beam, so convert the image "
            "to Jy/beam (with its beam and frequency) before ingesting"
        )
    return (
        f"BUNIT {image.bunit!r} is not Jy/beam, mJy/beam or uJy/beam; noise_rms is in Jy/beam, so convert the "
        "image or correct BUNIT"
    )


def vet_image(image: FitsImage, tile_px: int | None = None) -> list[str]:
    """Warnings for an image that can be ingested; raises FitsReadError (with the reason) for one that cannot.

    Refused: a unit that is not Jy/beam (or milli, micro), an image narrower than half a tile (its
    tiles would be mostly padding), no finite pixel, constant pixels, a non-finite or absurd noise.
    """
    name = image.path.name
    problem = unit_problem(image)
    if problem:
        raise FitsReadError(f"{image.path}: {problem}")
    notes = [] if image.bunit else [f"{name}: no BUNIT in the header; its pixels are taken to be in Jy/beam"]
    if tile_px is not None:
        short = min(image.nx, image.ny)
        if 2 * short < tile_px:
            raise FitsReadError(
                f"{image.path}: the image is {image.nx} x {image.ny} px, less than half a {tile_px} px tile "
                "across, so its tiles would be mostly padding; ingest it with --stamps or a smaller --tile"
            )
        if short < tile_px:
            notes.append(f"{name}: {image.nx} x {image.ny} px is narrower than a {tile_px} px tile; tiles are padded")
    finite = image.sample(max_pixels=250_000)
    if finite.size == 0:
        raise FitsReadError(f"{image.path}: no finite pixels (the image is all NaN or blank); nothing to ingest")
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        raise FitsReadError(f"{image.path}: every finite pixel is {low:g}: a constant image has no noise to measure")
    rms = mad_rms(finite)
    if rms == 0:  # more than half the pixels share one value (zero padding): measure the rest
        rms = mad_rms(finite[finite != np.median(finite)])
    if not np.isfinite(rms) or rms > MAX_NOISE_JY:
        raise FitsReadError(
            f"{image.path}: robust rms {rms:.3g} Jy/beam is absurd for a radio image (> {MAX_NOISE_JY:g}); "
            "check BSCALE, BZERO and BUNIT"
        )
    return notes


def shared_footprints(images: list[FitsImage]) -> list[str]:
    """Warnings for files that claim the same sky (identical WCS and shape) with different pixels."""
    groups: dict[tuple, list[FitsImage]] = defaultdict(list)
    for im in images:
        if im.wcs is None:
            continue
        w = im.wcs.wcs
        key = (
            im.shape,
            tuple(np.round(w.crval, 9)),
            tuple(np.round(w.crpix, 6)),
            tuple(np.round(w.cdelt, 12)),
            tuple(w.ctype),
        )
        groups[key].append(im)
    out = []
    for group in groups.values():
        if len(group) > 1:
            names = ", ".join(im.path.name for im in group)
            out.append(
                f"{len(group)} files claim the same sky footprint (identical WCS and shape): {names}; "
                "at most one of them can have a correct WCS, so their RA/Dec are suspect"
            )
    return out
