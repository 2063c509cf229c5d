"""Clickable tile thumbnails, shared by the neighbour grid and the search results."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from app.state import ExplorerState

THUMB_PX = 120


def thumbnail_card(
    state: ExplorerState, tile_id: int, caption: str, css_class: str = "neighbour"
) -> pn.viewable.Viewable:
    """The tile's model-input picture with a button that opens it in the tile view; a tile you labelled
    carries its label under the picture (unless marks are hidden)."""
    thumb = pn.pane.PNG(state.thumbnail(tile_id, THUMB_PX), width=THUMB_PX, height=THUMB_PX, margin=2)
    button = pn.widgets.Button(label=caption, width=THUMB_PX, margin=2)
    button.on_click(lambda _event, t=tile_id: setattr(state, "selected_tile", t))
    marked = state.label_text(tile_id) if state.show_marks else ""
    if not marked:
        return pn.Column(thumb, button, margin=2, css_classes=[css_class])
    mark = pn.pane.HTML(
        f"✓ {html.escape(marked)}",
        width=THUMB_PX,
        margin=2,
        css_classes=["thumb-label"],
        styles={"background": "#2e7d32", "color": "white", "font-size": "11px", "padding": "0 4px"},
    )
    return pn.Column(thumb, mark, button, margin=2, css_classes=[css_class, "labelled"])


def thumbnail_grid(
    state: ExplorerState, hits: pd.DataFrame, css_class: str = "neighbour", ncols: int = 4
) -> pn.FlexBox:
    """A grid of ``hits`` (columns tile_id, distance), nearest first: up to ``ncols`` a row, fewer
    where the column is narrower (the cards wrap instead of overflowing)."""
    cards = [
        thumbnail_card(state, int(r.tile_id), f"#{int(r.tile_id)} · d={float(r.distance):.3g}", css_class)
        for r in hits.itertuples()
    ]
    return pn.FlexBox(*cards, sizing_mode="stretch_width", max_width=ncols * (THUMB_PX + 12))
