"""Send the open tile and the candidates to DS9 / Aladin / TOPCAT / CARTA over SAMP, and open what they point at."""

from __future__ import annotations

import html

import panel as pn
import param

from app.state import ExplorerState
from app.text import md_lines
from radioexplore.review.export import candidate_table
from radioexplore.review.samp import SampLink, SampUnavailable


class SampView(param.Parameterized):
    """Two buttons and a one-line status; connects to the hub on first use and stays registered.

    A sky position or a table row sent back from another tool (``coord.pointAt.sky``,
    ``table.highlight.row``) opens the tile under it.
    """

    state = param.ClassSelector(class_=ExplorerState)
    top = param.Integer(default=50, bounds=(1, 100_000), label="Candidates to send (top of the ranking)")
    message = param.String(default="")

    def __init__(self, hub_params: dict[str, str] | None = None, **params) -> None:
        super().__init__(**params)
        self.hub_params = hub_params
        self.link: SampLink | None = None
        self._doc = pn.state.curdoc

    def _connected(self) -> SampLink | None:
        """The registered link, connecting now if need be; None (with the message set) when no hub runs."""
        if self.link is not None and self.link.connected:
            return self.link
        link = SampLink(self.state.run, on_tile=self._open, name="radioexplore")
        try:
            self.link = link.connect(self.hub_params)
        except SampUnavailable as exc:
            link.close()
            self.message = f"{str(exc)[0].upper()}{str(exc)[1:]}."
            return None
        if pn.state.curdoc is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.close())
        return self.link

    def _open(self, tile_id: int) -> None:
        """Called from the SAMP client's thread: show the tile, on the page's own thread when there is a page."""

        def show() -> None:
            self.state.selected_tile = int(tile_id)
            self.message = f"Opened tile {int(tile_id)}, pointed at from another SAMP tool."

        if self._doc is not None:
            self._doc.add_next_tick_callback(show)
        else:
            show()

    def send_tile(self, *_events) -> None:
        tile = self.state.selected_tile
        if tile is None:
            self.message = "Open a tile first (click one on the map or in the ranking)."
            return
        link = self._connected()
        if link is None:
            return
        to = link.send_tile(int(tile))
        self.message = (
            f"Sent tile {int(tile)} as FITS to {self._names(to)}."
            if to
            else f"Sent tile {int(tile)}, but no SAMP tool takes images: open DS9, Aladin or CARTA."
        )

    def send_table(self, *_events) -> None:
        ids = [int(t) for t in self.state.top_anomalies(self.top)["tile_id"]]
        if not ids:
            self.message = "Nothing to send: the run has no ranking yet."
            return
        link = self._connected()
        if link is None:
            return
        to = link.send_table(candidate_table(self.state.run, ids, self.state.embedding), f"top{len(ids)}")
        self.message = (
            f"Sent {len(ids)} candidates as a VOTable to {self._names(to)}."
            if to
            else f"Sent {len(ids)} candidates, but no SAMP tool takes tables: open TOPCAT or Aladin."
        )

    def _names(self, client_ids: list[str]) -> str:
        """The tools' names as they registered them (escaped: they come from other programs)."""
        names = []
        for cid in client_ids:
            try:
                meta = self.link.client.get_metadata(cid)
            except Exception:  # a tool that left meanwhile
                meta = {}
            names.append(html.escape(str(meta.get("samp.name", cid))))
        return ", ".join(names)

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

    def __panel__(self) -> pn.viewable.Viewable:
        tile_button = pn.widgets.Button(name="Send tile to DS9 / Aladin / CARTA (SAMP)", css_classes=["samp-tile"])
        table_button = pn.widgets.Button(name="Send candidates to TOPCAT / Aladin (SAMP)", css_classes=["samp-table"])
        tile_button.on_click(self.send_tile)
        table_button.on_click(self.send_table)
        return pn.Column(
            pn.Row(tile_button, table_button),
            pn.Param(self, parameters=["top"], show_name=False),
            pn.pane.Markdown(pn.bind(md_lines, self.param.message), css_classes=["samp-status"]),
        )
