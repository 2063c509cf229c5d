"""The map of all tiles: a 2-D embedding coloured by a column, click a point to open its tile.

Small runs are drawn point by point (hover shows the tile); above :data:`RASTERIZE_ABOVE` tiles
the points are rasterised by Datashader so a million of them pan and zoom smoothly: the server
sends one value per pixel, the mean of a numeric column or the largest category code of a
categorical one, which the browser colours (a count per category, Datashader's usual categorical
aggregate, would send a layer per category: 100 fields x the plot's pixels, 185 MiB per pan). The
points' table is made once per colouring and kept by the operation (``precompute``), so a pan
costs one aggregation and no copy of the table. In both cases a click is resolved to the
nearest tile on the map, and the box (or, for point-by-point maps, lasso) tool selects tiles for
similarity search and export. Tiles you labelled are drawn over the others as white squares
(hidden with ``state.show_marks``), and the open tile is ringed; both layers redraw only while the
Explore tab shows.
"""

from __future__ import annotations

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from holoviews.operation.datashader import dynspread, rasterize

from app.state import ExplorerState, is_categorical
from app.text import md_code, md_text
from app.views.hover import no_tooltip, one_tooltip
from app.views.legend import MISSING, colour_frame
from app.views.shown import WhenShown
from radioexplore.run.tiletable.join import UNLABELLED

RASTERIZE_ABOVE = 20_000
CONTINUOUS_CMAP = "viridis"
#: Column of the rasterised map's points holding the colour column's category codes.
CODE = "colour_code"
#: Categories that mean "no value": drawn under any real value where points share a pixel.
PLACEHOLDERS = (MISSING, UNLABELLED)


def category_palette(n: int) -> list[str]:
    """The colour of each of ``n`` category codes: Category20's colours in turn (as the point-by-point map)."""
    from bokeh.palettes import Category20

    return [Category20[20][i % 20] for i in range(max(n, 1))]


class MapView(param.Parameterized):
    """Scatter of the embedding map; clicking sets ``state.selected_tile``."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._tap: hv.streams.Tap | None = None
        self._frame_ids = None  # tile ids in the order of the drawn points
        self._cmap: dict[str, str] | None = None  # colours of the categories drawn (app.views.legend)
        #: the box/lasso stream of the map drawn last (Selection1D on points, BoundsXY when rasterised);
        #: it sets ``state.selection``, which app.views.selection shows as a grid
        self.selection_stream: hv.streams.Selection1D | hv.streams.BoundsXY | None = None
        deps = [self.state.param.selected_tile, self.state.param.label_version, self.state.param.show_marks]
        # after the click's tile is shown (issue 23: map click to tile < 1 s)
        self._layers = WhenShown(self.state, "Explore", deps, defer=True)

    def _on_select(self, index: list[int] | None = None) -> None:
        if self._frame_ids is not None and index is not None:
            self.state.selection = [int(self._frame_ids[i]) for i in index]

    def _on_bounds(self, bounds: tuple | None = None) -> None:
        if bounds is not None:
            self.state.selection = self.state.tiles_in_box(*bounds)

    def _on_tap(self, x: float | None = None, y: float | None = None) -> None:
        tile = self.state.nearest_on_map(x, y)
        if tile is not None:
            self.state.selected_tile = tile

    def points(self) -> hv.Points:
        tiles = self.state.tiles()
        colour = self.state.colour_by
        cols = ["x", "y", colour, "tile_id", "field"]
        if "score" in tiles.columns and colour != "score":
            cols.append("score")
        frame = tiles[list(dict.fromkeys(cols))].copy()
        if len(frame) > RASTERIZE_ABOVE:
            # map positions in float64, as the browser sends a pan's ranges: Datashader's kernels are
            # compiled for the first paint's range types, and float32 ones (from float32 positions)
            # meant a second compile, 0.7 s, on the first pan of a 10^6-point map (issue 23)
            frame[["x", "y"]] = frame[["x", "y"]].astype(np.float64)
        # ordered categories (DQF 0, 1, 2, 3) in distinct colours; noise in the table's unit
        # (a rasterised map has no legend to order: its rows are not sorted by category)
        frame, dim, self._cmap = colour_frame(
            frame, colour, is_categorical(tiles[colour]), tiles.get("bunit"), sort=len(frame) <= RASTERIZE_ABOVE
        )
        self._frame_ids = frame["tile_id"].to_numpy()
        vdims = [dim if c == colour else c for c in frame.columns if c not in ("x", "y")]
        self._raster_names = []
        if self._cmap is not None and len(frame) > RASTERIZE_ABOVE:
            # Datashader draws a code per pixel (the largest wins), the browser colours it: the
            # placeholders (n/a, unlabelled) take the lowest codes, so a real value wins a shared pixel
            names = [str(c) for c in frame[colour].cat.categories]
            order = [n for n in names if n in PLACEHOLDERS] + [n for n in names if n not in PLACEHOLDERS]
            recode = np.array([order.index(n) for n in names], dtype=np.int32)
            frame[CODE] = recode[frame[colour].cat.codes.to_numpy()]
            vdims.append(CODE)
            self._raster_names = order
        return hv.Points(frame, kdims=["x", "y"], vdims=vdims)

    @param.depends("state.colour_by", "state.embedding", "state.map_method")
    def plot(self) -> pn.viewable.Viewable:
        tiles = self.state.tiles()
        if "x" not in tiles.columns:
            return pn.pane.Alert(
                f"No map for embedding {md_text(self.state.embedding)}: "
                f"run {md_code(f'radioexplore map --run {self.state.run.root}')}",
                alert_type="warning",
            )
        points = self.points()
        colour = self.state.colour_by
        categorical = is_categorical(tiles[colour])
        common = dict(
            responsive=True,
            height=540,
            xaxis=None,
            yaxis=None,
            title=f"{self.state.embedding} · {self.state.map_method} · coloured by {colour}",
        )
        if len(tiles) > RASTERIZE_ABOVE:
            # one value per pixel (a category's code or the mean), coloured by the browser; spread
            # by "max": the default ("add") would sum the codes or means of neighbouring pixels
            agg = ds.max(CODE) if categorical else ds.mean(colour)
            element = dynspread(rasterize(points, aggregator=agg, precompute=True), threshold=0.6, how="max")
            if categorical:  # (no hover: it would show a code; a click opens the tile)
                names = self._raster_names
                palette = [self._cmap[n] for n in names] if self._cmap else category_palette(len(names))
                element = element.opts(cmap=palette, clim=(-0.5, len(names) - 0.5), tools=["box_select"], **common)
            else:
                element = element.opts(cmap=CONTINUOUS_CMAP, colorbar=True, tools=["hover", "box_select"], **common)
            bounds = hv.streams.BoundsXY(source=element)
            bounds.add_subscriber(self._on_bounds)
            self.selection_stream = bounds
        else:
            element = points.opts(
                color=colour,
                cmap=self._cmap or CONTINUOUS_CMAP,
                colorbar=not categorical,
                show_legend=categorical and tiles[colour].nunique() <= 20,
                legend_position="right",
                size=5,
                line_color=None,
                tools=["hover", "box_select", "lasso_select"],
                hooks=[one_tooltip],  # one tooltip where points overlap, not a stack of them
                **common,
            )
            select = hv.streams.Selection1D(source=element)
            select.add_subscriber(self._on_select)
            self.selection_stream = select
        marks = hv.DynamicMap(pn.bind(self._marks, self._layers.param.version))
        selected = hv.DynamicMap(
            pn.bind(lambda _v: self._highlight(self.state.selected_tile), self._layers.param.version)
        )
        overlay = element * marks * selected
        self._tap = hv.streams.Tap(source=element, x=None, y=None)
        self._tap.add_subscriber(self._on_tap)
        return pn.pane.HoloViews(overlay, sizing_mode="stretch_width", height=550, linked_axes=False)

    def labelled_points(self) -> hv.Points:
        """Map positions of the tiles with a current label (none when marks are hidden), with their label."""
        tiles = self.state.tiles()
        current = self.state.current_labels() if self.state.show_marks else None
        if current is None or current.empty or "x" not in tiles.columns:
            frame = pd.DataFrame({"x": [], "y": [], "tile_id": [], "your_label": []})
        else:
            ids = current["tile_id"].to_numpy()
            frame = tiles.loc[tiles["tile_id"].isin(ids), ["x", "y", "tile_id"]].copy()
            frame["your_label"] = [self.state.label_text(t) for t in frame["tile_id"]]
        return hv.Points(frame, kdims=["x", "y"], vdims=["tile_id", "your_label"], label="labelled")

    def _marks(self, _version: int = 0) -> hv.Points:
        return self.labelled_points().opts(
            marker="square",
            size=9,
            fill_color="white",
            line_color="black",
            line_width=1.5,
            tools=["hover"],  # keeps the label in the page's data; the tooltip is the points' alone
            hooks=[no_tooltip],
            show_legend=False,
        )

    def _highlight(self, tile_id: int | None) -> hv.Points:
        tiles = self.state.tiles()
        if tile_id is None or "x" not in tiles.columns:
            xy = np.empty((0, 2))
        else:
            xy = tiles.loc[tiles["tile_id"] == tile_id, ["x", "y"]].to_numpy()
        return hv.Points(xy, kdims=["x", "y"]).opts(
            marker="circle", size=18, fill_alpha=0.0, line_color="red", line_width=3, tools=[]
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self.plot, sizing_mode="stretch_width")
