"""The review queue: the ranking one tile at a time, labelled with buttons or the keyboard.

Keys: the label letters shown on the buttons toggle labels; 1-5 give the interest score, save
and move on; Enter saves and moves on; n or → skips; ← goes back; u undoes the last label.
After every ``rerank_every`` labels the queue is re-ranked with what was learnt (active learning).
"""

from __future__ import annotations

import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.views.keys import KeyboardShortcuts
from app.views.labels import LABEL_KEYS, LabelPanel
from app.views.tile import describe


def why_queued(state: ExplorerState, row: pd.Series) -> str:
    """' · touches tile 44, which you scored 5' when a label on a touching tile lifted this one
    (the rest of a large source lies in the next tile), else ''."""
    source = row.get("touches_liked", -1)
    if pd.isna(source) or int(source) < 0:
        return ""
    tiles = state.tiles()
    score = tiles["user_interest"].iloc[int(source)] if "user_interest" in tiles else float("nan")
    scored = f", which you scored {int(score)}" if pd.notna(score) else ""
    return f" · touches tile {int(source)}{scored}"


class QueueView(param.Parameterized):
    """Walks ``state.queue()`` (unlabelled tiles in ranking order) and labels them."""

    state = param.ClassSelector(class_=ExplorerState)
    position = param.Integer(default=0, bounds=(0, None))
    rerank_every = param.Integer(default=10, bounds=(1, 1000), doc="re-rank the queue after this many labels")
    active = param.Boolean(default=True, doc="whether the queue tab is showing (keys act only then)")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.panel = LabelPanel(state=self.state)
        self.keys = KeyboardShortcuts()
        self._order: list[int] = []
        self._since_rerank = 0
        self._refresh_order(show=False)  # the tile is shown when the queue tab opens (resume)
        self._bind_keys()

    # -- queue --------------------------------------------------------------------------------
    def _refresh_order(self, show: bool = True) -> None:
        self._order = self.state.queue()
        self.position = 0
        if show:
            self._show()

    def current_tile(self) -> int | None:
        return self._order[self.position] if 0 <= self.position < len(self._order) else None

    def _show(self) -> None:
        tile = self.current_tile()
        if tile is not None and self.state.selected_tile != tile:
            self.state.selected_tile = tile

    def resume(self) -> None:
        """Show the queue's current tile again (when the queue tab is opened)."""
        self._show()

    def next(self) -> None:
        if self.position < len(self._order) - 1:
            self.position += 1
        self._show()

    def previous(self) -> None:
        if self.position > 0:
            self.position -= 1
        self._show()

    def save_and_next(self) -> None:
        self._show()
        if self.panel.save():
            self._since_rerank += 1
            if self._since_rerank >= self.rerank_every:
                self.rerank()
            else:
                self.next()

    def score(self, value: int) -> None:
        self._show()
        self.panel.interest = str(value)
        self.save_and_next()

    def rerank(self) -> None:
        """Re-rank with the labels so far, then restart the queue at its new top."""
        self._since_rerank = 0
        self.panel.message = self.state.rerank()
        self._refresh_order()

    def undo(self) -> None:
        if self.panel.undo() and self.position > 0:
            self.position -= 1
            self._show()

    def _bind_keys(self) -> None:
        guard = lambda fn: lambda: fn() if self.active else None  # noqa: E731
        for label, key in LABEL_KEYS.items():
            self.keys.bind(key, guard(lambda label=label: (self._show(), self.panel.toggle(label))))
        for value in range(1, 6):
            self.keys.bind(str(value), guard(lambda value=value: self.score(value)))
        self.keys.bind("Enter", guard(self.save_and_next))
        self.keys.bind("n", guard(self.next))
        self.keys.bind("ArrowRight", guard(self.next))
        self.keys.bind("ArrowLeft", guard(self.previous))
        self.keys.bind("u", guard(self.undo))

    # -- view ---------------------------------------------------------------------------------
    @param.depends("position", "state.label_version")
    def _tile(self) -> pn.viewable.Viewable:
        tile = self.current_tile()
        if tile is None:
            return pn.pane.Markdown("### The queue is empty: every tile is labelled.")
        from app.views.tile import TileView

        image = TileView(state=self.state).image(tile).opts(frame_width=420, frame_height=420)
        row = self.state.tile_row(tile)
        header = f"## Queue {self.position + 1} / {len(self._order)} · tile {tile}" + why_queued(self.state, row)
        return pn.Column(
            pn.pane.Markdown(header, css_classes=["queue-title"]),
            pn.Row(pn.pane.HoloViews(image, linked_axes=False), pn.pane.Markdown(describe(row), width=280)),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        prev = pn.widgets.Button(label="← previous")
        prev.on_click(lambda _e: self.previous())
        skip = pn.widgets.Button(label="skip (n)")
        skip.on_click(lambda _e: self.next())
        rerank = pn.widgets.Button(label="re-rank now")
        rerank.on_click(lambda _e: self.rerank())
        help_text = pn.pane.Markdown(
            "Keys: "
            + ", ".join(f"**{k}** {label.lower()}" for label, k in LABEL_KEYS.items())
            + "; **1-5** interest, save and next; **Enter** save and next; **n**/**→** skip; **←** back; **u** undo.",
            sizing_mode="stretch_width",
        )
        return pn.Column(
            self.keys,
            help_text,
            pn.Row(pn.Column(self._tile), self.panel),
            pn.Row(prev, skip, rerank),
            sizing_mode="stretch_width",
        )
