"""The dashboard page: sidebar controls over one shared state, and the map, tile and ranking views."""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

import holoviews as hv
import panel as pn

from app.access import Annotator, session_annotator
from app.state import ExplorerState
from app.text import md_text, plain_title
from app.views.context import ContextView
from app.views.coverage import CoverageView
from app.views.diffuse import DiffuseView
from app.views.export import ExportView
from app.views.field import FieldView
from app.views.keys import KeyboardShortcuts
from app.views.labels import LabelPanel
from app.views.map import MapView
from app.views.missing import missing_page
from app.views.probe import ProbeView
from app.views.ranking import RankingView
from app.views.review import ReviewQueues
from app.views.samp import SampView
from app.views.search import SearchView
from app.views.selection import SelectionView
from app.views.tile import TileView
from radioexplore.run.labels.integrity import store_problem
from radioexplore.run.rundir import RunDir

DEFAULT_RUN = Path(__file__).resolve().parents[1] / "runs" / "demo"


def resolve_run(argv: list[str], environ: dict[str, str] | None = None) -> RunDir:
    """The run named by ``--run DIR`` in ``argv``, else ``$RADIOEXPLORE_RUN``, else the demo run."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="panel serve app/ --args", add_help=False)
    parser.add_argument("--run", type=Path)
    args, _ = parser.parse_known_args(argv)
    if args.run:
        return RunDir(args.run)
    if environ.get("RADIOEXPLORE_RUN"):
        return RunDir(environ["RADIOEXPLORE_RUN"])
    return RunDir(DEFAULT_RUN)


def run_summary(run: RunDir) -> str:
    meta = run.read_meta()
    ingest = meta.get("stages", {}).get("ingest", {})
    n = md_text(ingest.get("n_tiles", "?"))
    files = len(ingest.get("files", []))
    return (
        f"**Run** {md_text(run.root.name)}  \n{n} tiles from {files} image(s)  \n"
        f"tile {md_text(ingest.get('tile_px', '?'))} px, scaling {md_text(ingest.get('scaling', '?'))}"
    )


def annotator_text(annotator: Annotator) -> str:
    """The sidebar's line on who labels (or that this session may only look), as Markdown."""
    if not annotator.can_label:
        return f"viewing as **{md_text(annotator.name)}**, read-only: {md_text(annotator.why_not)}"
    how = "logged in" if annotator.logged_in else "not logged in"
    return f"labelling as **{md_text(annotator.name)}** ({how})"


def build_dashboard(
    run: RunDir, who: str | None = None, annotator: Annotator | None = None
) -> pn.template.BaseTemplate | pn.viewable.Viewable:
    """The whole page for ``run``; a page of instructions when the run is not ready. The annotator
    is ``annotator``, else ``who``, else the session's (:func:`app.access.session_annotator`)."""
    hv.extension("bokeh")
    pn.extension("tabulator", loading_indicator=True, notifications=True)
    title = plain_title(f"radioexplore · {run.root.name}")
    damaged = store_problem(run)
    if damaged:  # a damaged labels.sqlite: say how to restore it rather than fail to build
        return pn.template.FastListTemplate(
            title=title, main=[pn.pane.Alert(html.escape(damaged), alert_type="danger")]
        )
    problems = run.missing() or [(f"{p.stage}: {p.artefact} {p.reason}", p.command) for p in run.consistency_problems()]
    if problems:
        return pn.template.FastListTemplate(title=title, main=[missing_page(run, problems)])
    if annotator is None:
        annotator = Annotator(who) if who else session_annotator(sys.argv[1:])
    state = ExplorerState(run, annotator=annotator)
    fit = {"sizing_mode": "stretch_width", "width": None}  # sidebar inputs as wide as the sidebar, no wider
    controls = pn.Param(
        state,
        parameters=["embedding", "map_method", "colour_by", "n_neighbours", "show_marks"],
        widgets={
            "embedding": {"type": pn.widgets.Select, **fit},
            "map_method": {"type": pn.widgets.Select, **fit},
            "colour_by": {"type": pn.widgets.Select, "name": "Colour by", **fit},
            "n_neighbours": {"type": pn.widgets.IntSlider, **fit},
            "show_marks": {"type": pn.widgets.Checkbox, "name": "Mark labelled tiles", **fit},
        },
        show_name=False,
        sizing_mode="stretch_width",
        css_classes=["sidebar-controls"],
    )
    tile_view = TileView(state=state)
    label_panel = LabelPanel(state=state)
    explore_keys = KeyboardShortcuts()  # the label card's keys, while the Explore tab shows
    label_panel.bind_keys(explore_keys, when=lambda: state.tab == "Explore")
    queue = ReviewQueues(state=state, active=False)  # the tile queue, or the object queue
    explore = pn.Row(
        pn.Column(
            pn.Column(MapView(state=state), height=560, sizing_mode="stretch_width"),
            pn.Card(
                SelectionView(state=state),
                title="Selection: box or lasso on the map",
                css_classes=["selection-card"],
                sizing_mode="stretch_width",
            ),
            RankingView(state=state),
            pn.Card(FieldView(state=state), title="Field: the tiles in the sky", css_classes=["field-card"]),
            sizing_mode="stretch_width",
            min_width=400,
            styles={"flex": "1 1 400px"},  # the two columns share what is left beyond 400 px and 540 px
        ),
        pn.Column(
            explore_keys,
            # the tile view redraws only while Explore shows (not behind the review queue)
            tile_view.live("Explore"),
            pn.Card(label_panel, title="Label this tile (keys work on this tab too)", collapsed=False),
            pn.Card(DiffuseView(state=state), title="Diffuse emission: R threshold", collapsed=True),
            pn.Card(SampView(state=state), title="Send to DS9 / Aladin / TOPCAT (SAMP)", collapsed=True),
            pn.Card(ContextView(state=state), title="Other surveys: links, cutouts, SIMBAD", collapsed=True),
            # a share of the row, not a fixed 760 px: the metadata table fits at 1280 px and 1920 px
            sizing_mode="stretch_width",
            min_width=540,  # the tile image with its axes and colour bar
            styles={"flex": "1 0 540px"},
        ),
        sizing_mode="stretch_width",
        name="Explore",
    )
    tabs = pn.Tabs(
        explore,
        pn.Column(queue, pn.Card(CoverageView(state=state), title="Coverage and what is left"), name="Review queue"),
        pn.Column(SearchView(state=state), name="Find similar"),
        pn.Column(ExportView(state=state), name="Export"),
        pn.Column(ProbeView(state=state), name="Probe"),
        dynamic=True,  # a tab is drawn when first opened; hidden ones cost nothing per label
        sizing_mode="stretch_width",
    )

    def _keys_follow_tab(event) -> None:
        state.tab = tabs[event.new].name
        queue.active = state.tab == "Review queue"
        if queue.active:
            queue.resume()

    tabs.param.watch(_keys_follow_tab, "active")
    return pn.template.FastListTemplate(
        title=title,
        sidebar=[
            pn.pane.Markdown(run_summary(run)),
            pn.pane.Markdown(annotator_text(annotator), css_classes=["annotator"]),
            controls,
        ],
        main=[tabs],
        main_layout=None,
        sidebar_width=250,
    )
