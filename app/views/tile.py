"""The tile view: the selected tile in sky units with its metadata, and its nearest neighbours.

The tile is drawn in pixel coordinates of its source image, north up: row 0 of the pixel box
(``y0``) at the bottom, as in FITS. On request the ViT's last-block CLS attention (seed 000,
fig. 7) is overlaid in the same pixel bounds: the patches above a percentile of one head's map
(or of the mean of the heads) are shaded and outlined.
"""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.text import md_code, md_text
from app.views.thumbs import thumbnail_grid
from radioexplore.attention import AttentionError, percentile_mask

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
    """A table value as Markdown: numbers formatted, text (a field name, a flag) escaped."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return md_text(value)


def describe(row: pd.Series) -> str:
    """Markdown table of a tile's metadata, noise in uJy/beam when the image is in Jy/beam, and the
    image's unit (BUNIT) as its header gives it."""
    lines = ["| | |", "|---|---|"]
    bunit = row.get("bunit", "")
    jy = str(bunit).upper().startswith("JY")
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
    if pd.notna(bunit) and str(bunit):
        lines.append(f"| unit | {_fmt(str(bunit))} |")
    lines.append(
        f"| pixel box | x {row['x0']}–{row['x0'] + row['size'] - 1}, y {row['y0']}–{row['y0'] + row['size'] - 1} |"
    )
    return "\n".join(lines)


UNITS = ["sky (Jy/beam)", "S/N (local noise)", "model input"]
#: Attention overlay choices before the model is loaded; "head N" choices join once it is.
ATTENTION_OFF = ["off", "mean"]
CONTOUR_COLOUR = "#00e5ff"  # cyan stands out on the inferno colour map


def tile_bounds(row: pd.Series) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of a tile's pixel box, pixel centres on integers."""
    x0, y0, size = int(row["x0"]), int(row["y0"]), int(row["size"])
    return (x0 - 0.5, y0 - 0.5, x0 + size - 0.5, y0 + size - 0.5)


def pixel_image(values: np.ndarray, bounds: tuple, vdim: str) -> hv.Image:
    """An hv.Image of ``values`` whose row 0 is the bottom (``y0``), as in FITS and the tile store.

    HoloViews puts an array's row 0 at the top, so the rows are flipped here; every layer drawn
    over the tile goes through this function, so they line up pixel for pixel.
    """
    return hv.Image(np.asarray(values)[::-1], bounds=bounds, kdims=["x", "y"], vdims=[vdim])


class TileView(param.Parameterized):
    """Shows ``state.selected_tile``; its neighbour thumbnails select a new tile when clicked."""

    state = param.ClassSelector(class_=ExplorerState)
    units = param.Selector(default=UNITS[0], objects=UNITS, doc="what the tile image shows")
    attention = param.Selector(
        default="off", objects=list(ATTENTION_OFF), doc="ViT CLS attention overlaid on the tile: off, mean or a head"
    )
    attention_percentile = param.Number(
        default=90.0, bounds=(50.0, 99.5), step=0.5, doc="outline the patches above this percentile (seed 000: 90)"
    )

    def image(self, tile_id: int, units: str | None = None) -> hv.Image:
        """The tile in mJy/beam or in units of its noise when the source FITS has Jy units, else the model input."""
        units = units or self.units
        row = self.state.tile_row(tile_id)
        bounds = tile_bounds(row)
        sky = self.state.sky_pixels(tile_id) if units != UNITS[2] else None
        label = f" · {row['label']}" if "label" in row.index and pd.notna(row["label"]) and str(row["label"]) else ""
        if sky is not None and sky[1].bunit.upper().startswith("JY"):
            pixels, image = sky
            beam = image.beam
            beam_text = f" · beam {beam.bmaj_arcsec:.1f}″×{beam.bmin_arcsec:.1f}″" if beam is not None else ""
            noise = float(row["noise_rms"]) if pd.notna(row["noise_rms"]) and row["noise_rms"] > 0 else None
            if units == UNITS[1] and noise:
                values = pixels / noise
                img = pixel_image(values, bounds, "S/N")
                clim = (-3.0, 10.0)
                title = f"Tile {tile_id} · {row['field']}{label} · σ = {noise * 1e6:.3g} µJy/beam{beam_text}"
            else:
                limits = self.state.field_limits(str(row["field"]))
                values = pixels * 1e3
                img = pixel_image(values, bounds, "mJy/beam")
                lo, hi = (limits[0] * 1e3, limits[1] * 1e3) if limits else np.nanpercentile(values, [2, 98])
                clim = (float(lo), float(hi))
                title = f"Tile {tile_id} · {row['field']}{label} · mJy/beam{beam_text}"
        else:
            img = pixel_image(self.state.tile_pixels(tile_id), bounds, "scaled")
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

    def _sync_heads(self) -> None:
        """Offer one choice per head once the attention model is loaded."""
        heads = self.state.attention_heads()
        choices = list(ATTENTION_OFF) + ([f"head {h}" for h in range(heads)] if heads else [])
        if self.param.attention.objects != choices:
            self.param.attention.objects = choices
            if self.attention not in choices:
                self.attention = "mean"

    def attention_layer(self, tile_id: int, which: str | None = None, percentile: float | None = None) -> hv.Overlay:
        """The attention of ``which`` ("mean" or "head N") over the tile's pixel bounds: the patches
        at or above ``percentile`` shaded by their attention and outlined. Raises AttentionError.
        """
        which = which or self.attention
        percentile = self.attention_percentile if percentile is None else percentile
        ta = self.state.attention(tile_id)
        self._sync_heads()
        if which == "mean":
            amap = ta.mean
        else:
            head = int(str(which).split()[-1])
            if not 0 <= head < ta.maps.shape[0]:
                raise AttentionError(f"the model has heads 0..{ta.maps.shape[0] - 1}, not {head}")
            amap = ta.maps[head]
        mask = percentile_mask(amap[None], percentile)[0]
        bounds = tile_bounds(self.state.tile_row(tile_id))
        shade = pixel_image(np.where(mask, amap, np.nan), bounds, "attention").opts(
            cmap="cool", alpha=0.4, colorbar=False, tools=[]
        )
        outline = hv.operation.contours(pixel_image(mask.astype(np.float32), bounds, "mask"), levels=[0.5])
        return shade * outline.opts(color=CONTOUR_COLOUR, line_width=1.5, tools=[])

    def attention_caption(self, tile_id: int) -> str:
        """What the overlay shows and which checkpoint it comes from."""
        ta = self.state.attention(tile_id)
        name = Path(ta.checkpoint).name
        what = "mean of the heads" if self.attention == "mean" else self.attention
        return (
            f"Attention: {what} ({ta.maps.shape[0]} heads), last block of {ta.spec.arch}/{ta.spec.patch} "
            f"from {md_code(name)}; outlined: patches at or above the {self.attention_percentile:g}th percentile."
        )

    def figure(self, tile_id: int) -> tuple[hv.Element | hv.Overlay, pn.viewable.Viewable | None]:
        """The tile image, with the attention overlay when asked for, and a note on the overlay
        (what it shows, or why there is none)."""
        img = self.image(tile_id)
        if self.attention == "off":
            return img, None
        try:
            layer = self.attention_layer(tile_id)
            caption = self.attention_caption(tile_id)
        except AttentionError as exc:
            return img, pn.pane.Alert(
                f"No attention overlay: {md_text(exc)}", alert_type="warning", css_classes=["attention-note"]
            )
        style = {
            k: v for k, v in img.opts.get().kwargs.items() if k in ("title", "frame_width", "frame_height", "toolbar")
        }
        overlay = (img * layer).opts(**style, fontsize={"title": 10})
        return overlay, pn.pane.Markdown(caption, width=320, css_classes=["attention-note"])

    @param.depends("units", "attention", "attention_percentile")
    def _figure_pane(self) -> pn.viewable.Viewable:
        tile_id = self.state.selected_tile
        if tile_id is None:
            return pn.Column()
        element, note = self.figure(tile_id)
        parts = [pn.pane.HoloViews(element, css_classes=["tile-image"], linked_axes=False)]
        return pn.Column(*parts, *([note] if note is not None else []))

    @param.depends("state.selected_tile", "state.embedding")
    def view(self) -> pn.viewable.Viewable:
        tile_id = self.state.selected_tile
        if tile_id is None:
            return pn.pane.Markdown(
                "### Click a point on the map\nor a row of the anomaly table to open its tile.",
                css_classes=["tile-empty"],
            )
        self._sync_heads()
        row = self.state.tile_row(tile_id)
        neighbours = self.state.neighbours(tile_id)
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.attention, name="Attention", width=110),
            pn.widgets.FloatSlider.from_param(self.param.attention_percentile, name="above percentile", width=180),
        )
        return pn.Column(
            pn.pane.Markdown(f"## Tile {tile_id}", css_classes=["tile-title"]),
            pn.widgets.RadioButtonGroup.from_param(self.param.units, name=""),
            controls,
            pn.Row(
                # the spinner shows while the image (and the attention) is computed
                pn.panel(self._figure_pane, loading_indicator=True),
                pn.pane.Markdown(describe(row), width=270),
            ),
            pn.pane.Markdown(f"#### {len(neighbours)} nearest neighbours ({md_text(self.state.embedding)})"),
            thumbnail_grid(self.state, neighbours),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self.view, sizing_mode="stretch_width")
