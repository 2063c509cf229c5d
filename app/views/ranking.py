"""The table of the most peculiar tiles, with why each is there; clicking a row opens that tile."""

from __future__ import annotations

import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from app.state import ExplorerState
from app.text import md_code, md_text
from app.views.shown import shown_only
from radioexplore.display.units import display_unit, is_jy_per_beam
from radioexplore.ranking.peculiar import METHODS

TABLE_COLUMNS = [
    "active_rank",
    "rank",
    "tile_id",
    "score",
    "why",
    "artefact_score",
    "predicted_interest",
    "field",
    "noise_rms",
    "dqf",
    "n_sources",
    "flag",
    "label",
    "truth_kinds",
]
#: The column that marks the tiles you labelled (label · interest), when marks are shown.
MARK_COLUMN = "your label"


class RankingView(param.Parameterized):
    """Top-N of the anomaly ranking as a Tabulator; a click on a row sets ``state.selected_tile``."""

    state = param.ClassSelector(class_=ExplorerState)
    top_n = param.Integer(default=50, bounds=(1, 1000))

    def table_frame(self):
        """The top tiles with the columns worth reading; noise in the display unit (radioexplore.display.units)
        when the images are in Jy/beam."""
        top = self.state.top_anomalies(self.top_n)
        frame = top[[c for c in TABLE_COLUMNS if c in top.columns]].reset_index(drop=True)
        if self.state.show_marks:
            marks = [self.state.label_text(t) for t in frame["tile_id"]] if len(frame) else []
            frame.insert(frame.columns.get_loc("tile_id") + 1, MARK_COLUMN, [f"✓ {m}" if m else "" for m in marks])
        if "bunit" in top.columns and top["bunit"].map(is_jy_per_beam).all():
            unit = display_unit("JY/BEAM")
            frame["noise_rms"] = unit.values(frame["noise_rms"].to_numpy()).round(4)
            frame = frame.rename(columns={"noise_rms": f"noise {unit.label}"})
        return frame

    def _on_click(self, event) -> None:
        frame = self.table_frame()
        if 0 <= event.row < len(frame):
            self.state.selected_tile = int(frame["tile_id"].iloc[event.row])

    @param.depends("state.embedding", "state.ranking_version", "state.label_version", "state.show_marks", "top_n")
    def view(self) -> pn.viewable.Viewable:
        frame = self.table_frame()
        _, column = self.state.ranking()
        if column == "active_rank":
            how = "re-ranked with your interest scores"
        else:
            method = self.state.run.stage_config("rank", self.state.embedding).get("method", "forest")
            how = METHODS[method].description if method in METHODS else method
        if frame.empty:
            return pn.pane.Alert(
                f"No anomaly scores yet: run {md_code(f'radioexplore rank --run {self.state.run.root}')}",
                alert_type="warning",
            )
        table = pn.widgets.Tabulator(
            frame,
            disabled=True,
            selectable=1,
            show_index=False,
            pagination="local",
            page_size=10,
            sizing_mode="stretch_width",
            # columns as wide as their contents (the table scrolls sideways if it must); "why" wraps
            layout="fit_data_fill",
            widths={"why": 260} if "why" in frame.columns else {},
            formatters={
                **{
                    c: NumberFormatter(format="0.000")
                    for c in ("score", "artefact_score", "predicted_interest")
                    if c in frame.columns
                },
                **({"why": {"type": "textarea"}} if "why" in frame.columns else {}),
            },
            css_classes=["anomaly-table"],
        )
        table.on_click(self._on_click)
        return pn.Column(
            pn.pane.Markdown(f"### {self.top_n} most peculiar tiles ({md_text(how)})"),
            table,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return shown_only(self.view, self.state, "Explore", sizing_mode="stretch_width")
