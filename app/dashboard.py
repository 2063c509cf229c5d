"""The dashboard page: sidebar controls over one shared state, and the map, tile and ranking views."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import holoviews as hv
import panel as pn

from app.state import ExplorerState
from app.views.map import MapView
from app.views.missing import missing_page
from app.views.ranking import RankingView
from app.views.tile import TileView
from radioexplore.rundir import RunDir

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
    n = ingest.get("n_tiles", "?")
    files = len(ingest.get("files", []))
    return f"**Run** `{run.root.name}`  \n{n} tiles from {files} image(s)  \ntile {ingest.get('tile_px', '?')} px, scaling {ingest.get('scaling', '?')}"


def build_dashboard(run: RunDir) -> pn.template.BaseTemplate | pn.viewable.Viewable:
    """The whole page for ``run``; a page of instructions when the run is not ready."""
    hv.extension("bokeh")
    pn.extension("tabulator", loading_indicator=True, notifications=True)
    title = f"radioexplore · {run.root.name}"
    problems = run.missing()
    if problems:
        return pn.template.FastListTemplate(title=title, main=[missing_page(run, problems)])
    state = ExplorerState(run)
    controls = pn.Param(
        state,
        parameters=["embedding", "map_method", "colour_by", "n_neighbours"],
        widgets={"colour_by": {"type": pn.widgets.Select, "name": "Colour by"}},
        show_name=False,
    )
    return pn.template.FastListTemplate(
        title=title,
        sidebar=[pn.pane.Markdown(run_summary(run)), controls],
        main=[
            pn.Row(
                pn.Column(
                    pn.Column(MapView(state=state), height=560, sizing_mode="stretch_width"),
                    RankingView(state=state),
                    sizing_mode="stretch_width",
                ),
                pn.Column(TileView(state=state), width=760),
                sizing_mode="stretch_width",
            ),
        ],
        main_layout=None,
    )
