"""Is there emission between a joined double's lobes? The bridge S/N on the image smoothed to a few beams.

The two lobes of one radio galaxy are joined by the plasma that flowed back from the hotspots, a faint
bridge along the line between them (Leahy & Williams 1984, MNRAS 210, 929: the bridges of FR II sources);
two unrelated sources that happen to line up have nothing between them. The bridge is a few sigma per
beam at best, so it is read where it is matched: on the image smoothed to :data:`BRIDGE_BEAMS` beams
(:func:`radioexplore.ranking.lowsb.smooth_to_beams`), its noise measured there from the negative side
(:func:`radioexplore.ranking.local_noise.negative_noise_map`: sky emission is positive), as the median S/N
along the middle half of the lobe-to-lobe line, the core's surroundings left out (a core is no bridge).
It is read on the image as given: an interferometer's image holds no zero-spacing flux, so its background is zero;
an image with a background offset should be background-subtracted first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.ranking.local_noise import negative_noise_map
from radioexplore.ranking.lowsb import smooth_to_beams

#: The column :func:`bridge_snr` fills.
BRIDGE_SNR = "bridge_snr"
#: The smoothing, in beams (FWHM): a bridge is a few beams wide at the resolution of a survey finding giants.
BRIDGE_BEAMS = 3.0
#: The smoothed image's noise is read on blocks of this many pixels.
NOISE_BOX = 128
#: The part of the lobe-to-lobe line read (lobe centroids at 0 and 1): its middle half, clear of the lobes.
SPAN = (0.25, 0.75)
#: Around a core, this many smoothed beams of the line are left out.
CORE_CLEARANCE = 2.0


def bridge_snr(table: pd.DataFrame, image: np.ndarray, fwhm_px: float) -> np.ndarray:
    """Per object of ``table`` (``x, y, source_id, partner, core`` as row positions,
    :func:`radioexplore.ranking.sources.associate`), its joined double's bridge S/N: the median of the
    smoothed image over its local noise along the middle half of the line between the source's two lobes,
    ``CORE_CLEARANCE`` smoothed beams round the core left out; NaN for objects in no joined double and
    where nothing of the line is left or measured."""
    n = len(table)
    out = np.full(n, np.nan, dtype=np.float32)
    need = {"x", "y", "source_id", "partner", "core"}
    if not n or not need <= set(table.columns):
        return out
    partner = table["partner"].to_numpy(np.int64)
    source = table["source_id"].to_numpy(np.int64)
    firsts = np.unique(source[partner >= 0])
    if not firsts.size:
        return out
    smoothed = smooth_to_beams(np.asarray(image, np.float32), fwhm_px, BRIDGE_BEAMS)
    noise = negative_noise_map(np.nan_to_num(smoothed), NOISE_BOX)
    x, y = table["x"].to_numpy(float), table["y"].to_numpy(float)
    core = table["core"].to_numpy(np.int64)
    height, width = smoothed.shape
    t = np.linspace(SPAN[0], SPAN[1], 60)
    for first in firsts:
        other = partner[first]
        if other < 0:
            continue
        xs, ys = x[first] + t * (x[other] - x[first]), y[first] + t * (y[other] - y[first])
        keep = np.ones(t.size, dtype=bool)
        if core[first] >= 0:
            clearance = CORE_CLEARANCE * BRIDGE_BEAMS * fwhm_px
            keep &= np.hypot(xs - x[core[first]], ys - y[core[first]]) > clearance
        col = np.clip(np.round(xs).astype(np.int64), 0, width - 1)
        row = np.clip(np.round(ys).astype(np.int64), 0, height - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            snr = smoothed[row, col] / noise[row, col]
        snr = snr[keep & np.isfinite(snr)]
        if snr.size:
            out[source == first] = np.float32(np.median(snr))
    return out
