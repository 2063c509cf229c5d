"""The network's input: pixels in units of the local noise, compressed by asinh, blanks as 0.

The noise is a grid of source-masked rms values (:func:`radioexplore.ingest.noise.masked_rms`) on
:data:`NOISE_BOX` px blocks, bilinearly interpolated: a field is scanned once, block row by block
row (memory bounded), and any window of it can then be scaled the same way, so blocks segmented
apart agree where they meet. Units of the local noise make simulated and real images comparable
whatever their flux scale or primary-beam correction (seed 004 trains on simulated skies and
applies the network to LoTSS images as downloaded).

Two options of a checkpoint's recipe (:func:`field_input`; inference follows training) make that
noise the thermal one the diffuse truth is cut at (2 sigma of sigma_centre / PB), which emission and
artefacts inflate in the block rms:

- *from below*: the sky's emission is positive and a calibration ripple covers every block round its
  source, so each block's rms is capped by the field's noise envelope at its distance from the centre
  (:func:`radioexplore.ranking.local_noise.noise_envelope`: the lower quartile of block MADs per
  radius, least outwards; in a primary-beam-corrected image the noise only rises outwards, seed 000
  fig. 3), as the object finder's ``detect_noise="envelope"`` does: a halo or a ripple lifts its own
  block, not the envelope.
- *ripples out*: the calibration-ripple model round sources above 100 sigma (annulus x sector
  medians, kept where they alternate in sign; Perley 1999, Grobler et al. 2014;
  :mod:`radioexplore.ranking.ripple_model`) is subtracted before the noise is measured and the
  pixels are scaled, so a relic inside the rings stands on the sky, not on the rings. With
  ``spoke_deg`` > 0 the model's radial spokes are taken out too (narrow sectors, alternating in sign
  round the source; the simulator's rings-and-spokes pattern puts most of its amplitude in spokes).

A third option adds a *second input channel*, the tapered image (:func:`taper_channel`): the field smoothed
with a Gaussian to ``k`` beam FWHM, over the noise of that smoothed image read on it from the negative side.
Halos and relics are found on tapered, low-resolution images (LoTSS-DR2 clusters: Botteon et al. 2022,
A&A 660, A78, images at 6", 20" and 60" side by side): smoothing emission that spans many beams to
``k`` beams keeps its surface brightness while the beam-correlated noise falls about ``k``-fold, so its
S/N rises with the square root of the area ratio; a point source's peak S/N falls. The first channel
stays the full-resolution image as before.
"""

from __future__ import annotations

import numpy as np

from radioexplore.ingest.noise import mad_rms, masked_rms, mesh_background
from radioexplore.io.fits import FitsImage
from radioexplore.ranking.local_noise import negative_noise_map, noise_envelope
from radioexplore.ranking.lowsb import smooth_to_beams
from radioexplore.ranking.ripple_model import RippleConfig, ripple_model

#: Side in px of the blocks the noise grid is measured on (~25 MeerKAT beams at 1.5 arcsec/px).
NOISE_BOX = 128
#: Side in px of the blocks the noise envelope from below is read on (~12 MeerKAT beams, as ranking's objects).
ENVELOPE_BOX = 64
#: Side of the median mesh, in beam FWHM, removed before the ripple model is fitted (as ranking's objects'
#: ``mesh_beams``; far larger than a ring); it is not removed from the input.
RIPPLE_MESH_BEAMS = 40.0
#: Beam FWHM in px assumed where a header gives none (as ingest assumes).
DEFAULT_BEAM_PX = 5.0
#: Side of the mesh, in beam FWHM of the image, the tapered channel's noise is read on from below (as ranking's
#: objects' ``mesh_beams``: many smoothed beams per block, since the smoothed noise is correlated over k beams).
TAPER_MESH_BEAMS = 40.0
#: asinh(S/N) is divided by this: the noise is ~0.3, a 5-sigma halo ~0.8, a 1000-sigma core ~2.5.
ASINH_SCALE = 3.0


def noise_grid(
    image: FitsImage | np.ndarray, box: int = NOISE_BOX, background_px: int = 0, from_below: bool = False
) -> np.ndarray:
    """Masked rms per ``box`` x ``box`` block of a field (NaN-free: empty blocks take the median).

    ``from_below``: each block's rms is capped by the field's noise envelope at the block centre's
    distance from the image centre (:func:`below_cap`; the module docstring says why).

    ``background_px`` > 0 first subtracts, in each block, a background of medians on a mesh of that many
    px (:func:`radioexplore.ingest.noise.masked_rms`'s ``box``): diffuse emission broader than the mesh
    then no longer inflates the noise of the block it lies in, so the input is nearer thermal-noise units
    over a halo, the units the truth's surface-brightness cut is defined in. 0: no background (checkpoints
    made before 2026-12-03)."""
    ny, nx = image.shape
    my, mx = -(-ny // box), -(-nx // box)
    grid = np.full((my, mx), np.nan)
    for i in range(my):
        rows = (
            image.read_box(0, i * box, nx, min(box, ny - i * box))
            if isinstance(image, FitsImage)
            else image[i * box : (i + 1) * box]
        )
        for j in range(mx):
            block = rows[:, j * box : (j + 1) * box]
            if np.isfinite(block).sum() >= 0.25 * block.size:
                grid[i, j] = masked_rms(block, box=background_px or None)
    good = np.isfinite(grid) & (grid > 0)
    if not good.any():
        sample = image.sample() if isinstance(image, FitsImage) else image
        fallback = mad_rms(sample)
        return np.full((my, mx), fallback if np.isfinite(fallback) and fallback > 0 else 1.0)
    grid[~good] = np.median(grid[good])
    if from_below:
        grid = below_cap(image.read() if isinstance(image, FitsImage) else np.asarray(image), grid, box)
    return grid


def below_cap(pixels: np.ndarray, grid: np.ndarray, box: int = NOISE_BOX) -> np.ndarray:
    """``grid`` (rms per ``box`` px block of ``pixels``) capped by the field's noise envelope from below at each
    block centre's radius (:func:`radioexplore.ranking.local_noise.noise_envelope`, as its ``local_sigma``)."""
    radius, env = noise_envelope(np.asarray(pixels, np.float32), ENVELOPE_BOX)
    good = np.isfinite(env) & (env > 0)
    if not good.any():
        return grid
    ny, nx = pixels.shape
    yc = (np.arange(grid.shape[0]) + 0.5) * box - 0.5 - (ny - 1) / 2.0
    xc = (np.arange(grid.shape[1]) + 0.5) * box - 0.5 - (nx - 1) / 2.0
    cap = np.interp(np.hypot(yc[:, None], xc[None, :]), radius[good], env[good])
    return np.fmin(grid, cap)


def without_ripples(pixels: np.ndarray, beam_fwhm_px: float | None, spoke_deg: float = 0.0) -> np.ndarray:
    """``pixels`` less the calibration-ripple model of their bright sources
    (:func:`radioexplore.ranking.ripple_model.ripple_model`, fitted on the image less a
    median mesh of :data:`RIPPLE_MESH_BEAMS` beams; radial spokes too in ``spoke_deg`` sectors when > 0);
    float32, NaN kept."""
    data = np.asarray(pixels, np.float32)
    if np.isfinite(data).sum() < 16:
        return data
    fwhm = float(beam_fwhm_px) if beam_fwhm_px and beam_fwhm_px > 0 else DEFAULT_BEAM_PX
    residual = data - mesh_background(data, max(16, int(round(RIPPLE_MESH_BEAMS * fwhm))))
    return data - ripple_model(residual, fwhm, RippleConfig(spoke_deg=float(spoke_deg)))


def beam_fwhm_px(image: FitsImage) -> float | None:
    """Geometric-mean beam FWHM of a field in px from its header; None without BMAJ / BMIN or a pixel scale."""
    beam, pix = getattr(image, "beam", None), getattr(image, "pixel_arcsec", None)
    if beam is None or not pix:
        return None
    return float(np.sqrt(beam.bmaj_arcsec * beam.bmin_arcsec) / pix)


def field_input(
    image: FitsImage | np.ndarray,
    background_px: int = 0,
    from_below: bool = False,
    ripples: bool = False,
    beam_px: float | None = None,
    spoke_deg: float = 0.0,
) -> tuple[FitsImage | np.ndarray, np.ndarray]:
    """What the network's input of a whole field is read from: the pixels (the ``image`` itself, or with
    ``ripples`` the in-memory image less its ripple model, spokes too with ``spoke_deg``) and their noise
    grid (:func:`noise_grid`);
    ``beam_px``: the beam FWHM in px for the ripple model (default: the header's, else
    :data:`DEFAULT_BEAM_PX`). Without either option a FitsImage is read block row by block row."""
    if ripples:
        beam = beam_px if beam_px else (beam_fwhm_px(image) if isinstance(image, FitsImage) else None)
        image = without_ripples(image.read() if isinstance(image, FitsImage) else image, beam, spoke_deg)
    return image, noise_grid(image, background_px=background_px, from_below=from_below)


def taper_channel(pixels: np.ndarray, beams: float, beam_px: float | None = None) -> np.ndarray:
    """The tapered input channel of a whole field: ``pixels`` smoothed to ``beams`` beam FWHM
    (:func:`radioexplore.ranking.lowsb.smooth_to_beams`, blanks kept out), in units of the smoothed image's own
    noise from its negative side on a :data:`TAPER_MESH_BEAMS` mesh
    (:func:`radioexplore.ranking.local_noise.negative_noise_map`: the smoothed noise is beam-correlated and sky
    emission is positive), compressed as the first channel (:func:`scale_input`); float32, 0 at blanks.
    ``beam_px``: the image's beam FWHM in px (default :data:`DEFAULT_BEAM_PX`)."""
    fwhm = float(beam_px) if beam_px and beam_px > 0 else DEFAULT_BEAM_PX
    low = smooth_to_beams(np.asarray(pixels, np.float32), fwhm, beams)
    rms = negative_noise_map(low, max(16, int(round(TAPER_MESH_BEAMS * fwhm))))
    return scale_input(low, rms)


def _axis_weights(start: int, length: int, n_blocks: int, box: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pixels start..start+length-1: the grid block before each, the one after, and the weight of the latter."""
    centres = (np.arange(n_blocks) + 0.5) * box - 0.5
    coord = np.arange(start, start + length, dtype=np.float64)
    pos = np.clip(np.interp(coord, centres, np.arange(n_blocks, dtype=np.float64)), 0, n_blocks - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_blocks - 1)
    return i0, i1, pos - i0


def noise_window(grid: np.ndarray, x0: int, y0: int, width: int, height: int, box: int = NOISE_BOX) -> np.ndarray:
    """The bilinearly interpolated noise on pixels ``[y0:y0+height, x0:x0+width]`` (constant beyond the grid's edge)."""
    iy0, iy1, ty = _axis_weights(y0, height, grid.shape[0], box)
    ix0, ix1, tx = _axis_weights(x0, width, grid.shape[1], box)
    top = grid[iy0][:, ix0] * (1 - tx) + grid[iy0][:, ix1] * tx
    bottom = grid[iy1][:, ix0] * (1 - tx) + grid[iy1][:, ix1] * tx
    return (top * (1 - ty)[:, None] + bottom * ty[:, None]).astype(np.float32)


def scale_input(pixels: np.ndarray, noise: np.ndarray | float) -> np.ndarray:
    """asinh(pixels / noise) / ASINH_SCALE as float32, 0 where a pixel is blank (NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.arcsinh(np.asarray(pixels, np.float32) / np.float32(noise) if np.isscalar(noise) else pixels / noise)
    out = np.nan_to_num(out.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    out /= np.float32(ASINH_SCALE)
    return out


def scaled_window(
    image: FitsImage | np.ndarray, grid: np.ndarray, x0: int, y0: int, width: int, height: int
) -> np.ndarray:
    """The network input on a window of a field (NaN beyond the image, which :func:`scale_input` makes 0)."""
    if isinstance(image, FitsImage):
        raw = image.read_box(x0, y0, width, height)
    else:
        raw = np.full((height, width), np.nan, np.float32)
        ny, nx = image.shape
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + width, nx), min(y0 + height, ny)
        if xb > xa and yb > ya:
            raw[ya - y0 : yb - y0, xa - x0 : xb - x0] = image[ya:yb, xa:xb]
    return scale_input(raw, noise_window(grid, x0, y0, width, height))
