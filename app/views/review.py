"""The Review queue tab: the queue of tiles or, when the run has ``objects.parquet``, of objects.

One of the two queues shows at a time; only that one takes the keys. Both follow the same review
mode (peculiar, or artefacts for a data-quality review), chosen on the queue itself.
"""

from __future__ import annotations

import panel as pn
import param

from app.objects import read_objects
from app.state import ExplorerState
from app.views.objects_queue import ObjectQueueView
from app.views.queue import QueueView

UNITS = ("tiles", "objects")


class ReviewQueues(param.Parameterized):
    """The tile queue and the object queue behind one "tiles / objects" toggle."""

    state = param.ClassSelector(class_=ExplorerState)
    active = param.Boolean(default=True, doc="whether the review tab is showing (keys act only then)")
    unit = param.Selector(default=UNITS[0], objects=list(UNITS), doc="queue the tiles or the objects")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.tiles = QueueView(state=self.state, active=self.active)
        self._objects: ObjectQueueView | None = None  # made when first shown
        self._body = pn.Column(self.tiles, sizing_mode="stretch_width")
        self.param.watch(self._switch, ["unit", "active"])

    def has_objects(self) -> bool:
        return read_objects(self.state.run, len(self.state.tiles())) is not None

    @property
    def objects(self) -> ObjectQueueView:
        """The object queue (made on first use)."""
        if self._objects is None:
            self._objects = ObjectQueueView(state=self.state, active=False, review=self.tiles.review)
            self._objects.param.watch(lambda e: setattr(self.tiles, "review", e.new), "review")
            self.tiles.param.watch(lambda e: setattr(self._objects, "review", e.new), "review")
        return self._objects

    @property
    def current(self) -> QueueView:
        """The queue showing now."""
        return self.objects if self.unit == "objects" else self.tiles

    def _switch(self, *events) -> None:
        shown = self.current
        for queue in (self.tiles, self._objects):
            if queue is not None:
                queue.active = self.active and queue is shown
        if any(e.name == "unit" for e in events):
            self._body.objects = [shown]
            if self.active:
                self.resume()

    def resume(self) -> None:
        """Show the current queue's item again (when the tab is opened)."""
        self.current.resume()

    def __panel__(self) -> pn.viewable.Viewable:
        if not self.has_objects():
            note = "Objects: none yet (`radioexplore objects --run RUN` makes the object table)."
            return pn.Column(
                pn.pane.Markdown(note, css_classes=["queue-unit-note"]), self._body, sizing_mode="stretch_width"
            )
        toggle = pn.widgets.RadioButtonGroup.from_param(
            self.param.unit,
            options={"Queue: tiles": "tiles", "Queue: objects": "objects"},
            name="",
            css_classes=["queue-unit"],
        )
        return pn.Column(toggle, self._body, sizing_mode="stretch_width")
