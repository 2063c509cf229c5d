"""Shape features of one island in survey-independent units (beams, ratios, S/N): what the object forest sees.

Besides size, fill, holes, peaks and elongation, three features name the morphologies astronomers
single out as peculiar (Norris et al. 2021, odd radio circles; Cheung 2007 and Leahy & Williams
1984, X-shaped radio galaxies; Dabhade et al. 2020, giant radio galaxies), each measured round
the island's flux-weighted centroid, beyond one beam FWHM of it (inside, the beam blurs angles):

- ``ring_coverage``: over how many of 16 azimuthal sectors the flux is spread (the perplexity of
  the sectors' flux shares, so a bright knot on one side counts as about one), over 16, weighted
  by how empty the centre is (1 - the centre's S/N over the island's median S/N, clipped to
  0..1): a ring with a hole is ~1 even where its edge is broken; a jet pair or a bent source whose
  bright core sits on the arc, much less; a halo is round but full (~0);
- ``cross_contrast``: the flux share per axis (position angle mod 180 deg, 12 bins of 15 deg,
  smoothed over three), the second axis (the highest bin at least 45 deg from the principal one)
  above the valley between them, over the principal: two crossed pairs of lobes ~0.15-0.5; a
  straight double ~0 (no second axis); a ring or halo ~0 (no valley);
- ``extent_beams`` and ``surface_snr``: twice the largest distance of island flux from the
  centroid, in beams, and the island's mean S/N per pixel: a giant is many beams long and faint
  per beam, a bright compact double short and bright.
"""

from __future__ import annotations

import numpy as np

#: The features :func:`morphology_features` returns, in order.
MORPHOLOGY_FEATURES = ("ring_coverage", "cross_contrast", "extent_beams", "surface_snr")
#: Azimuthal sectors of ``ring_coverage``.
SECTORS = 16
#: Axis bins (of 180 deg) of ``cross_contrast``, and the least separation of a second axis, in bins.
AXIS_BINS, SECOND_AXIS_BINS = 12, 3


def axis_ratio(xs: np.ndarray, ys: np.ndarray) -> float:
    """Major over minor axis of a set of pixels from their second moments (1 = round)."""
    if len(xs) < 3:
        return 1.0
    cov = np.cov(np.vstack([xs, ys]).astype(float))
    lo, hi = np.sort(np.linalg.eigvalsh(cov))
    # a pixel's own extent (variance 1/12) keeps a one-pixel-wide line finite
    return float(np.sqrt((hi + 1 / 12) / (lo + 1 / 12)))


def axis_angle(xs: np.ndarray, ys: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Direction of the major axis of a set of pixels (their flux-weighted second moments), in degrees
    from +x towards +y in the image's pixel frame, 0..180 (0 for fewer than 3 pixels)."""
    if len(xs) < 3:
        return 0.0
    w = np.ones(len(xs)) if weight is None else np.clip(np.nan_to_num(np.asarray(weight, dtype=float)), 0, None)
    if w.sum() <= 0:
        w = np.ones(len(xs))
    dx, dy = np.asarray(xs, float) - np.average(xs, weights=w), np.asarray(ys, float) - np.average(ys, weights=w)
    sxx, syy, sxy = np.average(dx * dx, weights=w), np.average(dy * dy, weights=w), np.average(dx * dy, weights=w)
    return float(np.degrees(0.5 * np.arctan2(2 * sxy, sxx - syy)) % 180.0)


def morphology_features(
    xs: np.ndarray, ys: np.ndarray, snr: np.ndarray, cx: float, cy: float, centre_snr: float, fwhm: float
) -> dict[str, float]:
    """``ring_coverage``, ``cross_contrast``, ``extent_beams`` and ``surface_snr`` of an island whose
    pixels are ``(xs, ys)`` with S/N ``snr``, centroid ``(cx, cy)`` (same frame), S/N ``centre_snr`` at
    the centroid, for a beam of ``fwhm`` px."""
    w = np.clip(np.nan_to_num(np.asarray(snr, dtype=np.float64)), 0.0, None)
    dx, dy = np.asarray(xs, dtype=np.float64) - cx, np.asarray(ys, dtype=np.float64) - cy
    rho = np.hypot(dx, dy)
    out = dict(
        ring_coverage=0.0,
        cross_contrast=0.0,
        extent_beams=2.0 * float(rho.max(initial=0.0)) / fwhm,
        surface_snr=float(w.mean()) if w.size else 0.0,
    )
    far = rho > fwhm
    if not far.any() or w[far].sum() <= 0:
        return out
    phi, wf = np.arctan2(dy[far], dx[far]), w[far]
    even = sector_perplexity(position_sectors(phi), wf)
    median = float(np.median(w)) if w.size else 0.0
    empty = 1.0 - np.clip(np.nan_to_num(centre_snr) / median, 0.0, 1.0) if median > 0 else 0.0
    out["ring_coverage"] = float(even / SECTORS * empty)
    out["cross_contrast"] = cross_contrast(phi, wf)
    return out


def position_sectors(phi: np.ndarray) -> np.ndarray:
    """The azimuthal sector (0..SECTORS-1) of each position angle ``phi`` (radians, -pi..pi)."""
    return np.floor((phi + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS


def sector_perplexity(sector: np.ndarray, weight: np.ndarray) -> float:
    """Over how many sectors ``weight`` is spread: the perplexity of the sectors' shares (1..SECTORS)."""
    share = np.bincount(sector, weights=weight, minlength=SECTORS) / weight.sum()
    nz = share[share > 0]
    return float(np.exp(-(nz * np.log(nz)).sum()))


def cross_contrast(phi: np.ndarray, weight: np.ndarray) -> float:
    """How far a second axis stands above the valley between it and the principal axis, over the
    principal axis's height, from position angles ``phi`` (radians) weighted by ``weight``."""
    bins = np.floor((phi % np.pi) / np.pi * AXIS_BINS).astype(int) % AXIS_BINS
    h = np.bincount(bins, weights=weight, minlength=AXIS_BINS)
    h = (np.roll(h, 1) + 2 * h + np.roll(h, -1)) / 4.0
    top = int(np.argmax(h))
    if h[top] <= 0:
        return 0.0
    steps = (np.arange(AXIS_BINS) - top) % AXIS_BINS
    apart = np.minimum(steps, AXIS_BINS - steps)
    candidates = np.flatnonzero(apart >= SECOND_AXIS_BINS)
    second = int(candidates[np.argmax(h[candidates])])
    k = int((second - top) % AXIS_BINS)
    one = [(top + i) % AXIS_BINS for i in range(1, k)]  # the bins between, either way round
    other = [(top - i) % AXIS_BINS for i in range(1, AXIS_BINS - k)]
    valley = max(float(h[one].min()), float(h[other].min()))  # the deeper gap is the higher of the two
    return float(max(0.0, h[second] - valley) / h[top])
