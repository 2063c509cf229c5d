"""The page shown when the run directory is missing or incomplete: what is missing and how to make it."""

from __future__ import annotations

import panel as pn

from app.text import md_code, md_text
from radioexplore.run.rundir import RunDir


def missing_page(run: RunDir, problems: list[tuple[str, str]]) -> pn.viewable.Viewable:
    """A page naming each missing artefact with the command that makes it."""
    rows = "\n".join(f"| {md_text(stage)} | {md_code(command, table=True)} |" for stage, command in problems)
    text = (
        f"## This run directory is not ready\n\n{md_code(run.root)}\n\n"
        "| missing | make it with |\n|---|---|\n"
        f"{rows}\n\n"
        "Or build a complete demo run in a few minutes with\n\n"
        f"{md_code(f'radioexplore demo --run {run.root}')}\n\n"
        "then reload this page. Open another run with `panel serve app/ --args --run DIR` "
        "or the environment variable `RADIOEXPLORE_RUN`."
    )
    return pn.Column(
        pn.pane.Alert(text, alert_type="warning", css_classes=["missing-run"]), sizing_mode="stretch_width"
    )
