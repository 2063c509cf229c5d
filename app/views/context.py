"""Context from other surveys for the open tile: links, HiPS cutouts and SIMBAD objects (on request).

Offline, or when a service does not answer, one line says so; the links and the rest of the app
carry on. Cutouts and SIMBAD answers are cached in the run's ``context/`` folder.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
import param
from astropy.io import fits

from app.state import ExplorerState
from app.text import md_lines
from app.views.shown import WhenShown
from radioexplore.display.render import png_bytes
from radioexplore.io.context import SURVEYS, ContextConfig, ContextUnavailable, hips_cutout, links, simbad_cone


class ContextView(param.Parameterized):
    """Links for the open tile at once; cutouts of the chosen surveys and SIMBAD objects when asked."""

    state = param.ClassSelector(class_=ExplorerState)
    surveys = param.ListSelector(default=["NVSS", "RACS", "WISE"], objects=list(SURVEYS))
    message = param.String(default="")

    def __init__(self, config: ContextConfig | None = None, **params) -> None:
        super().__init__(**params)
        self.config = config or ContextConfig(cache_dir=str(self.state.run.context_dir()))
        self.cutouts = pn.Row()
        self.objects = pn.pane.HTML("")

    def _where(self) -> tuple[float, float, float] | None:
        """RA, Dec and field of view (deg) of the open tile, or None (with the message set)."""
        tile = self.state.selected_tile
        if tile is None:
            self.message = "Open a tile first."
            return None
        row = self.state.tile_row(tile)
        if not (np.isfinite(row["ra"]) and np.isfinite(row["dec"])):
            self.message = "This tile's image has no celestial WCS: no context from other surveys."
            return None
        sky = self.state.sky_pixels(tile)
        pixel = sky[1].pixel_arcsec if sky is not None and sky[1].pixel_arcsec else None
        fov = float(row["size"]) * pixel / 3600 if pixel else 0.1
        return float(row["ra"]), float(row["dec"]), fov

    def links_html(self) -> str:
        """Links to the open tile's position in other archives, as HTML ("" with no tile open)."""
        tile = self.state.selected_tile
        if tile is None:
            return ""
        row = self.state.tile_row(tile)
        if not (np.isfinite(row["ra"]) and np.isfinite(row["dec"])):
            return "<p>No celestial WCS: no links.</p>"
        found = links(float(row["ra"]), float(row["dec"]))
        items = " · ".join(
            f'<a href="{html.escape(url, quote=True)}" target="_blank">{html.escape(name)}</a>'
            for name, url in found.items()
        )
        return f"<p class='context-links'>{items}</p>"

    def links_pane(self) -> pn.viewable.Viewable:
        return pn.pane.HTML(self.links_html())

    def fetch(self, *_events) -> None:
        """Cutouts of the chosen surveys and SIMBAD objects around the open tile; stops at the first service that is down."""
        where = self._where()
        if where is None:
            return
        ra, dec, fov = where
        self.cutouts.objects, self.objects.object = [], ""
        try:
            panes = []
            for survey in self.surveys:
                with fits.open(hips_cutout(survey, ra, dec, fov, self.config)) as hdul:
                    data = np.asarray(hdul[0].data, dtype=np.float32)
                data = data if data.ndim == 2 else data.reshape(-1, *data.shape[-2:])[0]
                lo, hi = np.nanpercentile(data, [1, 99.5]) if np.isfinite(data).any() else (0.0, 1.0)
                panes.append(pn.Column(pn.pane.Str(survey), pn.pane.PNG(png_bytes(data, "gray", lo, hi, 160))))
            self.cutouts.objects = panes
            table = simbad_cone(ra, dec, fov * 60 / 2 * 1.5, self.config)
        except ContextUnavailable as exc:
            self.message = str(exc)
            return
        shown = table[[c for c in ("main_id", "otype", "ra", "dec") if c in table]]
        self.objects.object = (
            shown.to_html(index=False, escape=True) if len(shown) else "<p>No SIMBAD object there.</p>"
        )
        self.message = f"{len(panes)} cutout(s) and {len(table)} SIMBAD object(s) within {fov * 45:.1f} arcmin."

    def __panel__(self) -> pn.viewable.Viewable:
        button = pn.widgets.Button(name="Fetch cutouts and SIMBAD objects", css_classes=["context-fetch"])
        button.on_click(self.fetch)
        links_pane = self.links_pane()
        # the links follow a click once its tile is shown, while the Explore tab shows (issue 23)
        gate = WhenShown(self.state, "Explore", [self.state.param.selected_tile], defer=True)
        gate.param.watch(lambda _event: setattr(links_pane, "object", self.links_html()), "version")
        return pn.Column(
            links_pane,
            pn.Param(self, parameters=["surveys"], show_name=False, widgets={"surveys": pn.widgets.CheckButtonGroup}),
            button,
            pn.pane.Markdown(pn.bind(md_lines, self.param.message), css_classes=["context-status"]),
            self.cutouts,
            self.objects,
        )
