"""The tile view: the selected tile in sky units with its metadata, and its nearest neighbours."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from radioexplore.render import png_bytes

THUMB_PX = 120
META_COLUMNS = [
    "field",
    "survey",
    "ra",
    "dec",
    "noise_rms",
    "dqf",
    "n_sources",
    "score",
    "rank",
    "flag",
    "label",
    "truth_kinds",
    "truth_n_sources",
]


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return str(value)


def describe(row: pd.Series) -> str:
    """Markdown table of a tile's metadata, noise in uJy/beam when the image is in Jy/beam."""
    lines = ["| | |", "|---|---|"]
    jy = str(row.get("bunit", "")).upper().startswith("JY")
    for col in META_COLUMNS:
        if col not in row.index:
            continue
        value = row[col]
        if col == "noise_rms" and jy and pd.notna(value):
            text = f"{value * 1e6:.2f} µJy/beam"
        elif col in ("ra", "dec") and pd.notna(value):
            text = f"{value:.5f}°"
        else:
            text = _fmt(value)
        lines.append(f"| {col} | {text} |")
    lines.append(
        f"| pixel box | x {row['x0']}–{row['x0'] + row['size'] - 1}, y {row['y0']}–{row['y0'] + row['size'] - 1} |"
    )
    return "\n".join(lines)


class TileView(param.Parameterized):
    """Shows ``state.selected_tile``; its neighbour thumbnails select a new tile when clicked."""

    state = param.ClassSelector(class_=ExplorerState)

    def image(self, tile_id: int) -> hv.Image:
        """The tile in mJy/beam when the source FITS is readable, else the normalised model input."""
        row = self.state.tile_row(tile_id)
        sky = self.state.sky_pixels(tile_id)
        x0, y0, size = int(row["x0"]), int(row["y0"]), int(row["size"])
        bounds = (x0 - 0.5, y0 - 0.5, x0 + size - 0.5, y0 + size - 0.5)
        if sky is not None and sky[1].bunit.upper().startswith("JY"):
            pixels, image = sky
            limits = self.state.field_limits(str(row["field"]))
            values = pixels * 1e3
            img = hv.Image(values, bounds=bounds, kdims=["x", "y"], vdims=["mJy/beam"])
            clim = (
                (limits[0] * 1e3, limits[1] * 1e3)
                if limits
                else (np.nanpercentile(values, 2), np.nanpercentile(values, 98))
            )
            beam = image.beam
            title = f"Tile {tile_id} · {row['field']} · mJy/beam"
            if beam is not None:
                title += f" · beam {beam.bmaj_arcsec:.1f}″×{beam.bmin_arcsec:.1f}″"
        else:
            img = hv.Image(self.state.tile_pixels(tile_id), bounds=bounds, kdims=["x", "y"], vdims=["scaled"])
            clim = (0.0, 1.0)
            title = f"Tile {tile_id} · {row['field']} · scaled"
        return img.opts(
            cmap="inferno",
            clim=clim,
            colorbar=True,
            tools=["hover"],
            frame_width=320,
            frame_height=320,
            title=title,
            fontsize={"title": 10},
        )

    def _neighbour_card(self, tile_id: int, distance: float) -> pn.viewable.Viewable:
        thumb = pn.pane.PNG(
            png_bytes(self.state.tile_pixels(tile_id), vmin=0.0, vmax=1.0, size=THUMB_PX),
            width=THUMB_PX,
            height=THUMB_PX,
            margin=2,
        )
        button = pn.widgets.Button(label=f"#{tile_id} · d={distance:.3g}", width=THUMB_PX, margin=2)
        button.on_click(lambda _event, t=tile_id: setattr(self.state, "selected_tile", t))
        return pn.Column(thumb, button, margin=2, css_classes=["neighbour"])

    @param.depends("state.selected_tile", "state.embedding")
    def view(self) -> pn.viewable.Viewable:
        tile_id = self.state.selected_tile
        if tile_id is None:
            return pn.pane.Markdown(
                "### Click a point on the map\nor a row of the anomaly table to open its tile.",
                css_classes=["tile-empty"],
            )
        row = self.state.tile_row(tile_id)
        neighbours = self.state.neighbours(tile_id)
        cards = [self._neighbour_card(int(r.tile_id), float(r.distance)) for r in neighbours.itertuples()]
        return pn.Column(
            pn.pane.Markdown(f"## Tile {tile_id}", css_classes=["tile-title"]),
            pn.Row(
                pn.pane.HoloViews(self.image(tile_id), css_classes=["tile-image"]),
                pn.pane.Markdown(describe(row), width=300),
            ),
            pn.pane.Markdown(f"#### {len(cards)} nearest neighbours ({self.state.embedding})"),
            pn.GridBox(*cards, ncols=4),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self.view, sizing_mode="stretch_width")
