"""The map selection as a workbench (like FiftyOne's): a box or lasso on the map fills a grid of
thumbnails, and the selected tiles can be labelled in bulk, searched for similar tiles and exported.

A bulk label adds one label (and, when given, an interest score) to each selected tile's current
judgement and appends one event per tile to the label store, in one transaction: nothing a tile
already had is lost, and a read-only session is refused by its store as everywhere else.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.text import md_lines
from app.views.labels import NO_SCORE, toggles
from app.views.shown import shown_only
from app.views.thumbs import thumbnail_card, thumbnail_grid
from radioexplore.review.export import SUFFIXES, export_bytes
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.labels.values import VOCABULARY, LabelError

#: Thumbnails drawn for a selection; a larger one is still labelled, searched and exported whole.
MAX_THUMBS = 48
#: Export formats offered for a selection (the Export tab has them all).
SELECTION_FORMATS = ("csv", "votable")


def bulk_label_rows(current: pd.DataFrame, tile_ids: Sequence[int], label: str, interest: int | None) -> list[dict]:
    """One label event per tile: its current labels plus ``label``, ``interest`` if given (else the
    one it had), its tags kept. ``current`` is ``LabelStore.current()``."""
    known = current.set_index("tile_id") if len(current) else None
    rows = []
    for tile in dict.fromkeys(int(t) for t in tile_ids):
        had = known.loc[tile] if known is not None and tile in known.index else None
        labels = list(had["labels"]) if had is not None else []
        old_interest = had["interest"] if had is not None else None
        rows.append(
            {
                "tile_id": tile,
                "labels": labels + ([label] if label not in labels else []),
                "interest": interest if interest is not None else (None if pd.isna(old_interest) else old_interest),
                "tags": list(had["tags"]) if had is not None else [],
            }
        )
    return rows


def bulk_label(store: LabelStore, tile_ids: Sequence[int], label: str, interest: int | None = None) -> list[int]:
    """Add ``label`` (and ``interest``) to every tile of ``tile_ids``: one event per tile, all or none
    (:meth:`LabelStore.add_many`). Returns the event ids; raises LabelError (a read-only store, a bad label)."""
    if not len(tile_ids):
        raise LabelError("no tiles selected: draw a box or lasso on the map first")
    return store.add_many(bulk_label_rows(store.current(), tile_ids, label, interest))


class SelectionView(param.Parameterized):
    """The tiles selected on the map (``state.selection``): their thumbnails, a bulk label, a search
    for similar tiles (the selection's mean embedding through the FAISS index) and an export."""

    state = param.ClassSelector(class_=ExplorerState)
    label = param.Selector(default="PECULIAR", objects=list(VOCABULARY), doc="label added to every selected tile")
    interest = param.Selector(default=NO_SCORE, objects=[NO_SCORE, "1", "2", "3", "4", "5"])
    fmt = param.Selector(default="csv", objects=list(SELECTION_FORMATS), label="Format")
    k = param.Integer(default=16, bounds=(1, 200), doc="similar tiles to find")
    message = param.String(default="")
    hits = param.DataFrame(default=pd.DataFrame(columns=["tile_id", "distance"]))

    def tile_ids(self) -> list[int]:
        return [int(t) for t in self.state.selection]

    def label_all(self) -> int:
        """Apply the chosen label and interest to every selected tile; returns the events written."""
        ids = self.tile_ids()
        interest = None if self.interest == NO_SCORE else int(self.interest)
        try:
            events = bulk_label(self.state.labels, ids, self.label, interest)
        except LabelError as exc:
            self.message = f"Not labelled: {exc}"
            return 0
        score = f", interest {interest}" if interest is not None else ""
        self.message = f"Labelled {len(events)} tiles {self.label}{score} (one event each)."
        self.state.label_version += 1
        return len(events)

    def find_similar(self) -> None:
        """The ``k`` tiles nearest the selection's mean embedding (the selection itself excluded)."""
        ids = self.tile_ids()
        if not ids:
            self.message = "Select tiles on the map first (box or lasso tool)."
            return
        try:
            self.hits = self.state.search().from_tiles(ids, self.k, "mean")
        except (ValueError, IndexError) as exc:
            self.message = str(exc)
            return
        self.message = f"{len(self.hits)} tiles most like the {len(ids)} selected (mean embedding)."

    def filename(self) -> str:
        return f"{self.state.run.root.name}_selection{SUFFIXES.get(self.fmt, '')}"

    def export(self) -> io.BytesIO | None:
        """The selection's candidate table (radioexplore.review.export) in the chosen format, or None when empty."""
        ids = self.tile_ids()
        if not ids:
            self.message = "Nothing to export: the selection is empty."
            return None
        data = export_bytes(self.state.run, ids, self.fmt, self.state.embedding)
        self.message = f"Exported {len(ids)} tiles as {self.fmt} ({len(data) / 1024:.0f} kB)."
        return io.BytesIO(data)

    def use_tile(self) -> None:
        """Select the open tile alone (for the bulk tools without drawing on the map)."""
        if self.state.selected_tile is not None:
            self.state.selection = [int(self.state.selected_tile)]

    # -- view -----------------------------------------------------------------------------------
    @param.depends("state.selection", "state.label_version", "state.show_marks")
    def grid(self) -> pn.viewable.Viewable:
        ids = self.tile_ids()
        if not ids:
            return pn.pane.Markdown(
                "Draw a box or lasso on the map (its toolbar) to select tiles; they appear here.",
                css_classes=["selection-empty"],
            )
        shown = ids[:MAX_THUMBS]
        more = f" (the first {len(shown)} shown)" if len(ids) > len(shown) else ""
        cards = [thumbnail_card(self.state, t, f"#{t}", css_class="selection-thumb") for t in shown]
        return pn.Column(
            pn.pane.Markdown(f"**{len(ids)} tiles selected**{more}", css_classes=["selection-count"]),
            pn.FlexBox(*cards, sizing_mode="stretch_width", css_classes=["selection-grid"]),
            sizing_mode="stretch_width",
        )

    @param.depends("hits")
    def _similar(self) -> pn.viewable.Viewable:
        if not len(self.hits):
            return pn.Column()
        return pn.Column(
            pn.pane.Markdown("**Similar to the selection** (click one to open it)"),
            thumbnail_grid(self.state, self.hits, css_class="selection-similar", ncols=6),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        can = self.state.annotator.can_label
        label = pn.widgets.Select.from_param(self.param.label, name="Label", width=170)
        interest = pn.widgets.RadioButtonGroup.from_param(
            self.param.interest, name="", css_classes=["selection-interest"], **toggles()
        )
        apply = pn.widgets.Button(
            label="Label all selected", color="primary", css_classes=["selection-label"], disabled=not can
        )
        apply.on_click(lambda _e: self.label_all())
        similar = pn.widgets.Button(label="Find similar", css_classes=["selection-similar-go"])
        similar.on_click(lambda _e: self.find_similar())
        just_tile = pn.widgets.Button(label="Select the open tile", css_classes=["selection-open-tile"])
        just_tile.on_click(lambda _e: self.use_tile())
        clear = pn.widgets.Button(label="Clear", css_classes=["selection-clear"])
        clear.on_click(lambda _e: setattr(self.state, "selection", []))
        fmt = pn.widgets.RadioButtonGroup.from_param(self.param.fmt, name="", **toggles())
        download = pn.widgets.FileDownload(
            callback=self.export, filename=self.filename(), label="Export selection", css_classes=["selection-export"]
        )
        self.param.watch(lambda _e: setattr(download, "filename", self.filename()), "fmt")
        readonly = [] if can else [pn.pane.Markdown(f"Read-only: {html.escape(self.state.annotator.why_not)}.")]
        k = pn.widgets.IntInput.from_param(self.param.k, name="", width=70)
        # one wrapping box: as many tools a line as the column has room for, never wider than it
        tools = pn.FlexBox(
            label, interest, apply, similar, k, fmt, download, just_tile, clear, sizing_mode="stretch_width"
        )
        return pn.Column(
            *readonly,
            tools,
            pn.pane.Markdown(pn.bind(md_lines, self.param.message), css_classes=["selection-status"]),
            shown_only(self.grid, self.state, "Explore", sizing_mode="stretch_width"),
            self._similar,
            sizing_mode="stretch_width",
        )
