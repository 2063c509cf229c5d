"""The field view: a whole field downsampled with its tile boxes (labelled and top-ranked tiles
marked, the selected one in red), and the 3x3 tiles' area around the selected tile, read from the
source image so a source cut by a tile edge is seen whole. A click on either opens the tile under it.

Both are drawn in pixel coordinates of the source image, north up, as the tile view is.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState, fits_image
from app.text import md_text
from app.views.diffuse import (
    cluster_layer,
    field_clusters,
    field_flagged,
    field_probability,
    field_segment,
    overlay_controls,
)
from app.views.shown import WhenShown
from app.views.tile import pixel_image, probability_layer
from radioexplore.display.units import display_unit
from radioexplore.display.viewer import downsample_field, fit_stretch, neighbourhood_box, tile_at, tiles_in_box
from radioexplore.io.fits import FitsImage
from radioexplore.run.tiletable.join import UNLABELLED
from radioexplore.segmentation.read import SegmentsError

#: Longest side of the downsampled field, in screen pixels' worth of data.
FIELD_PX = 640
FRAME_PX = 460
BOX_COLOURS = {"tile": "#9e9e9e", "labelled": "#7CFC00", "top": "#ffa500", "selected": "#ff1744"}


@lru_cache(maxsize=8)
def _overview(path: str, mtime: float, max_px: int) -> tuple[np.ndarray, int]:
    image = fits_image(path)
    if image is None:
        raise FileNotFoundError(path)
    return downsample_field(image, max_px)


def _boxes(tiles: pd.DataFrame) -> hv.Rectangles:
    x0, y0, size = tiles["x0"].to_numpy(float), tiles["y0"].to_numpy(float), tiles["size"].to_numpy(float)
    data = np.column_stack([x0 - 0.5, y0 - 0.5, x0 + size - 0.5, y0 + size - 0.5])
    return hv.Rectangles(data, kdims=["x", "y", "x1", "y1"])


class FieldView(param.Parameterized):
    """The selected tile's field and its 3x3 neighbourhood; a click on a tile sets ``state.selected_tile``."""

    state = param.ClassSelector(class_=ExplorerState)
    field = param.Selector(default=None, objects=[], allow_None=True, doc="field shown")
    top_n = param.Integer(default=20, bounds=(0, 500), doc="mark the top tiles of the current ranking")
    near_tile = param.Integer(default=None, allow_None=True, precedence=-1, doc="the tile the 3x3 view shows")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        fields = sorted({str(f) for f in self.state.tiles()["field"].unique()})
        self.param.field.objects = fields
        state = self.state
        # the boxes, the field and the 3x3 view follow a click after its tile is shown (issue 23)
        self._marks_shown = WhenShown(
            state,
            "Explore",
            [state.param.selected_tile, state.param.label_version, state.param.ranking_version],
            defer=True,
        )
        self._field_pipe: hv.streams.Pipe | None = None
        self._field_pane: pn.pane.HoloViews | None = None
        self._field_structure: tuple = ()
        self._field_title = ""
        self.field = fields[0] if fields else None
        self._heading = pn.pane.Markdown("", css_classes=["field-selected"])
        self._follow_selection()
        # the field and the 3x3 view follow the selection only while the Explore tab shows (issue 23):
        # a click or a label behind the review queue draws neither
        self._selection_shown = WhenShown(state, "Explore", [state.param.selected_tile], defer=True)
        self._selection_shown.param.watch(lambda _: self._follow_selection(), "version")
        self._near_pipe: hv.streams.Pipe | None = None
        self._near_pane: pn.pane.HoloViews | None = None
        self._near_structure: tuple = ()
        self._near_title = ""
        self._near_holder = pn.Column(self.neighbourhood_pane())
        self._field_holder = pn.Column(self.field_pane())
        self.param.watch(self._draw_field, ["field", "top_n"])
        self.state.param.watch(self._draw_field, ["diffuse_overlay", "diffuse_threshold"])
        self.param.watch(self._draw_near, "near_tile")
        self.state.param.watch(self._draw_near, ["diffuse_overlay", "diffuse_threshold"])

    def _follow_selection(self) -> None:
        tile_id = self.state.selected_tile
        if tile_id is not None:
            self.field = str(self.state.tile_row(tile_id)["field"])
        self.near_tile = tile_id
        self._heading.object = self.heading_text()

    def field_tiles(self, field: str | None = None) -> pd.DataFrame:
        tiles = self.state.tiles()
        return tiles[tiles["field"].astype(str) == (field or self.field)]

    def image_of(self, field: str | None = None) -> FitsImage | None:
        tiles = self.field_tiles(field)
        path = str(tiles["file"].iloc[0]) if len(tiles) else ""
        return fits_image(path) if path and Path(path).is_file() else None

    def _on_tap(self, x: float | None = None, y: float | None = None) -> None:
        tile = tile_at(self.field_tiles(), x, y)
        if tile is not None:
            self.state.selected_tile = tile

    def _on_tap_near(self, x: float | None = None, y: float | None = None) -> None:
        if self.state.selected_tile is None:
            return
        row = self.state.tile_row(self.state.selected_tile)
        near = tiles_in_box(self.field_tiles(str(row["field"])), self._near_box(row))
        tile = tile_at(near, x, y)
        if tile is not None:
            self.state.selected_tile = tile

    @staticmethod
    def _near_box(row: pd.Series) -> tuple[int, int, int, int]:
        return neighbourhood_box(int(row["x0"]), int(row["y0"]), int(row["size"]))

    def _noise(self, tiles: pd.DataFrame) -> float | None:
        noise = pd.to_numeric(tiles.get("noise_rms"), errors="coerce") if "noise_rms" in tiles else None
        value = float(np.nanmedian(noise)) if noise is not None and noise.notna().any() else None
        return value if value and value > 0 else None

    def field_image(self, field: str | None = None) -> hv.Image | None:
        """The downsampled field in the display unit, asinh-stretched; None when its FITS cannot be read."""
        field = field or self.field
        image = self.image_of(field)
        if image is None:
            return None
        small, step = _overview(str(image.path), image.path.stat().st_mtime, FIELD_PX)
        unit = display_unit(image.bunit)
        bounds = (-0.5, -0.5, small.shape[1] * step - 0.5, small.shape[0] * step - 0.5)
        stretch = fit_stretch(small, "asinh", self._noise(self.field_tiles(field)))
        return pixel_image(unit.values(small), bounds, unit.label).opts(
            cmap=stretch.palette("inferno"),
            clim=(stretch.lo * unit.factor, stretch.hi * unit.factor),
            colorbar=True,
            tools=["tap"],
            toolbar=None,
            frame_width=FRAME_PX,
            frame_height=int(FRAME_PX * small.shape[0] / small.shape[1]),
            title=f"Field {field} · {image.nx}×{image.ny} px shown 1:{step} · {unit.label}",
            fontsize={"title": 10},
        )

    def diffuse_layer(self, field: str | None = None) -> tuple[hv.Overlay | None, str]:
        """The field's diffuse-emission probability, block-averaged as the field image is, over it when
        the overlay is on (issue 22), and a line on the flagged area or on why there is none."""
        field = field or self.field
        image = self.image_of(field)
        if not self.state.diffuse_overlay or image is None:
            return None, ""
        try:
            prob, step = field_probability(self.state, field, image.shape, FIELD_PX)
        except SegmentsError as exc:
            return None, f"No diffuse-emission overlay: {md_text(exc)}"
        bounds = (-0.5, -0.5, prob.shape[1] * step - 0.5, prob.shape[0] * step - 0.5)
        threshold = self.state.diffuse_threshold
        area = field_flagged(self.state, field, threshold)
        text = (
            f"Diffuse emission (U-Net): probability ≥ {threshold:g} over {100 * area:.2f}% of the field "
            f"(shaded and outlined on the 1:{step} overview)"
        )
        layer = probability_layer(prob, bounds, threshold)
        clusters = field_clusters(self.state, field)
        if len(clusters):
            layer = layer * cluster_layer(clusters)
            n = int(clusters["detected"].astype(bool).sum())
            text += f"; {len(clusters)} cluster(s), {n} detected by segment (green rings; dashed white: not detected)"
        return layer, text

    def marks(self, tile_id: int | None, *_versions) -> hv.Overlay:
        """The field's tile boxes: all (grey), labelled (green), top-ranked (orange), selected (red)."""
        tiles = self.field_tiles()
        layers = [_boxes(tiles).opts(fill_alpha=0.0, line_color=BOX_COLOURS["tile"], line_alpha=0.35, tools=[])]
        labelled = tiles[tiles["user_labels"] != UNLABELLED] if "user_labels" in tiles else tiles.head(0)
        top = self.state.top_anomalies(self.top_n)
        top = tiles[tiles["tile_id"].isin(top["tile_id"])] if self.top_n else tiles.head(0)
        layers.append(_boxes(top).opts(fill_alpha=0.0, line_color=BOX_COLOURS["top"], line_width=2, tools=[]))
        layers.append(_boxes(labelled).opts(fill_alpha=0.0, line_color=BOX_COLOURS["labelled"], line_width=2, tools=[]))
        chosen = tiles[tiles["tile_id"] == tile_id] if tile_id is not None else tiles.head(0)
        layers.append(_boxes(chosen).opts(fill_alpha=0.0, line_color=BOX_COLOURS["selected"], line_width=3, tools=[]))
        return hv.Overlay(layers)

    def field_pane(self, *events) -> pn.viewable.Viewable:
        """The field with its boxes. Another field of the same size, with no overlay, is sent as new
        data to the figure already drawn (issue 23: a click on a tile of another field draws no new
        figure); else a new figure is drawn."""
        img = self.field_image()
        if img is None:
            self._field_pipe = None
            return pn.pane.Alert(
                f"The source image of field {md_text(self.field)} cannot be read here.", alert_type="warning"
            )
        opts = img.opts.get().kwargs
        diffuse, note = self.diffuse_layer()
        structure = (opts["frame_width"], opts["frame_height"])
        self._field_title = opts["title"]
        vdim = img.vdims[0].name
        frame = img.redim.range(**{vdim: tuple(opts["clim"])}).opts(clim=(np.nan, np.nan), framewise=True)
        in_place = all(e.name == "field" for e in events) and structure == self._field_structure
        if events and in_place and diffuse is None and self._field_pipe is not None and self._field_pane is not None:
            self._field_pipe.send(frame)
            return self._field_pane
        self._field_pipe, self._field_structure = hv.streams.Pipe(data=frame), structure
        image = hv.DynamicMap(lambda data: data, streams=[self._field_pipe])
        # the boxes redraw only while the Explore tab shows (not per label behind the review queue)
        marks = hv.DynamicMap(
            pn.bind(
                lambda _v, _f: self.marks(self.state.selected_tile), self._marks_shown.param.version, self.param.field
            )
        )
        layers = image if diffuse is None else image * diffuse
        overlay = (layers * marks).opts(
            hv.opts.Overlay(
                framewise=True,
                hooks=[self._field_title_hook],
                frame_width=structure[0],
                frame_height=structure[1],
                fontsize={"title": 10},
            )
        )
        tap = hv.streams.Tap(source=image, x=None, y=None)  # on the image, as the map's tap is on its points
        tap.add_subscriber(self._on_tap)
        pane = pn.pane.HoloViews(overlay, css_classes=["field-image"], linked_axes=False)
        self._field_pane = pane if diffuse is None else None
        return (
            pn.Column(pane, pn.pane.Markdown(note, css_classes=["field-diffuse-note"], width=FRAME_PX))
            if note
            else pane
        )

    def _field_title_hook(self, plot, _element) -> None:
        plot.state.title.text = self._field_title

    def _draw_field(self, *events) -> None:
        pane = self.field_pane(*events)
        if len(self._field_holder.objects) != 1 or self._field_holder.objects[0] is not pane:
            self._field_holder.objects = [pane]

    def neighbourhood(self, tile_id: int) -> hv.Overlay | None:
        """The 3x3 tiles' area around ``tile_id`` in the display unit with the tile boxes there."""
        row = self.state.tile_row(tile_id)
        sky = self.state.sky_pixels(tile_id)
        if sky is None:
            return None
        image = sky[1]
        box = self._near_box(row)
        pixels = image.read_box(*box)
        unit = display_unit(image.bunit)
        bounds = (box[0] - 0.5, box[1] - 0.5, box[0] + box[2] - 0.5, box[1] + box[3] - 0.5)
        noise = row.get("noise_rms")
        stretch = fit_stretch(pixels, "asinh", float(noise) if pd.notna(noise) and noise > 0 else None)
        img = pixel_image(unit.values(pixels), bounds, unit.label).opts(
            cmap=stretch.palette("inferno"),
            clim=(stretch.lo * unit.factor, stretch.hi * unit.factor),
            colorbar=True,
            tools=["tap"],
            toolbar=None,
        )
        near = tiles_in_box(self.field_tiles(str(row["field"])), box)
        others = _boxes(near).opts(fill_alpha=0.0, line_color="white", line_alpha=0.5, line_dash="dashed", tools=[])
        this = _boxes(near[near["tile_id"] == tile_id]).opts(
            fill_alpha=0.0, line_color=BOX_COLOURS["selected"], line_width=3, tools=[]
        )
        layers = img
        if self.state.diffuse_overlay:
            try:
                prob = field_segment(self.state, str(row["field"]), image.shape).read_box(*box)
                layers = img * probability_layer(prob, bounds, self.state.diffuse_threshold)
            except SegmentsError:
                pass  # the field pane says why
        return (layers * others * this).opts(
            frame_width=FRAME_PX - 100,
            frame_height=FRAME_PX - 100,
            title=f"3×3 tiles around tile {tile_id} · {unit.label}",
            fontsize={"title": 10},
        )

    def neighbourhood_pane(self, *events) -> pn.viewable.Viewable:
        """The 3x3 view of ``near_tile``. Another tile with the same layers is sent as new data to the
        figure already drawn (issue 23: a click draws no new figure); else a new figure is drawn."""
        tile_id = self.near_tile
        if tile_id is None:
            return pn.pane.Markdown("Open a tile (click one in the field) to see the tiles around it.")
        overlay = self.neighbourhood(tile_id)
        if overlay is None:
            return pn.pane.Alert(f"The source image of tile {tile_id} cannot be read here.", alert_type="warning")
        img = overlay.get(0)
        vdim = img.vdims[0].name
        layers = list(overlay)
        layers[0] = img.redim.range(**{vdim: tuple(img.opts.get().kwargs["clim"])}).opts(
            clim=(np.nan, np.nan), framewise=True
        )
        frame = hv.Overlay(layers)
        structure = tuple((type(e).__name__, e.group, e.label) for e in frame)
        self._near_title = overlay.opts.get().kwargs["title"]
        in_place = all(e.name == "near_tile" for e in events) and structure == self._near_structure
        if events and in_place and self._near_pipe is not None and self._near_pane is not None:
            self._near_pipe.send(frame)
            return self._near_pane
        self._near_pipe, self._near_structure = hv.streams.Pipe(data=frame), structure
        image = hv.DynamicMap(lambda data: data.get(0), streams=[self._near_pipe])
        over = hv.DynamicMap(lambda data: hv.Overlay(list(data)[1:]), streams=[self._near_pipe])
        tap = hv.streams.Tap(source=image, x=None, y=None)
        tap.add_subscriber(self._on_tap_near)
        dmap = (image * over).opts(
            hv.opts.Overlay(
                framewise=True,
                hooks=[self._near_title_hook],
                frame_width=FRAME_PX - 100,
                frame_height=FRAME_PX - 100,
                fontsize={"title": 10},
            )
        )
        self._near_pane = pn.pane.HoloViews(dmap, css_classes=["neighbourhood-image"], linked_axes=False)
        return self._near_pane

    def _near_title_hook(self, plot, _element) -> None:
        plot.state.title.text = self._near_title

    def _draw_near(self, *events) -> None:
        pane = self.neighbourhood_pane(*events)
        if len(self._near_holder.objects) != 1 or self._near_holder.objects[0] is not pane:
            self._near_holder.objects = [pane]

    def heading_text(self) -> str:
        """The line over the field naming the open tile (it follows the selection with the field)."""
        tile_id = self.state.selected_tile
        return "### " + ("No tile open: click a tile box" if tile_id is None else f"Tile {tile_id} open")

    def __panel__(self) -> pn.viewable.Viewable:
        legend = " · ".join(
            f'<span style="color:{c}">■</span> {name}'
            for name, c in zip(("tile", "labelled", "top-ranked", "open tile"), BOX_COLOURS.values(), strict=True)
        )
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.field, name="Field", width=220),
                pn.widgets.IntInput.from_param(self.param.top_n, name="mark top", width=90),
                self._heading,
            ),
            pn.pane.HTML(legend),
            overlay_controls(self.state, "field-diffuse"),
            # the 3x3 neighbourhood under the field, not beside it: side by side they run off a 1280 px page
            self._field_holder,
            self._near_holder,
            sizing_mode="stretch_width",
        )
