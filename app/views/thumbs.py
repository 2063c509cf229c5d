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


class ThumbnailCard:
    """A thumbnail card kept on the page and pointed at another tile: its picture, label mark and
    caption change in place, so opening a tile sends three values, not a new card (issue 23)."""

    def __init__(self, state: ExplorerState, css_class: str = "neighbour") -> None:
        self.state, self.css_class, self.tile_id = state, css_class, None
        self.thumb = pn.pane.PNG(None, width=THUMB_PX, height=THUMB_PX, margin=2)
        self.mark = pn.pane.HTML(
            "",
            width=THUMB_PX,
            margin=2,
            visible=False,
            css_classes=["thumb-label"],
            styles={"background": "#2e7d32", "color": "white", "font-size": "11px", "padding": "0 4px"},
        )
        self.button = pn.widgets.Button(label="", width=THUMB_PX, margin=2)
        self.button.on_click(self._open)
        self.panel = pn.Column(self.thumb, self.mark, self.button, margin=2, css_classes=[css_class])

    def _open(self, _event) -> None:
        if self.tile_id is not None:
            self.state.selected_tile = self.tile_id

    def show(self, tile_id: int, caption: str) -> None:
        """Point the card at ``tile_id``: its picture, its caption and its label (unless marks are hidden)."""
        self.tile_id = tile_id
        self.thumb.object = self.state.thumbnail(tile_id, THUMB_PX)
        self.button.label = caption
        marked = self.state.label_text(tile_id) if self.state.show_marks else ""
        self.mark.object = f"✓ {html.escape(marked)}" if marked else ""
        self.mark.visible = bool(marked)
        classes = [self.css_class, "labelled"] if marked else [self.css_class]
        if self.panel.css_classes != classes:
            self.panel.css_classes = classes


class ThumbnailGrid:
    """:func:`thumbnail_grid` whose cards are reused when it shows other hits (the tile view's
    neighbours change with every tile opened)."""

    def __init__(self, state: ExplorerState, css_class: str = "neighbour", ncols: int = 4) -> None:
        self.state, self.css_class = state, css_class
        self.cards: list[ThumbnailCard] = []
        self.panel = pn.FlexBox(sizing_mode="stretch_width", max_width=ncols * (THUMB_PX + 12))

    def show(self, hits: pd.DataFrame) -> pn.FlexBox:
        """Show ``hits`` (columns tile_id, distance), nearest first; cards are added only when more are needed."""
        while len(self.cards) < len(hits):
            self.cards.append(ThumbnailCard(self.state, self.css_class))
        for card, r in zip(self.cards, hits.itertuples(), strict=False):
            card.show(int(r.tile_id), f"#{int(r.tile_id)} · d={float(r.distance):.3g}")
        shown = [card.panel for card in self.cards[: len(hits)]]
        if [id(p) for p in self.panel.objects] != [id(p) for p in shown]:
            self.panel.objects = shown
        return self.panel
