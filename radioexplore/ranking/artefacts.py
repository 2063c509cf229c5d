"""The artefact axis: how much a tile looks like an imaging artefact rather than the sky, 0..1.

Built from what makes an artefact an artefact in a radio image, measured on the tile's own Jy/beam
pixels (read from the source FITS: ``tiles.zarr`` holds pixels stretched to [0, 1] per field, in
which everything below the field's 2nd percentile is clipped to 0, so troughs cannot be seen there)
in units of the local noise sigma (robust MAD; see :func:`radioexplore.ranking.local_noise.local_sigma`):

- negative structure: sky emission is positive, while residual phase and amplitude calibration
  errors convolve a bright source with an error pattern whose negative lobes are as deep as the
  positive ones, and deconvolution errors leave negative bowls (Taylor, Carilli & Perley 1999,
  "Synthesis Imaging in Radio Astronomy II", ch. 13 and 15; Thompson, Moran & Swenson,
  "Interferometry and Synthesis in Radio Astronomy", ch. 11). Gaussian noise puts 3e-7 of its
  pixels below -5 sigma (0.02 px of a 256 px tile), so ``negative_beams`` (beams of pixels below
  -5 sigma) needs no fitted threshold; ``negative_share`` is the share of the flux beyond 5 sigma
  that is negative (0 for sky, about 1/2 for an error pattern);
- ripple periodicity: ``ripple_sigma``, the significance of the strongest plane-wave ripple at
  periods of 1-4 beams in the tile's power spectrum with its sources masked, against isotropic
  noise (:mod:`radioexplore.ranking.ripples`; Perley 1999, Grobler et al. 2014): far from a bright
  source its calibration ripples, and stripes and spokes, stay periodic when their troughs stay
  above -5 sigma;
- ring periodicity: ``ring_contrast``, the significance of the negative annuli of the azimuthal
  profile round the nearest bright source (concentric ripples, bowls), in units of the standard
  error of an annulus mean (1 px annuli, one independent sample per beam along the ring);
- the nearest bright source: artefacts scale with the source's flux (the same references), so
  ``bright_snr`` (its peak / the tile's sigma), ``bright_distance_beams`` (from the source to the
  nearest pixel of the tile) and ``expected_artefact_sigma``, the level a residual calibration
  error of ``calibration_error`` of the source's peak would leave there (falling as the square
  root of the distance in beams beyond one beam), and its position in the field (``bright_x``,
  ``bright_y``, pixels; ``beam_px``, the restoring beam's FWHM), which names the source an ARTEFACT label implicates
  (:mod:`radioexplore.ranking.sidelobes`). With ``source_by_ripple`` the tile's own ripple names it too: an
  error pattern is centred on its source (rings concentric on it, spokes radial), so in a tile well away
  from the source the ripple's wave vector points at it; among the field's candidates the one chosen is
  the most probable given both, its expected level times the density of the observed angle between the
  wave vector and the direction to it (a Gaussian as wide as the periodogram cell and the ring's
  curvature across the tile, plus a uniform floor for ripples that come from no candidate: stripes,
  image-wide ripples), where the tile's ripple reaches the 5 sigma convention;
- the field: ``field_dynamic_range`` (field peak / median tile sigma) and ``dqf``, the MGCLS
  data-quality flag (Knowles et al. 2022, as in seed 000, sec. 2.1: 2 = poor dynamic range with
  bright-source artefacts, 3 = ripples across the image).

:func:`artefact_score` combines them by a fixed, transparent rule with no threshold fitted to any
survey: each quantity becomes a number in 0..1 against the 5 sigma detection convention; the
evidence in the tile (negative depth, negative share, ring contrast) is weighted by the context
(bright neighbour, dynamic range, DQF), so that bright sky without troughs stays low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radioexplore.ranking.local_noise import local_sigma, mad_sigma, noise_envelope
from radioexplore.ranking.ripples import ripple_peak

#: Feature columns of :func:`field_artefact_features`, in order.
FEATURES = (
    "local_sigma",
    "negative_beams",
    "negative_share",
    "ring_contrast",
    "ripple_sigma",
    "bright_snr",
    "bright_distance_beams",
    "expected_artefact_sigma",
    "bright_x",
    "bright_y",
    "beam_px",
    "field_dynamic_range",
    "dqf",
)
#: Equivalent width of a Gaussian in units of its FWHM: pixels per independent sample along a line.
GAUSS_EQUIVALENT_WIDTH = 1.0645
#: Area of a Gaussian beam in units of FWHM^2 (pi / (4 ln 2)).
BEAM_AREA_FWHM2 = 1.1331
#: Tiles processed together (memory: a few arrays of CHUNK x S x S).
CHUNK = 32


@dataclass(frozen=True)
class ArtefactConfig:
    """Constants of the artefact axis: physical conventions, not fitted to a survey."""

    trough_sigma: float = 5.0  # the detection convention (seed 000, sec. 2.3: PyBDSF at 5 sigma)
    bright_sigma: float = 50.0  # field peaks above this many sigma are candidate bright sources
    max_bright: int = 64  # at most this many candidates per field, brightest first
    calibration_error: float = 0.01  # residual gain error after self-calibration, ~1% (Taylor et al. 1999)
    beam_px: float = 5.0  # restoring-beam FWHM in px when the FITS header gives no beam
    source_by_ripple: bool = False  # the tile's ripple direction names its source too (tried: benchmarks/README)

    def __post_init__(self) -> None:
        for name in ("trough_sigma", "bright_sigma", "calibration_error", "beam_px"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ArtefactConfig.{name} must be positive; got {getattr(self, name)}")


def bright_sources(
    image: np.ndarray, sigma: float, config: ArtefactConfig, beam_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate bright sources of a field: ``(x, y, peak)`` of the brightest pixel of each block of
    two beams whose peak exceeds ``config.bright_sigma * sigma``, at most ``config.max_bright``."""
    block = max(2, int(round(2 * beam_px)))
    ny, nx = image.shape
    py, px = -ny % block, -nx % block
    img = np.nan_to_num(image, nan=-np.inf)
    if py or px:
        img = np.pad(img, ((0, py), (0, px)), constant_values=-np.inf)
    my, mx = img.shape[0] // block, img.shape[1] // block
    blocks = img.reshape(my, block, mx, block).transpose(0, 2, 1, 3).reshape(my, mx, -1)
    peak = blocks.max(axis=2)
    where = np.argwhere(np.isfinite(peak) & (peak > config.bright_sigma * sigma))
    if where.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    vals = peak[where[:, 0], where[:, 1]]
    keep = np.argsort(-vals)[: config.max_bright]
    where, vals = where[keep], vals[keep]
    arg = blocks[where[:, 0], where[:, 1]].argmax(axis=1)
    ys = where[:, 0] * block + arg // block
    xs = where[:, 1] * block + arg % block
    return xs.astype(float), ys.astype(float), vals.astype(float)


def _in_sigma(tiles: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tiles in units of their noise (blanks and tiles without a noise 0), and which tiles have a noise."""
    sigma = np.asarray(sigma, dtype=np.float64)
    good = np.isfinite(sigma) & (sigma > 0)
    z = tiles / np.where(good, sigma, np.inf)[:, None, None].astype(np.float32)
    return np.where(np.isfinite(z), z, np.float32(0.0)), good


def tile_artefact_features(
    tiles: np.ndarray,
    sigma: np.ndarray,
    centres: np.ndarray,
    beam_px: float,
    trough_sigma: float = 5.0,
    ripple: np.ndarray | None = None,
) -> pd.DataFrame:
    """Negative structure, ring contrast and ripple significance of tiles ``[T, S, S]`` (Jy/beam, NaN for blanks).

    ``sigma``: each tile's noise (Jy/beam); ``centres``: ``[T, 2]`` (x, y) in the tile's pixel frame
    of the source the rings would surround (may lie outside the tile; NaN: the tile's brightest pixel);
    ``ripple``: the tiles' ripple significance when already measured (:func:`radioexplore.ranking.ripples.ripple_peak`).
    """
    t, ny, nx = tiles.shape
    z, good = _in_sigma(tiles, sigma)
    beam_area = BEAM_AREA_FWHM2 * beam_px**2
    low, high = z < -trough_sigma, z > trough_sigma
    negative_beams = low.sum(axis=(1, 2)) / beam_area
    neg_flux = -(z * low).sum(axis=(1, 2), dtype=np.float64)
    pos_flux = (z * high).sum(axis=(1, 2), dtype=np.float64)
    total = neg_flux + pos_flux
    negative_share = np.divide(neg_flux, total, out=np.zeros(t), where=total > 0)

    centres = np.array(centres, dtype=np.float64).reshape(t, 2)
    flat = z.reshape(t, -1)
    brightest = flat.argmax(axis=1)
    missing = ~np.isfinite(centres).all(axis=1)
    centres[missing, 0] = brightest[missing] % nx
    centres[missing, 1] = brightest[missing] // nx
    yy, xx = np.indices((ny, nx), dtype=np.float32)
    r = np.hypot(
        xx[None] - centres[:, 0, None, None].astype(np.float32), yy[None] - centres[:, 1, None, None].astype(np.float32)
    )
    rbin = np.floor(r).astype(np.int64).reshape(t, -1)
    lo = rbin.min(axis=1)
    rbin -= lo[:, None]
    width = int(rbin.max()) + 1
    offset = (np.arange(t) * width)[:, None]
    finite = np.isfinite(tiles).reshape(t, -1)
    idx = (rbin + offset)[finite]
    counts = np.bincount(idx, minlength=t * width).reshape(t, width)
    sums = np.bincount(idx, weights=flat[finite].astype(np.float64), minlength=t * width).reshape(t, width)
    n_eff = counts / (GAUSS_EQUIVALENT_WIDTH * beam_px)  # independent samples along a 1 px annulus
    usable = n_eff >= 1.0
    usable &= (np.arange(width)[None, :] + lo[:, None]) >= 2.0 * beam_px  # beyond the source itself
    zbar = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0) * np.sqrt(n_eff)
    neg = np.where(usable, np.minimum(zbar, 0.0) ** 2, 0.0)
    n_use = usable.sum(axis=1)
    ring_contrast = np.sqrt(np.divide(neg.sum(axis=1), n_use, out=np.zeros(t), where=n_use > 0))
    out = pd.DataFrame(
        {
            "negative_beams": negative_beams,
            "negative_share": negative_share,
            "ring_contrast": ring_contrast,
            "ripple_sigma": ripple_peak(z, beam_px, trough_sigma)[0] if ripple is None else ripple,
        }
    )
    out.loc[~good, :] = np.nan
    return out


def field_artefact_features(
    image: np.ndarray,
    boxes: pd.DataFrame,
    beam_px: float,
    dqf: int | None = None,
    config: ArtefactConfig = ArtefactConfig(),
    sigma: np.ndarray | float | None = None,
) -> pd.DataFrame:
    """Every :data:`FEATURES` column for the tiles ``boxes`` (x0, y0, size) of one field ``image`` (Jy/beam).

    ``sigma``: the tiles' noise if known (a scalar or one per box); by default
    :func:`radioexplore.ranking.local_noise.local_sigma` with the field's noise envelope.
    Bright sources are looked for over the whole field, so a tile sees one beyond its edge.
    """
    x0 = boxes["x0"].to_numpy(dtype=np.int64)
    y0 = boxes["y0"].to_numpy(dtype=np.int64)
    size = boxes["size"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(index=boxes.index, columns=list(FEATURES), dtype=float)
    if len(boxes) == 0:
        return out
    for s in np.unique(size):  # a run has one tile size; tiles of each size go in chunks
        sel_all = np.flatnonzero(size == s)
        chunks = [sel_all[i : i + CHUNK] for i in range(0, len(sel_all), CHUNK)]
        if sigma is None:
            mad = np.concatenate([mad_sigma(_crops(image, x0[c], y0[c], int(s))) for c in chunks])
            envelope = noise_envelope(image, min(64, int(s)))
            sig_all = local_sigma(mad, x0[sel_all], y0[sel_all], size[sel_all], envelope, image.shape)
        else:
            sig_all = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (len(boxes),))[sel_all].copy()
        finite_sig = sig_all[np.isfinite(sig_all) & (sig_all > 0)]
        field_sigma = float(np.median(finite_sig)) if finite_sig.size else np.nan
        bx, by, bpeak = (
            bright_sources(image, field_sigma, config, beam_px) if np.isfinite(field_sigma) else (np.zeros(0),) * 3
        )
        peak = float(np.nanmax(image)) if np.isfinite(image).any() else np.nan
        for c in chunks:
            sig = sig_all[np.searchsorted(sel_all, c)]
            rows = boxes.index[c]
            crops = _crops(image, x0[c], y0[c], int(s))
            wave = ripple_peak(_in_sigma(crops, sig)[0], beam_px, config.trough_sigma)
            centres, nearest = _nearest_bright(
                bx, by, bpeak, x0[c], y0[c], int(s), sig, beam_px, config, wave if config.source_by_ripple else None
            )
            part = tile_artefact_features(crops, sig, centres, beam_px, config.trough_sigma, wave[0])
            out.loc[rows, "local_sigma"] = sig
            for frame in (part, nearest):
                for col in frame.columns:
                    out.loc[rows, col] = frame[col].to_numpy()
            out.loc[rows, "field_dynamic_range"] = peak / field_sigma if field_sigma > 0 else np.nan
    out["beam_px"] = float(beam_px)
    out["dqf"] = np.nan if dqf is None or pd.isna(dqf) else float(dqf)
    return out


def _crops(image: np.ndarray, x0: np.ndarray, y0: np.ndarray, s: int) -> np.ndarray:
    """Tiles ``image[y0:y0+s, x0:x0+s]`` as float32 ``[T, s, s]``, NaN where a box leaves the image."""
    out = np.full((len(x0), s, s), np.nan, dtype=np.float32)
    ny, nx = image.shape
    for k, (a, b) in enumerate(zip(x0, y0, strict=True)):
        xa, ya, xb, yb = max(a, 0), max(b, 0), min(a + s, nx), min(b + s, ny)
        if xb > xa and yb > ya:
            out[k, ya - b : yb - b, xa - a : xb - a] = image[ya:yb, xa:xb]
    return out


def _nearest_bright(
    bx: np.ndarray,
    by: np.ndarray,
    bpeak: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    s: int,
    sig: np.ndarray,
    beam_px: float,
    config: ArtefactConfig,
    wave: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """For each tile, the candidate whose calibration errors would be strongest there (with ``wave``, the
    tiles' :func:`radioexplore.ranking.ripples.ripple_peak`, the most probable given that and the tile's
    ripple direction, :func:`ripple_source_density`): its position in the tile's frame, and the
    ``bright_snr``, ``bright_distance_beams``, ``expected_artefact_sigma``, ``bright_x`` and ``bright_y``
    (its position in the field, NaN where there is none) columns."""
    t = len(x0)
    centres = np.full((t, 2), np.nan)
    extra = pd.DataFrame(
        {
            "bright_snr": np.zeros(t),
            "bright_distance_beams": np.nan,
            "expected_artefact_sigma": 0.0,
            "bright_x": np.nan,
            "bright_y": np.nan,
        }
    )
    if bx.size == 0:
        return centres, extra
    dx = np.maximum(np.maximum(x0[:, None] - bx[None], bx[None] - (x0[:, None] + s - 1)), 0)
    dy = np.maximum(np.maximum(y0[:, None] - by[None], by[None] - (y0[:, None] + s - 1)), 0)
    d = np.hypot(dx, dy) / beam_px
    snr = bpeak[None] / np.where(sig > 0, sig, np.nan)[:, None]
    level = np.nan_to_num(config.calibration_error * snr / np.sqrt(np.maximum(d, 1.0)), nan=0.0)
    choice = level
    if wave is not None:
        density = ripple_source_density(bx, by, x0, y0, s, wave[1], wave[2])
        rippled = (np.nan_to_num(wave[0]) >= config.trough_sigma) & np.isfinite(wave[1])
        choice = np.where(rippled[:, None], level * density, level)
    j = choice.argmax(axis=1)
    rows = np.arange(t)
    centres[:, 0] = bx[j] - x0
    centres[:, 1] = by[j] - y0
    extra["bright_snr"] = np.nan_to_num(snr[rows, j], nan=0.0)
    extra["bright_distance_beams"] = d[rows, j]
    extra["expected_artefact_sigma"] = level[rows, j]
    extra["bright_x"] = bx[j]
    extra["bright_y"] = by[j]
    return centres, extra


def ripple_source_density(
    bx: np.ndarray, by: np.ndarray, x0: np.ndarray, y0: np.ndarray, s: int, wave_deg: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """``[T, K]`` density (per degree) of each tile's observed ripple direction if its ripple came from source k:
    rings concentric on a source have their wave vector along the direction from the tile to it (Perley
    1999; Grobler et al. 2014), within a Gaussian spread as wide as the periodogram cell (``1 / (k S)`` rad)
    and the ring's curvature across the tile (``S / 2R`` rad at distance R), plus ``1 / 180``: a ripple
    that comes from no candidate (stripes, image-wide ripples) has a uniform direction."""
    cx = np.asarray(x0, dtype=np.float64)[:, None] + (s - 1) / 2.0
    cy = np.asarray(y0, dtype=np.float64)[:, None] + (s - 1) / 2.0
    phi = np.degrees(np.arctan2(by[None] - cy, bx[None] - cx))
    delta = np.abs((np.asarray(wave_deg, dtype=np.float64)[:, None] - phi + 90.0) % 180.0 - 90.0)
    cell = 1.0 / np.maximum(np.nan_to_num(np.asarray(k, dtype=np.float64))[:, None] * s, 1e-9)
    bend = s / (2.0 * np.maximum(np.hypot(bx[None] - cx, by[None] - cy), 1.0))
    spread = np.degrees(np.hypot(cell, bend))
    density = np.exp(-0.5 * (delta / spread) ** 2) / (spread * np.sqrt(2.0 * np.pi)) + 1.0 / 180.0
    return np.nan_to_num(density, nan=1.0 / 180.0)


def _against(sigma_level: np.ndarray, threshold: float) -> np.ndarray:
    """A level in sigma mapped to 0..1 against the detection threshold: x^2 / (x^2 + threshold^2)."""
    x = np.nan_to_num(np.asarray(sigma_level, dtype=np.float64), nan=0.0)
    return x * x / (x * x + threshold * threshold)


def artefact_score(features: pd.DataFrame, config: ArtefactConfig = ArtefactConfig()) -> np.ndarray:
    """The artefact axis in 0..1 from :data:`FEATURES`, by a fixed rule (NaN where the tile has no noise).

    Evidence of an error pattern in the tile, the mean of three terms in 0..1:
    ``1 - exp(-negative_beams)`` (one beam below -5 sigma is already a thousand times what noise
    gives), ``min(1, 2 negative_share)`` (an error pattern's negative lobes are as deep as its
    positive ones) and the ring contrast against the 5 sigma convention (x^2 / (x^2 + 25)).
    Context, a cause for one, in 0..1: the mean of the expected artefact level of the nearest
    bright source (against 5 sigma) and the field's, itself the mean of ``dqf / 3`` (when known)
    and the expected level at the field's peak (``calibration_error * field_dynamic_range``).
    Score = evidence x (1 + context) / 2: without negative or ringing structure a tile is no
    artefact however bright its field (a bright radio galaxy keeps its rank), and the same troughs
    count for twice as much beside a bright source in a poor field as in a clean one.
    ``ripple_sigma`` is not in this rule: it is evidence the astronomer's ARTEFACT labels teach
    through (:mod:`radioexplore.ranking.teach`), since a ripple of a few sigma also crosses sky
    the astronomer wants to see (a peculiar object near a bright source).
    """
    t = config.trough_sigma
    negative = 1.0 - np.exp(-np.nan_to_num(features["negative_beams"].to_numpy(dtype=float), nan=0.0))
    share = np.minimum(1.0, 2.0 * np.nan_to_num(features["negative_share"].to_numpy(dtype=float), nan=0.0))
    ring = _against(features["ring_contrast"].to_numpy(dtype=float), t)
    near = _against(features["expected_artefact_sigma"].to_numpy(dtype=float), t)
    dr = _against(config.calibration_error * features["field_dynamic_range"].to_numpy(dtype=float), t)
    dqf = features["dqf"].to_numpy(dtype=float) / 3.0
    field = np.where(np.isfinite(dqf), (dr + np.nan_to_num(dqf)) / 2.0, dr)
    evidence = (negative + share + ring) / 3.0
    context = (near + field) / 2.0
    score = evidence * (1.0 + context) / 2.0
    score[~np.isfinite(features["local_sigma"].to_numpy(dtype=float))] = np.nan
    return score


def object_artefact_score(negative_ratio: np.ndarray) -> np.ndarray:
    """An object's own artefact score in 0..1 from its negative ratio (the flux below -3 sigma round
    the island over the island's own flux, :data:`radioexplore.ranking.objects.NEGATIVE_RATIO`).

    The tile rule's ``min(1, 2 negative_share)`` for one object: the negative share
    ``ratio / (1 + ratio)`` is about 0 for sky emission, which is positive, and about 1/2 for a
    calibration error pattern, whose troughs are as deep as its crests (Taylor et al. 1999, ch. 15),
    so the score is 1 for a ripple crest flanked by its troughs and about 0 for a radio galaxy,
    bright or faint, in a clean or a poor field. NaN counts as 0.
    """
    r = np.clip(np.nan_to_num(np.asarray(negative_ratio, dtype=np.float64), nan=0.0), 0.0, None)
    return np.minimum(1.0, 2.0 * r / (1.0 + r))
