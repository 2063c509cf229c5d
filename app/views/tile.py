"""The tile view: the selected tile in sky units with its metadata, and its nearest neighbours.

The tile is drawn in pixel coordinates of its source image, north up: row 0 of the pixel box
(``y0``) at the bottom, as in FITS. On request the ViT's last-block CLS attention (seed 000,
fig. 7) is overlaid in the same pixel bounds: the patches above a percentile of one head's map
(or of the mean of the heads) are shaded and outlined.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.text import md_code, md_text
from app.views.artefact import artefact_text
from app.views.diffuse import flagged_fraction, overlay_controls, tile_probability
from app.views.labels import toggles
from app.views.shown import WhenShown, after_this_event
from app.views.thumbs import ThumbnailGrid
from radioexplore.display.units import DISPLAY_UNIT, display_unit, is_jy_per_beam
from radioexplore.display.viewer import (
    CONTOUR_SETS,
    STRETCHES,
    StretchLimits,
    beam_ellipse,
    catalogue_components,
    contour_levels,
    fit_stretch,
    scale_bar,
    sky_readout,
)
from radioexplore.embed.attention import AttentionError, percentile_mask
from radioexplore.ingest.noise import local_rms
from radioexplore.io.catalog import CatalogError, read_catalog
from radioexplore.segmentation.read import SegmentsError

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
    "diffuse_mean",  # segments/tiles.parquet (issue 22), when the run has a segmentation
    "diffuse_area",
]


def _fmt(value) -> str:
    """A table value as Markdown: numbers formatted, text (a field name, a flag) escaped."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return md_text(value)


def describe(row: pd.Series) -> str:
    """Markdown table of a tile's metadata, noise in the display unit (:mod:`radioexplore.display.units`)
    when the image is in Jy/beam, and the image's unit (BUNIT) as its header gives it."""
    lines = ["| | |", "|---|---|"]
    bunit = row.get("bunit", "")
    jy = is_jy_per_beam(bunit)
    for col in META_COLUMNS:
        if col not in row.index:
            continue
        value = row[col]
        if col == "noise_rms" and jy and pd.notna(value):
            text = display_unit(bunit).text(float(value))
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


UNITS = [f"sky ({DISPLAY_UNIT})", "S/N (local noise)", "model input"]
#: Attention overlay choices before the model is loaded; "head N" choices join once it is.
ATTENTION_OFF = ["off", "mean"]
CONTOUR_COLOUR = "#00e5ff"  # cyan stands out on the inferno colour map
CATALOGUE_COLOUR = "#7CFC00"  # catalogue components: green, apart from the cyan contours
DIFFUSE_COLOURS = ["#1565c0", "#90caf9"]  # diffuse-emission shade (issue 22): blues, off the inferno map
DIFFUSE_OUTLINE = "#e040fb"  # and its outline at the threshold: magenta
FRAME_PX = 360
#: The tile view's settings that change how the tile is drawn.
FIGURE_SETTINGS = [
    "units",
    "attention",
    "attention_percentile",
    "stretch",
    "low_percentile",
    "high_percentile",
    "min_sigma",
    "max_sigma",
    "contours",
    "contour_levels",
    "catalogue",
]


@lru_cache(maxsize=4)
def _catalogue(path: str, mtime: float) -> pd.DataFrame:
    return read_catalog(path)


def _ellipse_xy(x: float, y: float, major: float, minor: float, angle: float, n: int = 48) -> np.ndarray:
    """Vertices of an ellipse with full axes ``major``, ``minor`` rotated by ``angle`` (radians from +x)."""
    t = np.linspace(0.0, 2 * np.pi, n)
    ex, ey = major / 2 * np.cos(t), minor / 2 * np.sin(t)
    return np.column_stack([x + ex * np.cos(angle) - ey * np.sin(angle), y + ex * np.sin(angle) + ey * np.cos(angle)])


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


def probability_layer(values: np.ndarray, bounds: tuple, threshold: float) -> hv.Overlay:
    """The diffuse-emission probability (rows from the bottom, as :func:`pixel_image`) shaded where
    it is at or above ``threshold`` and outlined at it; the tile and field views draw it (issue 22)."""
    values = np.asarray(values, dtype=np.float32)
    shade = pixel_image(np.where(values >= threshold, values, np.nan), bounds, "probability").opts(
        cmap=DIFFUSE_COLOURS, clim=(threshold, 1.0), alpha=0.35, colorbar=False, tools=[]
    )
    outline = hv.operation.contours(pixel_image(np.nan_to_num(values), bounds, "p"), levels=[threshold])
    return shade * outline.opts(color=DIFFUSE_OUTLINE, cmap=[DIFFUSE_OUTLINE], line_width=1.5, tools=[])


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
    stretch = param.Selector(default="asinh", objects=list(STRETCHES), doc="how values map to colours")
    low_percentile = param.Number(default=1.0, bounds=(0.0, 50.0), step=0.5, doc="lower limit of percentile, asinh")
    high_percentile = param.Number(default=99.9, bounds=(50.5, 100.0), step=0.1, doc="upper limit of percentile, asinh")
    min_sigma = param.Number(default=-3.0, bounds=(-20.0, 10.0), step=1.0, doc="lower limit of linear, log (x rms)")
    max_sigma = param.Number(default=50.0, bounds=(11.0, 2000.0), step=1.0, doc="upper limit of linear, log (x rms)")
    contours = param.Boolean(default=False, doc="n-sigma contours from the tile's local rms")
    contour_levels = param.Selector(default=next(iter(CONTOUR_SETS)), objects=list(CONTOUR_SETS), doc="levels in rms")
    catalogue = param.Boolean(default=True, doc="the run's catalogue components as ellipses")
    shown_tile = param.Integer(default=None, allow_None=True, precedence=-1, doc="the tile the layout shows")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._layout: pn.Column | None = None
        self._figure: pn.Column | None = None
        self._pipe: hv.streams.Pipe | None = None
        self._shown_structure: tuple = ()
        self._note_type: type | None = None
        self._title = ""
        self._grid: ThumbnailGrid | None = None
        self._neighbours_of: int | None = None  # the tile whose neighbours the cards show

    def limits(self) -> StretchLimits:
        """The stretch limits the user set."""
        return StretchLimits(self.low_percentile, self.high_percentile, self.min_sigma, self.max_sigma)

    def noise(self, tile_id: int) -> float | None:
        """The tile's local rms in the image's unit: the ingest's per-tile noise, else measured here."""
        row = self.state.tile_row(tile_id)
        value = row.get("noise_rms")
        if value is not None and pd.notna(value) and value > 0:
            return float(value)
        sky = self.state.sky_pixels(tile_id)
        return local_rms(sky[0]) if sky is not None else None

    def image(self, tile_id: int, units: str | None = None) -> hv.Image:
        """The tile in mJy/beam or in units of its noise when the source FITS has Jy units, else the
        model input; coloured with the chosen stretch (the values stay in their unit)."""
        units = units or self.units
        row = self.state.tile_row(tile_id)
        bounds = tile_bounds(row)
        sky = self.state.sky_pixels(tile_id) if units != UNITS[2] else None
        label = f" · {row['label']}" if "label" in row.index and pd.notna(row["label"]) and str(row["label"]) else ""
        if sky is not None and is_jy_per_beam(sky[1].bunit):
            pixels, image = sky
            unit = display_unit(image.bunit)
            beam = image.beam
            beam_text = f" · beam {beam.bmaj_arcsec:.1f}″×{beam.bmin_arcsec:.1f}″" if beam is not None else ""
            noise = self.noise(tile_id)
            if units == UNITS[1] and noise:
                values = pixels / noise
                img = pixel_image(values, bounds, "S/N")
                stretch = fit_stretch(values, self.stretch, 1.0, self.limits())
                clim = (stretch.lo, stretch.hi)
                title = f"Tile {tile_id} · {row['field']}{label} · σ = {unit.text(noise)}{beam_text}"
            else:
                values = unit.values(pixels)
                img = pixel_image(values, bounds, unit.label)
                stretch = fit_stretch(pixels, self.stretch, noise, self.limits())
                clim = (stretch.lo * unit.factor, stretch.hi * unit.factor)
                title = f"Tile {tile_id} · {row['field']}{label} · {unit.label}{beam_text}"
        else:
            values = self.state.tile_pixels(tile_id)
            img = pixel_image(values, bounds, "scaled")
            stretch = fit_stretch(values, self.stretch, None, self.limits())
            clim = (stretch.lo, stretch.hi)
            title = f"Tile {tile_id} · {row['field']}{label} · model input"
        return img.opts(
            cmap=stretch.palette("inferno"),
            clim=clim,
            colorbar=True,
            tools=["hover"],
            toolbar=None,
            frame_width=FRAME_PX,
            frame_height=FRAME_PX,
            title=title,
            fontsize={"title": 10},
        )

    def decorations(self, tile_id: int, img: hv.Image) -> list[hv.Element]:
        """What a radio viewer draws over the tile: n-sigma contours, catalogue components, the beam
        (lower left) and a scale bar (lower right); each only where the image has what it needs."""
        row = self.state.tile_row(tile_id)
        left, bottom, right, top = tile_bounds(row)
        size = right - left
        diffuse = self.diffuse_layer(tile_id)
        out: list[hv.Element] = [] if diffuse is None else list(diffuse.values())  # under the rest
        sky = self.state.sky_pixels(tile_id)
        noise = self.noise(tile_id)
        if self.contours:
            out.append(self.contour_layer(img, noise, sky))
        if sky is None:
            return out
        image = sky[1]
        if self.catalogue:
            comps = self.components(tile_id)
            if comps is not None:  # (an empty layer where the tile has none: the next tile is drawn in place)
                out.append(
                    hv.Path([_ellipse_xy(*c) for c in comps.itertuples(index=False)], kdims=["x", "y"]).opts(
                        color=CATALOGUE_COLOUR, line_width=1.5, tools=[]
                    )
                )
        pix = image.pixel_arcsec
        if image.beam is not None and pix:
            major, minor, angle = beam_ellipse(image.beam, pix)
            r = max(major, minor) / 2 + 0.04 * size
            out.append(
                hv.Ellipse(left + r, bottom + r, (major, minor), orientation=angle).opts(
                    color="white", line_width=2, tools=[]
                )
            )
        if pix:
            length, text = scale_bar(pix, size)
            x1, y = right - 0.05 * size, bottom + 0.05 * size
            out.append(hv.Path([[(x1 - length, y), (x1, y)]], kdims=["x", "y"]).opts(color="white", line_width=3))
            out.append(
                hv.Text(x1 - length / 2, y + 0.03 * size, text, fontsize=9, valign="bottom").opts(text_color="white")
            )
        return out

    def contour_layer(self, img: hv.Image, noise: float | None, sky: tuple | None) -> hv.Contours:
        """The n-sigma contours of ``img``; an empty layer where there are none (no noise estimate in
        Jy/beam, or the peak below the first level), so the next tile is drawn in the same figure."""
        vdim = img.vdims[0].name
        rms = None
        if noise:
            rms = (
                1.0 if vdim == "S/N" else (display_unit(sky[1].bunit).factor * noise if vdim == DISPLAY_UNIT else None)
            )
        levels = contour_levels(img.dimension_values(2), rms, CONTOUR_SETS[self.contour_levels]) if rms else []
        if levels:
            lines = hv.operation.contours(img, levels=levels, filled=False, overlaid=False)
        else:
            lines = hv.Contours([], kdims=img.kdims, vdims=img.vdims)
        return lines.opts(color=CONTOUR_COLOUR, line_width=1, cmap=[CONTOUR_COLOUR], tools=[])

    def diffuse_layer(self, tile_id: int) -> hv.Overlay | None:
        """The segmentation's probability over the tile when the overlay is on and the tile's field has a map."""
        if not self.state.diffuse_overlay:
            return None
        try:
            return probability_layer(
                tile_probability(self.state, tile_id),
                tile_bounds(self.state.tile_row(tile_id)),
                self.state.diffuse_threshold,
            )
        except SegmentsError:
            return None  # the caption says why

    def diffuse_caption(self, tile_id: int) -> str:
        """The flagged area of the tile at the threshold, or why there is no overlay; "" when it is off."""
        if not self.state.diffuse_overlay:
            return ""
        try:
            prob = tile_probability(self.state, tile_id)
        except SegmentsError as exc:
            return f"No diffuse-emission overlay: {md_text(exc)}"
        area = flagged_fraction(prob, self.state.diffuse_threshold)
        return (
            f"Diffuse emission (U-Net): probability ≥ {self.state.diffuse_threshold:g} over "
            f"{100 * area:.1f}% of the tile (shaded, outlined in magenta); max {np.nanmax(prob):.2f}"
        )

    def components(self, tile_id: int) -> pd.DataFrame | None:
        """The run's catalogue components in the tile, as pixel ellipses; None without a catalogue."""
        path = self.state.run.stage_config("ingest").get("catalog")
        sky = self.state.sky_pixels(tile_id)
        if not path or sky is None or not Path(path).is_file():
            return None
        try:
            catalog = _catalogue(str(path), Path(path).stat().st_mtime)
        except CatalogError:
            return None
        row = self.state.tile_row(tile_id)
        box = (int(row["x0"]), int(row["y0"]), int(row["size"]), int(row["size"]))
        return catalogue_components(catalog, sky[1], box, sky[1].beam)

    def readout(self, tile_id: int, x: float | None, y: float | None) -> str:
        """The sky position and value under the cursor at pixel (x, y) of the source image, as Markdown."""
        if x is None or y is None:
            return "Move the cursor over the image for RA/Dec."
        sky = self.state.sky_pixels(tile_id)
        if sky is None:
            return f"pixel ({x:.0f}, {y:.0f}); the source image cannot be read"
        row = self.state.tile_row(tile_id)
        i, j = int(round(x)) - int(row["x0"]), int(round(y)) - int(row["y0"])
        value = ""
        if 0 <= i < sky[0].shape[1] and 0 <= j < sky[0].shape[0]:
            v = float(sky[0][j, i])
            unit = display_unit(sky[1].bunit)
            noise = self.noise(tile_id)
            snr = f" (S/N {v / noise:.1f})" if noise and np.isfinite(v) else ""
            value = f" · {md_text(unit.text(v))}{snr}"
        return f"**RA/Dec** {md_text(sky_readout(sky[1], x, y))} · pixel ({x:.0f}, {y:.0f}){value}"

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

    def caption(self, tile_id: int, img: hv.Image) -> str:
        """The stretch, its colour limits and the contour levels, as Markdown."""
        lo, hi = img.opts.get().kwargs["clim"]
        unit = img.vdims[0].name
        text = f"Stretch **{self.stretch}**, colours {lo:.3g} to {hi:.3g} {md_text(unit)}"
        noise = self.noise(tile_id)
        if self.contours and noise and unit in ("S/N", DISPLAY_UNIT):
            rms = 1.0 if unit == "S/N" else display_unit("JY/BEAM").factor * noise
            levels = contour_levels(img.dimension_values(2), rms, CONTOUR_SETS[self.contour_levels])
            sigma = display_unit(self.state.tile_row(tile_id).get("bunit", "")).text(noise)
            shown = ", ".join(f"{lv / rms:g}" for lv in levels) or "none (the peak is below the first level)"
            text += f"; contours at {shown} σ (σ = {md_text(sigma)})"
        elif self.contours:
            text += "; no contours: the image has no noise estimate in Jy/beam"
        diffuse = self.diffuse_caption(tile_id)
        return f"{text}.  \n{diffuse}" if diffuse else text

    @param.depends(*FIGURE_SETTINGS, "state.diffuse_overlay", "state.diffuse_threshold")
    def _figure_pane(self) -> pn.viewable.Viewable:
        tile_id = self.state.selected_tile
        if tile_id is None:
            return pn.Column()
        element, img, note = self._composed(tile_id)
        pointer = hv.streams.PointerXY(source=element, x=None, y=None)
        readout = pn.pane.Markdown(
            pn.bind(self.readout, tile_id, pointer.param.x, pointer.param.y), css_classes=["radec-readout"], width=420
        )
        parts = [
            pn.pane.HoloViews(element, css_classes=["tile-image"], linked_axes=False),
            readout,
            pn.pane.Markdown(self.caption(tile_id, img), css_classes=["tile-caption"], width=420),
        ]
        return pn.Column(*parts, *([note] if note is not None else []))

    def _composed(self, tile_id: int) -> tuple[hv.Element | hv.Overlay, hv.Image, pn.viewable.Viewable | None]:
        """The tile's image with its overlays and decorations, the image itself and the overlay's note."""
        element, note = self.figure(tile_id)
        img = element if isinstance(element, hv.Image) else element.get(0)
        extras = self.decorations(tile_id, img)
        if extras:
            style = {
                k: v
                for k, v in img.opts.get().kwargs.items()
                if k in ("title", "frame_width", "frame_height", "toolbar")
            }
            element = hv.Overlay([element, *extras]).opts(**style, fontsize={"title": 10})
        return element, img, note

    @staticmethod
    def _frame(element: hv.Element | hv.Overlay, img: hv.Image) -> tuple[hv.Overlay, str]:
        """``element`` as a frame of the in-place figure, and its title: the colour limits become the
        image's value range, since HoloViews takes plot options (``clim``, ``title``) from the first
        frame only; the title is set by :meth:`_title_hook`."""
        opts = img.opts.get().kwargs
        vdim = img.vdims[0].name
        layers = list(element) if isinstance(element, hv.Overlay) else [element]
        layers[0] = img.redim.range(**{vdim: tuple(opts["clim"])}).opts(clim=(np.nan, np.nan), framewise=True)
        return hv.Overlay(layers), opts["title"]

    @staticmethod
    def _structure(frame: hv.Overlay) -> tuple:
        """The layers a frame draws: a frame with the same ones replaces the shown one's data in place."""
        return tuple((type(e).__name__, e.group, e.label) for e in frame)

    def _title_hook(self, plot, _element) -> None:
        plot.state.title.text = self._title

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """The image column shows Panel's loading spinner while a figure is computed (set before and
        cleared after, even on an error); a nested use leaves it to the outermost."""
        column = self._figure
        if column is None or column.loading:
            yield
            return
        column.loading = True
        try:
            yield
        finally:
            column.loading = False

    def _redraw(self, *events) -> None:
        """Draw the shown tile with the current settings: a new figure (a setting changed, or the new
        tile has other layers), or the same Bokeh figure with new data (another tile, same layers)."""
        tile_id = self.shown_tile
        if tile_id is None or self._figure is None:
            return
        with self._busy():
            self._draw(tile_id, events)

    def _draw(self, tile_id: int, events: tuple) -> None:
        """:meth:`_redraw`'s work, while the image column shows it is loading."""
        element, img, note = self._composed(tile_id)
        frame, title = self._frame(element, img)
        structure = self._structure(frame)
        caption = self.caption(tile_id, img)
        same = self._pipe is not None and structure == self._shown_structure and self._note_type is type(note)
        if same and all(e.name == "shown_tile" for e in events):
            self._title = title
            self._pipe.send(frame)
            self._caption.object = caption
            if note is not None and self._figure.objects[-1] is not self._caption:
                self._figure.objects[-1].object = note.object
            return
        self._pipe = hv.streams.Pipe(data=frame)
        self._shown_structure, self._note_type = structure, type(note)
        self._title = title
        # the image and the layers over it as two DynamicMaps: the cursor stream needs the image's own
        image = hv.DynamicMap(lambda data: data.get(0), streams=[self._pipe])
        pointer = hv.streams.PointerXY(source=image, x=None, y=None)
        style = {"frame_width": FRAME_PX, "frame_height": FRAME_PX, "toolbar": None, "fontsize": {"title": 10}}
        if len(frame) > 1:
            over = hv.DynamicMap(lambda data: hv.Overlay(list(data)[1:]), streams=[self._pipe])
            dmap = (image * over).opts(hv.opts.Overlay(framewise=True, hooks=[self._title_hook], **style))
        else:
            dmap = image.opts(hv.opts.Image(hooks=[self._title_hook], **style))
        readout = pn.pane.Markdown(
            pn.bind(self.readout, self.param.shown_tile, pointer.param.x, pointer.param.y),
            css_classes=["radec-readout"],
            width=420,
        )
        self._caption = pn.pane.Markdown(caption, css_classes=["tile-caption"], width=420)
        parts = [pn.pane.HoloViews(dmap, css_classes=["tile-image"], linked_axes=False), readout, self._caption]
        self._figure.objects = [*parts, *([note] if note is not None else [])]

    @param.depends("state.selected_tile", "state.embedding", "state.n_neighbours", "state.show_marks")
    def view(self) -> pn.viewable.Viewable:
        """The tile view of the selected tile. Its layout (controls, image pane, metadata, neighbour
        cards) is built once and then changed in place for each tile opened, so a click sends the
        new values and one new image, not a new column of widgets (issue 23: click to tile < 1 s).
        The N-neighbours slider and "Mark labelled tiles" refill the neighbour cards; the image is not
        redrawn for them."""
        tile_id = self.state.selected_tile
        if tile_id is None:
            return pn.pane.Markdown(
                "### Click a point on the map\nor a row of the anomaly table to open its tile.",
                css_classes=["tile-empty"],
            )
        self._sync_heads()
        if self._layout is None:
            self.shown_tile = tile_id  # before the image pane exists: it draws once
            self._layout = self._build()
        row = self.state.tile_row(tile_id)
        # the spinner goes out before the held message (a held True and False would show nothing)
        with self._busy() if tile_id != self.shown_tile else nullcontext():
            with pn.io.hold(freeze=True):  # one message to the browser: the heading never runs ahead of the image
                if tile_id != self._neighbours_of:
                    self._neighbours_title.object = "#### Finding the tiles most like this one…"
                self.shown_tile = tile_id  # redraws the image pane
                self._meta.object = describe(row)
                self._artefact.object = artefact_text(self.state, tile_id)
                self._heading.object = f"## Tile {tile_id}"
        # the neighbours (a search and a thumbnail each) follow once the tile is shown (issue 23)
        after_this_event(self._show_neighbours, key=("neighbours", id(self)))
        return self._layout

    def _show_neighbours(self) -> None:
        """Fill the neighbour cards for the tile shown, with the current N and embedding."""
        tile_id = self.shown_tile
        if tile_id is None or self._grid is None:
            return
        neighbours = self.state.neighbours(tile_id)
        self._grid.show(neighbours)
        self._neighbours_title.object = f"#### {len(neighbours)} nearest neighbours ({md_text(self.state.embedding)})"
        self._neighbours_of = tile_id

    def _build(self) -> pn.Column:
        """The tile view's layout, once; :meth:`view` fills it with a tile."""
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.attention, name="Attention", width=110),
            pn.widgets.FloatSlider.from_param(self.param.attention_percentile, name="above percentile", width=180),
        )
        stretch = pn.Row(
            pn.widgets.Select.from_param(self.param.stretch, name="Stretch", width=110, css_classes=["stretch-select"]),
            pn.widgets.FloatInput.from_param(self.param.low_percentile, name="low %", width=70),
            pn.widgets.FloatInput.from_param(self.param.high_percentile, name="high %", width=70),
            pn.widgets.FloatInput.from_param(self.param.min_sigma, name="min σ", width=70),
            pn.widgets.FloatInput.from_param(self.param.max_sigma, name="max σ", width=70),
        )
        overlays = pn.Row(
            pn.widgets.Checkbox.from_param(self.param.contours, name="n-σ contours", css_classes=["contour-toggle"]),
            pn.widgets.Select.from_param(self.param.contour_levels, name="", width=140),
            pn.widgets.Checkbox.from_param(self.param.catalogue, name="catalogue components"),
        )
        self._heading = pn.pane.Markdown("", css_classes=["tile-title"])
        self._artefact = pn.pane.Markdown("", css_classes=["artefact-line"])
        self._meta = pn.pane.Markdown("", width=270, css_classes=["tile-meta"])
        self._neighbours_title = pn.pane.Markdown("")
        self._grid = ThumbnailGrid(self.state)
        self._figure = pn.Column()
        self._redraw()
        self.param.watch(self._redraw, [*FIGURE_SETTINGS, "shown_tile"])
        self.state.param.watch(self._redraw, ["diffuse_overlay", "diffuse_threshold"])
        return pn.Column(
            self._heading,
            self._artefact,
            pn.widgets.RadioButtonGroup.from_param(self.param.units, name="", **toggles()),  # the unit shown stands out
            stretch,
            overlays,
            overlay_controls(self.state, "tile-diffuse"),
            controls,
            pn.FlexBox(  # the metadata wraps under the image where the column is narrow, never cut
                self._figure,
                self._meta,
                sizing_mode="stretch_width",
            ),
            self._neighbours_title,
            self._grid.panel,
            sizing_mode="stretch_width",
        )

    def live(self, tab: str) -> pn.viewable.Viewable:
        """The tile view as the dashboard shows it: it follows the selected tile only while ``tab``
        shows (once when it shows again), changing its one layout in place."""
        deps = [
            self.state.param.selected_tile,
            self.state.param.embedding,
            self.state.param.n_neighbours,
            self.state.param.show_marks,
        ]
        gate = WhenShown(self.state, tab, deps)
        holder = pn.Column(self.view(), sizing_mode="stretch_width")

        def follow(_event) -> None:
            shown = self.view()
            if len(holder.objects) != 1 or holder.objects[0] is not shown:
                holder.objects = [shown]

        gate.param.watch(follow, "version")
        return holder

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self.view, sizing_mode="stretch_width")
