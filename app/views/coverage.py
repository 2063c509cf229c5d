"""Review coverage and the stopping signal (``radioexplore labels summary``), on demand."""

from __future__ import annotations

import html

import panel as pn
import param

from app.state import ExplorerState
from radioexplore.review.coverage import review_coverage


class CoverageView(param.Parameterized):
    """A button that computes the coverage of the run's labels and shows it as the CLI prints it."""

    state = param.ClassSelector(class_=ExplorerState)
    text = param.String(default="Press the button to see how much of the survey has been reviewed.")

    def refresh(self, *_events) -> None:
        try:
            lines = review_coverage(self.state.run, self.state.embedding).lines()
        except (ValueError, FileNotFoundError) as exc:
            self.text = f"<p>Coverage unavailable: {html.escape(str(exc))}</p>"
            return
        # field names and paths come from the run's files: escaped
        self.text = "<pre>" + html.escape("\n".join(lines)) + "</pre>"

    def __panel__(self) -> pn.viewable.Viewable:
        button = pn.widgets.Button(name="Review coverage", css_classes=["coverage-refresh"])
        button.on_click(self.refresh)
        return pn.Column(button, pn.pane.HTML(self.param.text, css_classes=["coverage-text"]))
