"""How ring-like an island is, from the physics of a limb-brightened shell rather than from coverage alone.

An odd radio circle (Norris et al. 2021, PASA 38, e003; Koribalski et al. 2021) or a ring galaxy is a
thin shell seen in projection: limb-brightened all round its centre, so its flux is spread evenly over
position angle with no sector much brighter than the rest, it is closed, its radial profile peaks at the
rim and its interior is faint (at most a faint host, no bright core). The ordinary sources that also curve
round an empty middle are made otherwise: a bent (wide- or narrow-angle) tail galaxy has its brightest
point, the core and jet bases, at the apex of the arc and fades along its tails, which leave the arc open
on the downstream side (Rudnick & Owen 1976; O'Dea & Owen 1985); an FR II double has its two hotspots at
its ends (Fanaroff & Riley 1974). Each term below reads one of these properties in [0, 1], measured round
the island's flux-weighted centroid beyond one beam FWHM of it (inside, the beam blurs angles):

- ``evenness``: over how many of 16 position-angle sectors the flux is spread (perplexity of the sectors'
  flux shares) / 16: a bright knot on one side counts as about one sector;
- ``closure``: the share of sectors the island's pixels reach (a quarter of an even share or more): a
  closed ring 1, a horseshoe or a U open on one side less, a straight double a third or less;
- ``uniformity``: the island's mean S/N over the mean S/N within one beam FWHM of its brightest pixel: a
  limb-brightened ring has no beam much brighter than its rim (~0.5-1); a core, head or hotspot makes the
  brightest beam several times the mean (bent tails and doubles ~0.2-0.4);
- ``limb``: 1 - the mean S/N of the map (every pixel, not only the island's) inside the rim (nearer the
  centroid than the rim's flux-weighted mean radius less a beam), or within a beam of the centroid where
  that is brighter, over the mean S/N of the island on the rim (within a beam of that radius): a shell's
  inside is faint (~1; a faint host at the centre lowers it a little); a disc or halo, or a core at the
  centre as bright as the rim, reads ~0; an island too small to resolve an inside (rim radius under two
  beams) reads 0.

``ring_shell`` = evenness x closure x uniformity x limb: near 1 only where all four hold. It stands beside
:mod:`radioexplore.ranking.object_shape`'s ``ring_coverage`` (evenness x an empty centre), which a bent
tail's U round an empty middle reads as high as a ring (0.45-0.84 against 0.50-0.95 on simulated skies).
"""

from __future__ import annotations

import numpy as np

from radioexplore.ranking.object_shape import SECTORS, position_sectors, sector_perplexity

#: A sector is reached when it holds at least this share of an even split of the island's pixels.
REACHED = 0.25


def ring_terms(
    xs: np.ndarray, ys: np.ndarray, snr: np.ndarray, cx: float, cy: float, box_snr: np.ndarray, fwhm: float
) -> dict[str, float]:
    """``evenness``, ``closure``, ``uniformity`` and ``limb`` (each 0..1) of an island whose pixels are
    ``(xs, ys)`` with S/N ``snr``, centroid ``(cx, cy)``, in the frame of ``box_snr`` (the S/N map round
    the island, every pixel; NaN where blanked), for a beam of ``fwhm`` px."""
    zero = dict(evenness=0.0, closure=0.0, uniformity=0.0, limb=0.0)
    w = np.clip(np.nan_to_num(np.asarray(snr, dtype=np.float64)), 0.0, None)
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    rho = np.hypot(xs - cx, ys - cy)
    far = rho > fwhm
    if np.count_nonzero(far) < 3 or w[far].sum() <= 0:
        return zero
    phi, wf = np.arctan2(ys[far] - cy, xs[far] - cx), w[far]
    sector = position_sectors(phi)
    evenness = sector_perplexity(sector, wf) / SECTORS
    pixels = np.bincount(sector, minlength=SECTORS) / sector.size
    closure = float(np.mean(pixels >= REACHED / SECTORS))
    peak = int(np.argmax(w))
    brightest = w[np.hypot(xs - xs[peak], ys - ys[peak]) <= fwhm].mean()
    uniformity = float(min(1.0, w.mean() / brightest)) if brightest > 0 else 0.0
    radius = float(np.average(rho[far], weights=wf))
    rim = w[np.abs(rho - radius) <= fwhm]
    inside = radius - fwhm
    limb = 0.0
    if inside > fwhm and rim.size and rim.mean() > 0:  # the inside is resolved: the rim lies two beams out
        gy, gx = np.mgrid[0 : box_snr.shape[0], 0 : box_snr.shape[1]]
        d = np.hypot(gx - cx, gy - cy)
        interior, centre = box_snr[d < inside], box_snr[d <= fwhm]
        interior, centre = interior[np.isfinite(interior)], centre[np.isfinite(centre)]
        if interior.size:
            # the inside as a whole, or a core at the centre, as bright as the rim: no shell
            brightest_inside = max(interior.mean(), centre.mean() if centre.size else 0.0)
            limb = float(1.0 - np.clip(brightest_inside / rim.mean(), 0.0, 1.0))
    return dict(evenness=evenness, closure=closure, uniformity=uniformity, limb=limb)


def ring_shell(
    xs: np.ndarray, ys: np.ndarray, snr: np.ndarray, cx: float, cy: float, box_snr: np.ndarray, fwhm: float
) -> float:
    """How ring-like the island is in [0, 1]: the product of :func:`ring_terms` (all four must hold)."""
    return float(np.prod(list(ring_terms(xs, ys, snr, cx, cy, box_snr, fwhm).values())))
