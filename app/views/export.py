"""Export of candidates: the top of the ranking, a label, or the map selection, in the format astronomers use."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import panel as pn
import param

from app.state import ExplorerState
from app.text import md_lines
from app.views.labels import toggles
from radioexplore.review.export import EXPORTERS, export, select_tiles
from radioexplore.run.labels.values import VOCABULARY

#: File name suffix of each export format.
SUFFIX = {"csv": ".csv", "votable": ".vot", "fits": ".fits", "ds9": ".reg", "cutouts": ".zip", "moc": ".moc.fits"}


class ExportView(param.Parameterized):
    """Builds the chosen candidate list on request and hands it to the browser as a download."""

    state = param.ClassSelector(class_=ExplorerState)
    source = param.Selector(
        default="top of the ranking", objects=["top of the ranking", "a label", "the map selection"]
    )
    top = param.Integer(default=50, bounds=(1, 100_000))
    label = param.Selector(default="PECULIAR", objects=list(VOCABULARY))
    fmt = param.Selector(default="csv", objects=list(EXPORTERS), label="Format")
    message = param.String(default="")

    def tile_ids(self) -> list[int]:
        if self.source == "a label":
            return [int(t) for t in select_tiles(self.state.run, self.state.embedding, label=self.label)]
        if self.source == "the map selection":
            return list(self.state.selection)
        tiles = self.state.top_anomalies(self.top)
        return [int(t) for t in tiles["tile_id"]]

    def filename(self) -> str:
        what = {
            "top of the ranking": f"top{self.top}",
            "a label": self.label.lower(),
            "the map selection": "selection",
        }[self.source]
        return f"{self.state.run.root.name}_{what}{SUFFIX.get(self.fmt, '')}"

    def build(self) -> io.BytesIO | None:
        """The export file's bytes (None, with a message, when there is nothing to export)."""
        ids = self.tile_ids()
        if not ids:
            self.message = "Nothing to export: the selection is empty."
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = export(self.state.run, ids, self.fmt, Path(tmp) / self.filename(), self.state.embedding)
            data = path.read_bytes()
        self.message = f"Exported {len(ids)} tiles as {self.fmt} ({len(data) / 1024:.0f} kB)."
        return io.BytesIO(data)

    def __panel__(self) -> pn.viewable.Viewable:
        download = pn.widgets.FileDownload(
            callback=self.build, filename=self.filename(), label="Download", css_classes=["export-download"]
        )

        def _rename(*_events) -> None:
            download.filename = self.filename()

        self.param.watch(_rename, ["source", "top", "label", "fmt"])
        return pn.Column(
            pn.pane.Markdown("### Export candidates"),
            pn.Param(
                self,
                parameters=["source", "top", "label", "fmt"],
                show_name=False,
                # the chosen source and format stand out (filled); Top takes any number typed (20, 5000)
                widgets={
                    "source": {"type": pn.widgets.RadioButtonGroup, **toggles()},
                    "top": {"type": pn.widgets.IntInput, "name": "Top", "step": 10, "width": 120},
                    "fmt": {"type": pn.widgets.RadioButtonGroup, **toggles()},
                },
            ),
            download,
            pn.pane.Markdown(pn.bind(md_lines, self.param.message), css_classes=["export-status"]),
            sizing_mode="stretch_width",
            max_width=900,
        )
