"""Region-wise cleaning of the probability map: drop thresholded regions that cannot be diffuse cluster emission.

Seed 004 (the Radio U-Net; Stuardi, Gheller, Vazza & Botteon 2024, MNRAS, doi:10.1093/mnras/stae2014,
arXiv:2408.10871; seed 004 itself names no authors) found its false positives on LoTSS to be extended or
grouped radio galaxies. Four tests from the physics of the image, per connected region of p > threshold:

- size: halos (180-600 arcsec) and relics (150-500 arcsec long) span many restoring beams; a region
  smaller than ``min_beams`` beam areas is dropped. Default 30 (10 until 2026-12-03): in the training
  skies (seed 100, 7.6 arcsec beam) no diffuse truth region lies between 2 and 20 beam areas, the
  smallest relic covers 44; the 8% of truth regions under 2 beams hold 0.05% of the truth pixels. On
  calibration skies 300-302 the false-positive regions touching no truth covered 12-60 beam areas, 13
  of 15 under 30; 30 was chosen there from 10 / 20 / 30 / 40 (max. mean strict halo / relic IoU) and
  raised it on every held-out set (benchmarks/README.md, branch mask-rule).
- compactness: the emission islands under a region (pixels connected above ``island_sigma`` x the
  local noise) are measured; when more than ``max_compact_fraction`` of their flux lies within one
  beam FWHM of their three brightest peaks, they are radio galaxies (cores, hotspots), a bright
  source's sidelobes or its halo of artefacts, not diffuse emission, and the region is dropped.
  Off by default: halos with a bright radio galaxy embedded fail it too (held-out seeds 201-202:
  object-wise IoU 0.68 / 0.73 -> 0.58 / 0.55, AUC of R 0.93 -> 0.84).
- negative sidelobes: the sky brightness is positive, so pixels far below the noise are the
  sidelobes of a bright source (the radial spokes of an imperfect deconvolution, which the
  network takes for filaments). Thermal noise puts 0.135% of pixels below -3 sigma; a region
  whose surroundings (within ``negative_radius_beams`` FWHM) hold more than
  ``max_negative_fraction`` (default 1%, ~7x the noise) of such pixels is dropped. With
  ``attribute_sidelobes``, negatives that a bright source's pattern explains (below) do not drop a
  region by their share alone: a source's error pattern is centred on it with lobes positive and
  negative in about equal measure (Taylor, Carilli & Perley 1999, ch. 15), so a region is judged by
  its share only when no bright source has a sector beyond ``spoke_sigma`` below zero at the region's
  radii; otherwise the spoke test decides. On calibration skies 300-302 every purely false region the
  share test dropped was a radial spoke too; the three it alone dropped were a relic or a halo joined
  to the pattern of a 5000-10000 sigma source, about half of each false. Off by default: keeping them
  did not raise the held-out IoU and raised the radio-galaxy FP (benchmarks/README.md, issue 22).
- spokes: residual antenna-based calibration errors on a bright source leave radial spokes around
  it, alternately positive and negative (Taylor, Carilli & Perley 1999, "Synthesis Imaging in Radio
  Astronomy II", ch. 15 on error recognition), far beyond the 8 beams the test above looks at. A
  region elongated along the direction to one of the field's brightest sources (radial extent at
  least ``SPOKE_ELONGATION`` times its tangential width) is dropped when, at the same radii round that
  source, some sector of the sky is negative beyond the noise: its mean over the sector is below
  -``spoke_sigma`` x its own noise (the mean of beam-correlated noise over n pixels has rms
  sigma / sqrt(n / (2 beam areas))). The sky is positive, so such a sector is the source's sidelobes.

With ``cut_pattern`` the pixels a bright source's error pattern explains are removed first
(:mod:`radioexplore.segmentation.pattern_cut`) and the pieces judged by the tests above, a cut region's pieces
without the negative share (its negatives are that pattern). Off by default: on calibration skies it restored
relics joined to a spoke (strict relic IoU 0.606 -> 0.615), on held-out seeds it did not raise the IoU
(benchmarks/README.md, issue 22, branch relic-cut).

With ``join_arcs`` (a smoothed S/N level) the pieces under the size limit that lie along one arc, their gaps bridged
by emission at that level, are first joined into one region (:mod:`radioexplore.segmentation.arc_join`), and every
test judges the joined region: a thin relic the network covers in pieces is kept when the pieces together pass.

A dropped region's pixels get probability 0; the rest of the map is unchanged.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.ndimage import distance_transform_edt, find_objects, label, maximum_filter

from radioexplore.segmentation.arc_join import arc_groups
from radioexplore.segmentation.pattern_cut import pattern_pixels

#: Smallest diffuse region kept, in restoring-beam areas (see the module docstring).
MIN_BEAMS = 30.0
#: Emission islands: pixels connected above this many times the local noise.
ISLAND_SIGMA = 3.0
#: Peaks whose discs of one FWHM are summed when measuring compactness.
N_PEAKS = 3
#: Pixels this many sigma below zero count as negative sidelobes.
NEGATIVE_SIGMA = 3.0
#: Share of pixels below -NEGATIVE_SIGMA round a region above which it lies in sidelobes (noise: 0.135%).
MAX_NEGATIVE_FRACTION = 0.01
#: How far round a region the negative pixels are counted, in beam FWHMs.
NEGATIVE_RADIUS_BEAMS = 8.0
#: A negative sector this many times its own noise marks a source's sidelobes (spoke test; None: off).
SPOKE_SIGMA = 5.0
#: A region is a spoke candidate when its radial extent (std) is this many times its tangential width.
SPOKE_ELONGATION = 2.0
#: Sources tested for spokes: local maxima above this S/N (calibration errors of ~1e-3 of the peak reach
#: the noise only round sources of hundreds of sigma), at most SPOKE_SOURCES of them, brightest first.
SPOKE_SOURCE_SNR = 100.0
SPOKE_SOURCES = 10
#: Sectors of the annulus round a source in which the mean sky is measured.
SPOKE_SECTORS = 48


def beam_area_px(bmaj_px: float, bmin_px: float) -> float:
    """Area of a Gaussian beam with these FWHMs (pixels): pi / (4 ln 2) bmaj bmin."""
    return float(np.pi / (4.0 * np.log(2.0)) * bmaj_px * bmin_px)


def compact_fraction(snr: np.ndarray, island: np.ndarray, fwhm_px: float, n_peaks: int = N_PEAKS) -> float:
    """Fraction of the positive flux of ``island`` (bool mask) within ``fwhm_px`` of its ``n_peaks`` brightest
    local maxima (maxima over a beam-sized box): near 1 for a point source or a bright core with its
    sidelobes, small for emission spread over many beams."""
    ys, xs = np.nonzero(island)
    if ys.size == 0:
        return 0.0
    pad = int(np.ceil(fwhm_px)) + 1
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, snr.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, snr.shape[1])
    inside = island[y0:y1, x0:x1]
    s = np.where(inside, np.nan_to_num(snr[y0:y1, x0:x1]), -np.inf)
    flux = np.clip(s[inside], 0.0, None)
    total = float(flux.sum())
    if total <= 0:
        return 0.0
    size = max(int(round(fwhm_px)) | 1, 3)
    peaks = inside & (s == maximum_filter(s, size=size, mode="constant", cval=-np.inf))
    py, px = np.nonzero(peaks)
    order = np.argsort(-s[py, px])[:n_peaks]
    yy, xx = np.ogrid[: y1 - y0, : x1 - x0]
    near = np.zeros(inside.shape, bool)
    for j in order:
        near |= (yy - py[j]) ** 2 + (xx - px[j]) ** 2 <= fwhm_px**2
    return float(np.clip(s[inside & near], 0.0, None).sum() / total)


def negative_fraction(snr: np.ndarray, labels: np.ndarray, r: int, box: tuple[slice, slice], k: int) -> float:
    """Share of the imaged pixels within ``k`` px of region ``r`` of ``labels`` (lying within ``box``) that lie
    below -NEGATIVE_SIGMA x the noise."""
    y0, x0 = max(box[0].start - k, 0), max(box[1].start - k, 0)
    y1, x1 = min(box[0].stop + k, snr.shape[0]), min(box[1].stop + k, snr.shape[1])
    near = distance_transform_edt(labels[y0:y1, x0:x1] != r) <= k
    values = snr[y0:y1, x0:x1][near]
    values = values[np.isfinite(values)]
    return float((values < -NEGATIVE_SIGMA).mean()) if values.size else 0.0


def bright_sources(snr: np.ndarray, fwhm_px: float, min_snr: float = SPOKE_SOURCE_SNR, n_max: int = SPOKE_SOURCES):
    """``(x, y)`` of the ``n_max`` brightest local maxima (over two beams) above ``min_snr``, brightest first."""
    s = np.nan_to_num(snr, nan=0.0)
    size = max(int(round(2 * fwhm_px)) | 1, 3)
    peaks = (s > min_snr) & (s == maximum_filter(s, size=size))
    py, px = np.nonzero(peaks)
    order = np.argsort(-s[py, px])[:n_max]
    return [(float(px[i]), float(py[i])) for i in order]


def negative_sector_sigma(snr: np.ndarray, x0: float, y0: float, r0: float, r1: float, beam_area: float) -> float:
    """How many times its own noise the most negative of SPOKE_SECTORS sectors of the annulus ``r0 <= r <= r1``
    round ``(x0, y0)`` lies below zero (0 when none is negative); a sector needs two beam areas of pixels."""
    ny, nx = snr.shape
    ya, yb = max(int(y0 - r1), 0), min(int(np.ceil(y0 + r1)) + 1, ny)
    xa, xb = max(int(x0 - r1), 0), min(int(np.ceil(x0 + r1)) + 1, nx)
    yy, xx = np.mgrid[ya:yb, xa:xb]
    r = np.hypot(xx - x0, yy - y0)
    values = snr[ya:yb, xa:xb]
    ring = (r >= r0) & (r <= r1) & np.isfinite(values)
    angle = np.arctan2(yy[ring] - y0, xx[ring] - x0)
    sector = ((angle + np.pi) / (2 * np.pi) * SPOKE_SECTORS).astype(np.int64) % SPOKE_SECTORS
    count = np.bincount(sector, minlength=SPOKE_SECTORS)
    total = np.bincount(sector, weights=values[ring], minlength=SPOKE_SECTORS)
    full = count >= 2 * beam_area
    if not full.any():
        return 0.0
    z = total[full] / count[full] * np.sqrt(count[full] / (2 * beam_area))
    return float(max(-z.min(), 0.0))


def explained_by_source(ys: np.ndarray, xs: np.ndarray, snr: np.ndarray, sources, fwhm_px: float, sigma: float) -> bool:
    """Whether the negatives round the region of pixels ``(ys, xs)`` belong to a bright source's pattern: some source of
    ``sources`` (not inside the region) has a sector of the annulus at the region's radii more than ``sigma`` times its
    noise below zero (:func:`negative_sector_sigma`)."""
    beam_area = beam_area_px(fwhm_px, fwhm_px)
    for x0, y0 in sources:
        r = np.hypot(xs - x0, ys - y0)
        if r.min() < 2 * fwhm_px:
            continue  # the region holds the source
        if negative_sector_sigma(snr, x0, y0, float(r.min()), float(r.max()), beam_area) > sigma:
            return True
    return False


def is_spoke(ys: np.ndarray, xs: np.ndarray, snr: np.ndarray, sources, fwhm_px: float, spoke_sigma: float) -> bool:
    """Whether the region of pixels ``(ys, xs)`` is a radial spoke of one of ``sources`` (see the module docstring)."""
    beam_area = beam_area_px(fwhm_px, fwhm_px)
    for x0, y0 in sources:
        dx, dy = xs - x0, ys - y0
        r = np.hypot(dx, dy)
        if r.min() < 2 * fwhm_px:
            continue  # the region holds the source: not one of its spokes
        theta = np.arctan2(dy, dx)
        offset = np.angle(np.exp(1j * (theta - np.angle(np.mean(np.exp(1j * theta))))))
        if r.std() < SPOKE_ELONGATION * (offset * r).std():
            continue
        if negative_sector_sigma(snr, x0, y0, float(r.min()), float(r.max()), beam_area) > spoke_sigma:
            return True
    return False


def clean_regions(
    prob: np.ndarray,
    snr: np.ndarray | None,
    threshold: float,
    beam_px: tuple[float, float],
    min_beams: float = MIN_BEAMS,
    max_compact_fraction: float | None = None,
    max_negative_fraction: float | None = MAX_NEGATIVE_FRACTION,
    spoke_sigma: float | None = SPOKE_SIGMA,
    island_sigma: float = ISLAND_SIGMA,
    negative_radius_beams: float = NEGATIVE_RADIUS_BEAMS,
    attribute_sidelobes: bool = False,
    cut_pattern: bool = False,
    join_arcs: float | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """``prob`` with the regions above ``threshold`` that fail the size, compactness, negative-sidelobe or spoke
    test set to 0 (NaN kept), and counts ``regions, small, compact, sidelobe, attributed, spoke``. ``snr``: the image over
    its local noise (needed by the last three; None skips them, as does a None fraction or sigma);
    ``beam_px``: (bmaj, bmin) FWHM in px; ``attribute_sidelobes``: spare from the negative-fraction test the regions
    whose negatives a bright source's pattern explains (the spoke test still judges them; needs ``spoke_sigma``);
    ``cut_pattern``: first remove the pixels a bright source's error pattern explains
    (:func:`radioexplore.segmentation.pattern_cut.pattern_pixels`; counted in ``pattern_px``) and judge the pieces
    left, those of a cut region (``cut``) by every test but the negative share, whose negatives are that pattern;
    ``join_arcs``: join pieces under ``min_beams`` along one arc, gaps bridged at this smoothed S/N
    (:func:`radioexplore.segmentation.arc_join.arc_groups`; needs ``snr``), before every test (``joined``: pieces
    that joined another)."""
    out = np.array(prob, dtype=np.float32, copy=True)
    fwhm = float(np.sqrt(beam_px[0] * beam_px[1]))
    bright = cache(lambda: bright_sources(snr, fwhm))  # found once, for whichever tests ask
    above = np.nan_to_num(out, nan=0.0) > threshold
    explained = np.zeros(above.shape, bool)
    if cut_pattern and snr is not None:
        explained = pattern_pixels(above, snr, bright(), fwhm)
    regions, n = label(above & ~explained)
    counts = dict(regions=int(n), small=0, compact=0, sidelobe=0, attributed=0, spoke=0, cut=0, pattern_px=0, joined=0)
    counts["pattern_px"] = int(explained.sum())
    out[explained] = 0.0
    if n == 0:
        return out, counts
    if join_arcs is not None and snr is not None and min_beams > 0:
        small = np.bincount(regions.ravel(), minlength=n + 1) < min_beams * beam_area_px(*beam_px)
        small[0] = False
        group = arc_groups(regions, small, snr, fwhm, bridge_sigma=join_arcs)
        counts["joined"] = int((group != np.arange(n + 1)).sum())
        regions = group[regions]
    cut = np.zeros(n + 1, bool)
    if explained.any():
        whole, _ = label(above)
        touched = np.zeros(int(whole.max()) + 1, bool)
        touched[np.unique(whole[explained])] = True
        cut[np.unique(regions[touched[whole] & (regions > 0)])] = True
        cut[0] = False
        counts["cut"] = int(cut.sum())
    sizes = np.bincount(regions.ravel(), minlength=n + 1)
    drop = np.zeros(n + 1, bool)
    if min_beams > 0:
        drop[1:] = (sizes[1:] > 0) & (sizes[1:] < min_beams * beam_area_px(*beam_px))  # 0: joined to another
        counts["small"] = int(drop.sum())
    if snr is not None and max_compact_fraction is not None:
        islands, _ = label(np.nan_to_num(snr, nan=0.0) > island_sigma)
        boxes, island_boxes = find_objects(regions), find_objects(islands)
        fractions: dict[tuple[int, ...], float] = {}
        for r in range(1, n + 1):
            if drop[r]:
                continue
            box = boxes[r - 1]
            ids = tuple(int(i) for i in np.unique(islands[box][regions[box] == r]) if i)
            if not ids:
                continue
            if ids not in fractions:
                ys = [island_boxes[i - 1][0] for i in ids]
                xs = [island_boxes[i - 1][1] for i in ids]
                y0, y1 = min(b.start for b in ys), max(b.stop for b in ys)
                x0, x1 = min(b.start for b in xs), max(b.stop for b in xs)
                pad = int(np.ceil(fwhm)) + 1
                y0, x0 = max(y0 - pad, 0), max(x0 - pad, 0)
                y1, x1 = min(y1 + pad, snr.shape[0]), min(x1 + pad, snr.shape[1])
                mask = np.isin(islands[y0:y1, x0:x1], ids)
                fractions[ids] = compact_fraction(snr[y0:y1, x0:x1], mask, fwhm)
            if fractions[ids] > max_compact_fraction:
                drop[r] = True
                counts["compact"] += 1
    if snr is not None and max_negative_fraction is not None:
        k = int(round(negative_radius_beams * fwhm))
        attributed = attribute_sidelobes and spoke_sigma is not None
        sources = bright() if attributed else []
        for r, box in enumerate(find_objects(regions), start=1):
            if drop[r] or box is None or cut[r]:
                continue
            if negative_fraction(snr, regions, r, box, k) <= max_negative_fraction:
                continue
            if sources:
                ys, xs = np.nonzero(regions[box] == r)
                if explained_by_source(ys + box[0].start, xs + box[1].start, snr, sources, fwhm, spoke_sigma):
                    counts["attributed"] += 1
                    continue
            drop[r] = True
            counts["sidelobe"] += 1
    if snr is not None and spoke_sigma is not None:
        sources = bright()
        for r, box in enumerate(find_objects(regions), start=1) if sources else ():
            if drop[r] or box is None:
                continue
            ys, xs = np.nonzero(regions[box] == r)
            if is_spoke(ys + box[0].start, xs + box[1].start, snr, sources, fwhm, spoke_sigma):
                drop[r] = True
                counts["spoke"] += 1
    out[drop[regions] & np.isfinite(out)] = 0.0
    return out, counts
