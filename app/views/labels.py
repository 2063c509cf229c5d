"""The labelling panel: seed-002 labels (several per tile), a 1-5 interest score, free tags, undo.

Every save appends one event to the run's ``labels.sqlite`` (radioexplore.labels); nothing is
ever overwritten, so two people labelling the same run at once lose nothing.
"""

from __future__ import annotations

import panel as pn
import param

from app.state import ExplorerState
from app.text import md_lines
from radioexplore.labels import VOCABULARY, LabelError

#: Keyboard shortcut of each label (the review queue binds them; shown on the buttons).
LABEL_KEYS = {
    "BACKGROUND": "b",
    "COMPACT": "c",
    "EXTENDED": "e",
    "RADIO-GALAXY": "r",
    "DIFFUSE": "d",
    "DIFFUSE-LARGE": "l",
    "FILAMENT": "f",
    "ARTEFACT": "a",
    "PECULIAR": "p",
    "MOSAICKING": "m",
}
NO_SCORE = "–"


class LabelPanel(param.Parameterized):
    """Edits the judgement of ``state.selected_tile`` and saves it as one label event."""

    state = param.ClassSelector(class_=ExplorerState)
    labels = param.ListSelector(default=[], objects=list(VOCABULARY))
    interest = param.Selector(default=NO_SCORE, objects=[NO_SCORE, "1", "2", "3", "4", "5"])
    tags = param.String(default="", doc="free tags, comma separated")
    message = param.String(default="")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._label_buttons = pn.widgets.CheckButtonGroup.from_param(
            self.param.labels,
            options={f"{name} ({LABEL_KEYS[name]})": name for name in VOCABULARY},
            name="",
            css_classes=["label-buttons"],
            stylesheets=[":host .bk-btn-group { flex-wrap: wrap; } :host .bk-btn { flex: 0 0 48%; margin: 1px; }"],
            width=300,
        )
        self._interest = pn.widgets.RadioButtonGroup.from_param(self.param.interest, name="", css_classes=["interest"])
        self._tags = pn.widgets.TextInput.from_param(
            self.param.tags, name="Tags", placeholder="e.g. ring, candidate ORC"
        )
        self._save = pn.widgets.Button(label="Save label (Enter)", css_classes=["save-label"])
        self._save.on_click(lambda _e: self.save())
        self._undo = pn.widgets.Button(label="Undo last (u)", css_classes=["undo-label"])
        self._undo.on_click(lambda _e: self.undo())
        if not self.state.annotator.can_label:  # the store refuses the writes; this only says so at once
            for widget in (self._label_buttons, self._interest, self._tags, self._save, self._undo):
                widget.disabled = True
            self.message = f"Read-only: {self.state.annotator.why_not}."
        self.state.param.watch(self._load_current, ["selected_tile", "label_version"])
        self._load_current()

    def _load_current(self, *_events) -> None:
        """Pre-fill the panel with the tile's current judgement (a save replaces it whole)."""
        tile = self.state.selected_tile
        current = self.state.labels.labels_of(tile) if tile is not None else None
        with param.parameterized.discard_events(self):
            self.labels = list(current["labels"]) if current else []
            interest = current.get("interest") if current else None
            self.interest = str(int(interest)) if interest is not None and interest == interest else NO_SCORE
            self.tags = ", ".join(current["tags"]) if current else ""
        self.param.trigger("labels", "interest", "tags")

    def toggle(self, label: str) -> None:
        self.labels = [x for x in self.labels if x != label] if label in self.labels else [*self.labels, label]

    def save(self) -> bool:
        """Append the panel's judgement of the selected tile; returns whether an event was written."""
        tile = self.state.selected_tile
        if tile is None:
            self.message = "Select a tile first."
            return False
        interest = None if self.interest == NO_SCORE else int(self.interest)
        try:
            tags = [t.strip() for t in self.tags.split(",") if t.strip()]
            event = self.state.labels.add(tile, labels=self.labels, interest=interest, tags=tags)
        except LabelError as exc:
            self.message = f"Not saved (tile {tile}): {exc}"
            return False
        self.message = f"Saved tile {tile}: {', '.join(event.labels) or 'no label'}" + (
            f", interest {interest}" if interest else ""
        )
        self.state.label_version += 1
        return True

    def undo(self) -> bool:
        try:
            event = self.state.labels.undo()
        except LabelError as exc:
            self.message = str(exc)
            return False
        self.message = f"Undid the last label of tile {event.tile_id}"
        self.state.label_version += 1
        return True

    @param.depends("message")
    def _status(self) -> pn.viewable.Viewable:
        return pn.pane.Markdown(md_lines(self.message), css_classes=["label-status"])

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("#### Labels (seed 002) and interest 1-5"),
            self._label_buttons,
            self._interest,
            self._tags,
            pn.Row(self._save, self._undo),
            self._status,
            width=300,
        )
