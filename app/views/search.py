"""Similarity search: the tiles most like the map selection or like an uploaded FITS cutout."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.text import md_lines
from app.views.thumbs import thumbnail_grid
from radioexplore.fitsio import FitsReadError
from radioexplore.similarity import embed_cutout


class SearchView(param.Parameterized):
    """Runs a search on request and shows the hits as clickable thumbnails."""

    state = param.ClassSelector(class_=ExplorerState)
    k = param.Integer(default=16, bounds=(1, 200), doc="number of similar tiles to show")
    mode = param.Selector(
        default="mean", objects=["mean", "union"], doc="mean: one query for the whole selection; union: one per tile"
    )
    scaling_from = param.Selector(
        default="cutout",
        objects=["cutout", "nearest"],
        doc="scale an upload on its own pixels or like the nearest field",
    )
    message = param.String(default="")
    hits = param.DataFrame(default=pd.DataFrame(columns=["tile_id", "distance"]))

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._upload = pn.widgets.FileInput(accept=".fits,.fit,.fits.gz,.fts", css_classes=["cutout-upload"])
        self._upload.param.watch(self._on_upload, "value")

    def from_selection(self) -> None:
        selection = self.state.selection or ([self.state.selected_tile] if self.state.selected_tile is not None else [])
        if not selection:
            self.message = "Select tiles on the map first (box or lasso tool), or click one."
            return
        try:
            self.hits = self.state.search().from_tiles(selection, self.k, self.mode)
        except (ValueError, IndexError) as exc:
            self.message = str(exc)
            return
        self.message = f"{len(self.hits)} tiles most like the {len(selection)} selected ({self.mode})."

    def from_upload(self, filename: str, data: bytes) -> None:
        """Embed an uploaded FITS cutout with the run's own backbone and scaling, then search."""
        suffix = "".join(Path(filename).suffixes) or ".fits"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                cutout = embed_cutout(self.state.run, self.state.embedding, path, scaling_from=self.scaling_from)
            except (FitsReadError, ValueError) as exc:
                self.message = f"Could not use {filename}: {str(exc).replace(str(path), filename)}"
                return
        self.hits = self.state.search().from_vector(cutout.vector, self.k)
        notes = "; ".join(cutout.notes)
        self.message = f"{len(self.hits)} tiles most like {filename} (scaled as {cutout.scaling_from})" + (
            f"; {notes}" if notes else ""
        )

    def _on_upload(self, event) -> None:
        if event.new:
            self.from_upload(self._upload.filename or "cutout.fits", event.new)

    @param.depends("hits", "message")
    def _results(self) -> pn.viewable.Viewable:
        parts = [pn.pane.Markdown(md_lines(self.message), css_classes=["search-status"])]
        if len(self.hits):
            parts.append(thumbnail_grid(self.state, self.hits, css_class="search-hit", ncols=6))
        return pn.Column(*parts, sizing_mode="stretch_width")

    @param.depends("state.selection", "state.selected_tile")
    def _selection_text(self) -> pn.viewable.Viewable:
        n = len(self.state.selection)
        text = (
            f"{n} tiles selected on the map"
            if n
            else (
                f"tile {self.state.selected_tile} (clicked)"
                if self.state.selected_tile is not None
                else "nothing selected"
            )
        )
        return pn.pane.Markdown(f"Query: {text}")

    def __panel__(self) -> pn.viewable.Viewable:
        go = pn.widgets.Button(label="Find tiles like the selection", css_classes=["search-selection"])
        go.on_click(lambda _e: self.from_selection())
        return pn.Column(
            pn.pane.Markdown("### Find more like this"),
            pn.Row(
                pn.Column(self._selection_text, pn.widgets.RadioButtonGroup.from_param(self.param.mode, name=""), go),
                pn.Column(
                    pn.pane.Markdown("or upload a FITS cutout:"),
                    self._upload,
                    pn.widgets.RadioButtonGroup.from_param(self.param.scaling_from, name=""),
                ),
                pn.widgets.IntSlider.from_param(self.param.k, name="how many"),
            ),
            self._results,
            sizing_mode="stretch_width",
        )
