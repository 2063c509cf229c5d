"""Diffuse emission (issue 22, seed 004): the U-Net's probability maps and how good its R decision is.

The tile and field views overlay ``segments/<field>.fits`` (read here, on the field's pixel grid)
where the probability is at or above ``state.diffuse_threshold``; :func:`overlay_controls` is the
toggle and the slider they share. :class:`DiffuseView` is the R-threshold card: each cluster (or,
without a cluster table, each labelled tile) is detected when R >= the threshold, scored against a
truth by :func:`radioexplore.segmentation.detection_metrics.detection_metrics`. Without a segmentation the
controls say in one line which command writes one, and the rest of the app works as before.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.text import md_code, md_text
from app.views.shown import shown_only
from radioexplore.display.viewer import downsample_field
from radioexplore.io.fits import FitsImage, read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.segmentation.detection_metrics import detection_metrics, r_against_truth
from radioexplore.segmentation.read import (
    SegmentsError,
    area_above,
    probability_histogram,
    read_clusters,
    segment_command,
    segment_info,
    segment_map,
)

log = logging.getLogger(__name__)

#: Misjudged objects the R card names, per kind.
MOST_LISTED = 8
#: Cluster apertures on the field view: detected (R >= segment's threshold) green, the others white.
CLUSTER_COLOURS = {True: "#00e676", False: "#ffffff"}


@lru_cache(maxsize=16)
def _segment_image(path: str, mtime: float) -> FitsImage:
    return read_image(path)


@lru_cache(maxsize=8)
def _segment_overview(path: str, mtime: float, max_px: int) -> tuple[np.ndarray, int]:
    return downsample_field(_segment_image(path, mtime), max_px)


@lru_cache(maxsize=64)
def _histogram(path: str, mtime: float) -> np.ndarray:
    return probability_histogram(_segment_image(path, mtime))


def field_flagged(state: ExplorerState, field: str, threshold: float) -> float:
    """Fraction of the field's pixels (full resolution) at or above ``threshold``. Raises SegmentsError."""
    image = field_segment(state, field)
    return area_above(_histogram(str(image.path), image.path.stat().st_mtime), threshold)


def has_segments(state: ExplorerState) -> bool:
    """True when the run has a segmentation (``segments/segment.json``)."""
    return state.run.segment_meta.is_file()


def absent_text(state: ExplorerState) -> str:
    """The one line shown instead of the overlay controls when the run has no segmentation."""
    return f"no segmentation in this run: run {md_code(segment_command(state.run))}"


def field_segment(state: ExplorerState, field: str, shape: tuple[int, int] | None = None) -> FitsImage:
    """The probability map of ``field``; ``shape`` (ny, nx) is the field image's, which it must match.
    Raises SegmentsError saying what is wrong and what to run."""
    path = segment_map(state.run, field)
    if path is None:
        raise SegmentsError(f"no probability map of field {field}: run {segment_command(state.run)}")
    try:
        image = _segment_image(str(path), path.stat().st_mtime)
    except FitsReadError as exc:
        raise SegmentsError(f"{exc}; re-run {segment_command(state.run)}") from exc
    if shape is not None and tuple(image.shape) != tuple(shape):
        raise SegmentsError(
            f"{path.name} is {image.nx}x{image.ny} px but field {field} is {shape[1]}x{shape[0]}: "
            f"it is not on the field's grid; re-run {segment_command(state.run)}"
        )
    return image


def tile_probability(state: ExplorerState, tile_id: int) -> np.ndarray:
    """The probability over the tile's pixel box ``[S, S]``, row 0 at ``y0`` (as the tile). Raises SegmentsError."""
    row = state.tile_row(tile_id)
    sky = state.sky_pixels(tile_id)
    image = field_segment(state, str(row["field"]), sky[1].shape if sky is not None else None)
    return image.read_box(int(row["x0"]), int(row["y0"]), int(row["size"]))


def field_probability(state: ExplorerState, field: str, shape: tuple[int, int], max_px: int) -> tuple[np.ndarray, int]:
    """The field's probability block-averaged as the field view's image is (``(array, step)``). Raises SegmentsError."""
    image = field_segment(state, field, shape)
    return _segment_overview(str(image.path), image.path.stat().st_mtime, max_px)


def flagged_fraction(probability: np.ndarray, threshold: float) -> float:
    """Fraction of the finite pixels at or above ``threshold`` (the flagged area)."""
    finite = np.isfinite(probability)
    return float(np.mean(probability[finite] >= threshold)) if finite.any() else 0.0


def field_clusters(state: ExplorerState, field: str) -> pd.DataFrame:
    """The clusters ``segment`` scored on ``field`` (``clusters.parquet`` rows with its ``field``, ``x``,
    ``y``, ``r_pix``); empty when the run has none."""
    try:
        clusters = read_clusters(state.run)
    except (SegmentsError, OSError, ValueError) as exc:
        log.warning("%s", exc)
        clusters = None
    if clusters is None or not {"field", "x", "y", "r_pix", "detected"} <= set(clusters.columns):
        return pd.DataFrame({"name": [], "x": [], "y": [], "r_pix": [], "R": [], "detected": []})
    on = clusters[(clusters["field"].astype(str) == field) & np.isfinite(clusters["x"]) & np.isfinite(clusters["y"])]
    return on.reset_index(drop=True)


def cluster_layer(clusters: pd.DataFrame) -> hv.Overlay:
    """Each cluster's aperture (radius ``r_pix``, in the field's pixels) and its name with R."""
    t = np.linspace(0.0, 2 * np.pi, 64)
    layers = []
    for detected, colour in CLUSTER_COLOURS.items():
        rows = clusters[clusters["detected"].astype(bool) == detected]
        rings = [np.column_stack([c.x + c.r_pix * np.cos(t), c.y + c.r_pix * np.sin(t)]) for c in rows.itertuples()]
        layers.append(
            hv.Path(rings, kdims=["x", "y"]).opts(
                color=colour, line_width=2, line_dash="solid" if detected else "dashed", tools=[]
            )
        )
    text = [f"{n} R={r:.3g}" for n, r in zip(clusters["name"].astype(str), clusters["R"], strict=True)]
    labels = hv.Labels(
        {"x": clusters["x"].to_numpy(), "y": (clusters["y"] + clusters["r_pix"]).to_numpy(), "text": text},
        kdims=["x", "y"],
        vdims=["text"],
    ).opts(text_color="white", text_font_size="8pt", text_baseline="bottom", tools=[])
    return hv.Overlay([*layers, labels])


def overlay_controls(state: ExplorerState, css_class: str) -> pn.viewable.Viewable:
    """The overlay toggle and threshold slider, or the line saying how to make a segmentation."""
    if not has_segments(state):
        return pn.pane.Markdown(absent_text(state), css_classes=["diffuse-absent", css_class])
    return pn.Row(
        pn.widgets.Checkbox.from_param(
            state.param.diffuse_overlay, name="diffuse emission (U-Net)", css_classes=["diffuse-toggle", css_class]
        ),
        pn.widgets.FloatSlider.from_param(state.param.diffuse_threshold, name="probability ≥", width=180),
    )


def _pct(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.0f}%"


class DiffuseView(param.Parameterized):
    """The R-threshold card: accuracy, precision and false-negative rate of "R >= threshold"."""

    state = param.ClassSelector(class_=ExplorerState)
    r_threshold = param.Number(default=0.015, bounds=(0.0, 1.0), step=0.001, doc="detected when R >= this (seed 004)")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        try:
            info = segment_info(self.state.run)
        except SegmentsError as exc:
            log.warning("%s", exc)
            info = None
        if info is not None and 0.0 <= info.r_threshold <= 1.0:
            self.r_threshold = info.r_threshold

    def table(self) -> tuple[pd.DataFrame, str]:
        """R and truth per scored object, and where they come from."""
        return r_against_truth(self.state.run, self.state.current_labels())

    def misjudged(self, table: pd.DataFrame, most: int = MOST_LISTED) -> list[str]:
        """Markdown lines naming the false detections (highest R first) and the misses (lowest R first)."""
        known = table["truth"].map(lambda v: v is not None and not pd.isna(v)).astype(bool)
        actual = table["truth"].where(known, False).astype(bool)
        detected = table["R"].astype(float) >= self.r_threshold  # a NaN R is not a detection
        lines = []
        for what, rows, ascending in (
            ("False detections", table[known & ~actual & detected], False),
            ("Missed", table[known & actual & ~detected], True),
        ):
            if len(rows):
                shown = rows.sort_values("R", ascending=ascending, na_position="first").head(most)
                names = ", ".join(f"{md_text(n)} (R {r:.3g})" for n, r in zip(shown["name"], shown["R"], strict=True))
                more = f" and {len(rows) - most} more" if len(rows) > most else ""
                lines.append(f"{what}: {names}{more}")
        return lines

    @param.depends("state.diffuse_threshold")
    def flagged(self) -> pn.viewable.Viewable:
        """The fraction of each field's pixels at or above the overlay's threshold."""
        if not has_segments(self.state):
            return pn.Column()
        threshold = self.state.diffuse_threshold
        rows = []
        for field in sorted(self.state.tiles()["field"].astype(str).unique()):
            try:
                rows.append(f"| {md_text(field)} | {100 * field_flagged(self.state, field, threshold):.2f}% |")
            except SegmentsError:
                rows.append(f"| {md_text(field)} | no map |")
        head = [f"Flagged area (probability ≥ {threshold:g}):", "", "| field | flagged |", "|---|---|"]
        return pn.pane.Markdown("\n".join(head + rows), css_classes=["diffuse-flagged"])

    @param.depends("r_threshold", "state.label_version")
    def report(self) -> pn.viewable.Viewable:
        if not has_segments(self.state):
            return pn.pane.Markdown(absent_text(self.state), css_classes=["diffuse-absent"])
        try:
            table, source = self.table()
            m = detection_metrics(table["R"], table["truth"], self.r_threshold)
        except (SegmentsError, OSError, ValueError, KeyError) as exc:
            return pn.pane.Alert(f"Cannot score the segmentation: {md_text(exc)}", alert_type="warning")
        if not m["n"]:
            return pn.pane.Markdown(
                f"{md_text(source)}.  \nNothing to score yet: label tiles DIFFUSE or DIFFUSE-LARGE "
                "(and others without), or give clusters a truth column.",
                css_classes=["diffuse-metrics"],
            )
        lines = [
            f"{md_text(source)}; detected when R ≥ {self.r_threshold:g}.",
            "",
            "| accuracy | precision | false negatives | scored |",
            "|---|---|---|---|",
            f"| {_pct(m['accuracy'])} | {_pct(m['precision'])} | {_pct(m['false_negative_rate'])} | {m['n']} |",
            "",
            f"TP {m['tp']} · FP {m['fp']} · FN {m['fn']} · TN {m['tn']} "
            "(seed 004 on LoTSS PSZ2 clusters at R ≥ 0.015: 73% · 72% · 17%)",
        ]
        wrong = self.misjudged(table)
        if wrong:
            lines += ["", "  \n".join(wrong)]
        return pn.pane.Markdown("\n".join(lines), css_classes=["diffuse-metrics"])

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.widgets.FloatInput.from_param(
                self.param.r_threshold, name="R threshold", width=140, step=0.001, css_classes=["r-threshold"]
            ),
            # on the Explore tab: a label in the review queue rescored it behind the queue otherwise
            shown_only(self.report, self.state, "Explore", sizing_mode="stretch_width"),
            shown_only(self.flagged, self.state, "Explore", sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
