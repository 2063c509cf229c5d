"""The tile's artefact score and its main evidence in one readable line, for the tile panel and the queue.

The line comes from the ranking's artefact columns (:func:`app.artefacts.artefact_line`); the
tile's deepest trough (in local sigma) and the beam (for distances in pixels) are read from its
source image when that can be read, as the artefact axis itself measures them.
"""

from __future__ import annotations

import numpy as np

from app.artefacts import artefact_line
from app.state import ExplorerState
from app.text import md_text
from radioexplore.display.units import is_jy_per_beam
from radioexplore.ingest.images import beam_area_px
from radioexplore.ranking.artefacts import BEAM_AREA_FWHM2


def artefact_text(state: ExplorerState, tile_id: int) -> str:
    """Markdown (escaped) of :func:`app.artefacts.artefact_line` for ``tile_id``, with its trough depth
    and distances in pixels when the source image can be read."""
    row = state.tile_row(tile_id)
    trough, beam_px, bunit = None, None, str(row.get("bunit", "") or "JY/BEAM")
    sky = state.sky_pixels(tile_id)
    sigma = row.get("artefact_local_sigma", np.nan)
    if sky is not None and is_jy_per_beam(sky[1].bunit):
        pixels, image = sky
        bunit = image.bunit
        if np.isfinite(pixels).any() and sigma is not None and np.isfinite(sigma) and sigma > 0:
            trough = float(np.nanmin(pixels)) / float(sigma)
        area = beam_area_px(image)
        beam_px = float(np.sqrt(area / BEAM_AREA_FWHM2)) if area else None
    return md_text(artefact_line(row, trough, beam_px, bunit))
