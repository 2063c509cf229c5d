"""The tile view: the selected tile in sky units with its metadata, and its nearest neighbours."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.views.thumbs import thumbnail_grid

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


UNITS = ["sky (Jy/beam)", "S/N (local noise)", "model input"]


class TileView(param.Parameterized):
    """Shows ``state.selected_tile``; its neighbour thumbnails select a new tile when clicked."""

    state = param.ClassSelector(class_=ExplorerState)
    units = param.Selector(default=UNITS[0], objects=UNITS, doc="what the tile image shows")

    def image(self, tile_id: int, units: str | None = None) -> hv.Image:
        """The tile in mJy/beam or in units of its noise when the source FITS has Jy units, else the model input."""
        units = units or self.units
        row = self.state.tile_row(tile_id)
        x0, y0, size = int(row["x0"]), int(row["y0"]), int(row["size"])
        bounds = (x0 - 0.5, y0 - 0.5, x0 + size - 0.5, y0 + size - 0.5)
        sky = self.state.sky_pixels(tile_id) if units != UNITS[2] else None
        label = f" · {row['label']}" if "label" in row.index and pd.notna(row["label"]) and str(row["label"]) else ""
        if sky is not None and sky[1].bunit.upper().startswith("JY"):
            pixels, image = sky
            beam = image.beam
            beam_text = f" · beam {beam.bmaj_arcsec:.1f}″×{beam.bmin_arcsec:.1f}″" if beam is not None else ""
            noise = float(row["noise_rms"]) if pd.notna(row["noise_rms"]) and row["noise_rms"] > 0 else None
            if units == UNITS[1] and noise:
                values = pixels / noise
                img = hv.Image(values, bounds=bounds, kdims=["x", "y"], vdims=["S/N"])
                clim = (-3.0, 10.0)
                title = f"Tile {tile_id} · {row['field']}{label} · σ = {noise * 1e6:.3g} µJy/beam{beam_text}"
            else:
                limits = self.state.field_limits(str(row["field"]))
                values = pixels * 1e3
                img = hv.Image(values, bounds=bounds, kdims=["x", "y"], vdims=["mJy/beam"])
                lo, hi = (limits[0] * 1e3, limits[1] * 1e3) if limits else np.nanpercentile(values, [2, 98])
                clim = (float(lo), float(hi))
                title = f"Tile {tile_id} · {row['field']}{label} · mJy/beam{beam_text}"
        else:
            img = hv.Image(self.state.tile_pixels(tile_id), bounds=bounds, kdims=["x", "y"], vdims=["scaled"])
            clim = (0.0, 1.0)
            title = f"Tile {tile_id} · {row['field']}{label} · model input"
        return img.opts(
            cmap="inferno",
            clim=clim,
            colorbar=True,
            tools=["hover"],
            toolbar=None,
            frame_width=300,
            frame_height=300,
            title=title,
            fontsize={"title": 10},
        )

    @param.depends("state.selected_tile", "state.embedding", "units")
    def view(self) -> pn.viewable.Viewable:
        tile_id = self.state.selected_tile
        if tile_id is None:
            return pn.pane.Markdown(
                "### Click a point on the map\nor a row of the anomaly table to open its tile.",
                css_classes=["tile-empty"],
            )
        row = self.state.tile_row(tile_id)
        neighbours = self.state.neighbours(tile_id)
        return pn.Column(
            pn.pane.Markdown(f"## Tile {tile_id}", css_classes=["tile-title"]),
            pn.widgets.RadioButtonGroup.from_param(self.param.units, name=""),
            pn.Row(
                pn.pane.HoloViews(self.image(tile_id), css_classes=["tile-image"], linked_axes=False),
                pn.pane.Markdown(describe(row), width=270),
            ),
            pn.pane.Markdown(f"#### {len(neighbours)} nearest neighbours ({self.state.embedding})"),
            thumbnail_grid(self.state, neighbours),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self.view, sizing_mode="stretch_width")
