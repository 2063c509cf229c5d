"""Join the pieces of a thin relic along its arc before the size test.

A radio relic traces a merger shock front: a thin, elongated arc, often hundreds of kpc long and tangential to
the cluster, whose emission is continuous along the arc even where it dips below a detection threshold (van Weeren
et al. 2019, Space Sci. Rev. 215, 16). The network covers thin relics (2-4 beams thick) in pieces, each under the
size limit of :mod:`radioexplore.segmentation.regions`, so the whole relic is dropped (7 of the 13 relics lost on
held-out seeds 201-214; benchmarks/README.md, issue 22, branch relic-parts). Here two pieces under the limit are
one region when (1) their closest pixels lie at most ``gap_beams`` FWHM apart, (2) the gap is bridged by emission:
the image smoothed to the beam (the matched filter for beam-sized structure; Condon 1997, PASP 109, 166) stays at
or above ``bridge_sigma`` x the local noise of the unsmoothed image at every sample of the segment joining those
pixels, and (3) both pieces are elongated and their major axes lie within ``max_angle_deg`` of the line joining
their centroids (collinear or, over a short gap, co-circular). Pieces are joined transitively; the region tests
then judge the joined region as one.

Off by default (``SegmentConfig.join_arcs``): at 2 sigma it left the cleaned maps of calibration skies 300-302 and
of held-out seeds 201-226 pixel for pixel unchanged. The thin relics the size test drops are single pieces, or
pieces that together still cover under 30 beam areas (the network's mask above 0.85 covers 19-69% of them); of the
groups it joined over 33 skies 6 of 84 were mostly relic and none of these reached 30 beams; the 9 that did held
no halo or relic emission (8 then dropped by the share or spoke test, 1 a filament kept; benchmarks/README.md,
issue 22, branch relic-arcs).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import find_objects
from scipy.spatial import cKDTree

from radioexplore.segmentation.beam_smooth import beam_smoothed

#: Largest gap between two pieces joined, in beam FWHMs ("a few beams").
GAP_BEAMS = 3.0
#: Smallest smoothed S/N all along the gap (units of the unsmoothed local noise).
BRIDGE_SIGMA = 1.5
#: Largest angle between a piece's major axis and the line to the other piece's centroid.
MAX_ANGLE_DEG = 30.0
#: A piece has a direction only when the std along its major axis is this many times that along its minor axis.
MIN_ELONGATION = 1.5


def principal_axis(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centroid ``(x, y)``, unit major axis and elongation (std along the major over std along the minor axis)
    of a piece's pixels."""
    centre = np.array([xs.mean(), ys.mean()])
    if xs.size < 3:
        return centre, np.array([1.0, 0.0]), 1.0
    values, vectors = np.linalg.eigh(np.cov(np.vstack([xs, ys])))
    minor, major = np.sqrt(np.clip(values, 1e-12, None))
    return centre, vectors[:, 1], float(major / minor)


def bridged(smooth: np.ndarray, p: np.ndarray, q: np.ndarray, level: float) -> bool:
    """Whether ``smooth`` stays at or above ``level`` at every sample (one per pixel) of the segment from ``p`` to
    ``q`` (``(x, y)`` pixel positions)."""
    n = int(np.ceil(np.hypot(*(q - p)))) + 1
    t = np.linspace(0.0, 1.0, max(n, 2))
    x = np.clip(np.round(p[0] + t * (q[0] - p[0])).astype(int), 0, smooth.shape[1] - 1)
    y = np.clip(np.round(p[1] + t * (q[1] - p[1])).astype(int), 0, smooth.shape[0] - 1)
    return bool((smooth[y, x] >= level).all())


def arc_groups(
    regions: np.ndarray,
    candidates: np.ndarray,
    snr: np.ndarray,
    fwhm_px: float,
    bridge_sigma: float = BRIDGE_SIGMA,
    gap_beams: float = GAP_BEAMS,
    max_angle_deg: float = MAX_ANGLE_DEG,
    min_elongation: float = MIN_ELONGATION,
) -> np.ndarray:
    """For labelled ``regions`` (0 background, 1..n), the region each one joins (array of n + 1; its own label when
    it joins none): pieces flagged in ``candidates`` (bool, n + 1) that lie along one arc with their gaps bridged
    by emission (module docstring), joined transitively under the smallest label. ``snr``: image over local noise
    (NaN blank, never a bridge)."""
    n = len(candidates) - 1
    group = np.arange(n + 1)
    boxes = find_objects(regions)
    pieces = []
    for r in np.nonzero(candidates)[0]:
        box = boxes[r - 1] if 0 < r <= len(boxes) else None
        if box is None:
            continue
        ys, xs = np.nonzero(regions[box] == r)
        ys, xs = ys + box[0].start, xs + box[1].start
        centre, axis, elongation = principal_axis(ys, xs)
        if elongation >= min_elongation:
            pieces.append((int(r), centre, axis, np.column_stack([xs, ys]).astype(float)))
    if len(pieces) < 2:
        return group
    smooth = beam_smoothed(snr, fwhm_px)
    smooth[~np.isfinite(snr)] = -np.inf
    gap = gap_beams * fwhm_px
    cos_max = np.cos(np.radians(max_angle_deg))
    trees = [cKDTree(pts) for *_, pts in pieces]

    def root(a: int) -> int:
        while group[a] != a:
            group[a] = group[group[a]]
            a = group[a]
        return a

    for i, (ri, ci, ai, pi) in enumerate(pieces):
        for j in range(i + 1, len(pieces)):
            rj, cj, aj, pj = pieces[j]
            d = cj - ci
            norm = float(np.hypot(*d))
            if norm == 0 or abs(ai @ d) / norm < cos_max or abs(aj @ d) / norm < cos_max:
                continue
            dist, k = trees[i].query(pj, distance_upper_bound=gap)
            if not np.isfinite(dist).any():
                continue
            m = int(np.argmin(dist))
            if not bridged(smooth, pi[k[m]], pj[m], bridge_sigma):
                continue
            a, b = root(ri), root(rj)
            group[max(a, b)] = min(a, b)
    return np.array([root(r) for r in range(n + 1)])
