"""Clickable tile thumbnails, shared by the neighbour grid and the search results."""

from __future__ import annotations

import pandas as pd
import panel as pn

from app.state import ExplorerState
from radioexplore.render import png_bytes

THUMB_PX = 120


def thumbnail_card(
    state: ExplorerState, tile_id: int, caption: str, css_class: str = "neighbour"
) -> pn.viewable.Viewable:
    """The tile's model-input picture with a button that opens it in the tile view."""
    thumb = pn.pane.PNG(
        png_bytes(state.tile_pixels(tile_id), vmin=0.0, vmax=1.0, size=THUMB_PX),
        width=THUMB_PX,
        height=THUMB_PX,
        margin=2,
    )
    button = pn.widgets.Button(label=caption, width=THUMB_PX, margin=2)
    button.on_click(lambda _event, t=tile_id: setattr(state, "selected_tile", t))
    return pn.Column(thumb, button, margin=2, css_classes=[css_class])


def thumbnail_grid(
    state: ExplorerState, hits: pd.DataFrame, css_class: str = "neighbour", ncols: int = 4
) -> pn.GridBox:
    """A grid of ``hits`` (columns tile_id, distance), nearest first."""
    cards = [
        thumbnail_card(state, int(r.tile_id), f"#{int(r.tile_id)} · d={float(r.distance):.3g}", css_class)
        for r in hits.itertuples()
    ]
    return pn.GridBox(*cards, ncols=ncols)
