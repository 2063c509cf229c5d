"""Similarity search: the tiles most like the map selection or like an uploaded FITS cutout."""

from __future__ import annotations

import html
import logging
import tempfile
import zlib
from pathlib import Path

import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.views.labels import toggles
from app.views.thumbs import thumbnail_grid
from radioexplore.space.cutout.query import embed_cutout

log = logging.getLogger(__name__)

#: Largest upload, after gunzip, that is read: a cutout is a few MB; more is a mistake or a gzip bomb.
MAX_UPLOAD_BYTES = 256 * 2**20


class SearchView(param.Parameterized):
    """Runs a search on request and shows the hits as clickable thumbnails."""

    state = param.ClassSelector(class_=ExplorerState)
    k = param.Integer(default=16, bounds=(1, 200), doc="number of similar tiles to show")
    mode = param.Selector(
        default="mean", objects=["mean", "union"], doc="mean: one query for the whole selection; union: one per tile"
    )
    scaling_from = param.Selector(
        default="auto",
        objects={"field it lies in, else its noise": "auto", "its own noise": "cutout", "nearest field": "nearest"},
        doc="scale an upload with the recorded scaling of the field it lies in (else in units of its own noise), "
        "always in units of its own noise, or like the nearest field",
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
        """Embed an uploaded FITS cutout (``.fits.gz`` too) with the run's own backbone and scaling, then search.

        A file that cannot be used leaves the hits as they were and says why in one line.
        """
        shown = _shown_name(filename)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.fits"  # never the uploaded name: it may be too long or hold a path
            try:
                path.write_bytes(_gunzip(data))
                cutout = embed_cutout(self.state.run, self.state.embedding, path, scaling_from=self.scaling_from)
            except Exception as exc:  # an upload is untrusted: whatever it breaks is reported, not raised
                log.warning("upload %r could not be used", shown, exc_info=not isinstance(exc, ValueError))
                reason = str(exc) if isinstance(exc, ValueError) else f"not a readable FITS image ({exc!r})"
                self.message = _one_line(f"Could not use {shown}: {_renamed(reason, path, shown)}")
                return
        self.hits = self.state.search().from_vectors(cutout.queries(), self.k)
        self.message = _one_line(
            f"{len(self.hits)} tiles most like {shown}: {_renamed(cutout.describe(), path, shown)}"
        )

    def _on_upload(self, event) -> None:
        if event.new:
            self.from_upload(self._upload.filename or "cutout.fits", event.new)

    @param.depends("hits", "message")
    def _results(self) -> pn.viewable.Viewable:
        parts = [pn.pane.HTML(html.escape(self.message), css_classes=["search-status"])]
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
                pn.Column(
                    self._selection_text,
                    pn.widgets.RadioButtonGroup.from_param(self.param.mode, name="", **toggles()),
                    go,
                ),
                pn.Column(
                    pn.pane.Markdown("or upload a FITS cutout:"),
                    self._upload,
                    pn.widgets.RadioButtonGroup.from_param(self.param.scaling_from, name="", **toggles()),
                ),
                pn.widgets.IntSlider.from_param(self.param.k, name="how many"),
            ),
            self._results,
            sizing_mode="stretch_width",
        )


def _gunzip(data: bytes) -> bytes:
    """``data`` itself, or its gzip content (``.fits.gz``) unpacked in memory up to :data:`MAX_UPLOAD_BYTES`."""
    if data[:2] != b"\x1f\x8b":
        return data
    unpack = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = unpack.decompress(data, MAX_UPLOAD_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"not a valid gzip file ({exc}); upload the .fits or re-compress it") from None
    if len(out) > MAX_UPLOAD_BYTES:
        raise ValueError(f"unpacks to more than {MAX_UPLOAD_BYTES // 2**20} MB; upload a smaller cutout")
    if not unpack.eof:
        raise ValueError("the gzip file is truncated; upload it again")
    return out


def _shown_name(filename: str, limit: int = 80) -> str:
    """The upload's base name as shown in messages, shortened to ``limit`` characters."""
    name = Path(str(filename or "")).name or "the upload"
    return name if len(name) <= limit else f"{name[: limit - 1]}…"


def _renamed(text: str, path: Path, shown: str) -> str:
    """``text`` with the temporary file's path and name replaced by the upload's name."""
    return text.replace(str(path), shown).replace(path.name, shown)


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
