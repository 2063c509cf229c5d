"""The labelling panel: seed-002 labels (several per tile), a 1-5 interest score, free tags, undo.

Every save appends one event to the run's ``labels.sqlite`` (radioexplore.run.labels); nothing is
ever overwritten, so two people labelling the same run at once lose nothing.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn
import param

from app.state import ExplorerState
from app.text import md_lines
from app.views.keys import KeyboardShortcuts
from radioexplore.run.labels.values import VOCABULARY, LabelError

#: Keyboard shortcut of each label (shown on the buttons; the review queue and the Explore tab's label card bind them).
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


#: Label and interest buttons: outlined, filled blue when toggled on (the default grey on grey was unreadable).
TOGGLE_STYLE = (
    ":host .bk-btn.bk-active { background-color: #0d47a1; border-color: #0d47a1; color: #fff; font-weight: 600; }"
)


def toggles() -> dict:
    """Options of a button group whose chosen button must stand out (export format, search mode...)."""
    return {"color": "primary", "variant": "outline", "stylesheets": [TOGGLE_STYLE]}


class LabelPanel(param.Parameterized):
    """Edits the judgement of ``tile`` (by default following ``state.selected_tile``) and saves it as one label event."""

    state = param.ClassSelector(class_=ExplorerState)
    tile = param.Integer(default=None, allow_None=True, doc="the tile labelled")
    follow = param.Boolean(
        default=True, doc="label the tile selected in the shared state (the review queue sets its own)"
    )
    saved = param.String(default="", doc="the tile's stored judgement, shown so a labelled tile looks labelled")
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
            color="primary",
            variant="outline",
            stylesheets=[
                ":host .bk-btn-group { flex-wrap: wrap; } :host .bk-btn { flex: 0 0 48%; margin: 1px; }",
                TOGGLE_STYLE,
            ],
            width=300,
        )
        self._interest = pn.widgets.RadioButtonGroup.from_param(
            self.param.interest,
            name="",
            css_classes=["interest"],
            color="primary",
            variant="outline",
            stylesheets=[TOGGLE_STYLE],
        )
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
        if self.follow:
            self.tile = self.state.selected_tile
            self.state.param.watch(self._follow, "selected_tile")
        self.state.param.watch(self._load_current, "label_version")
        self.param.watch(self._load_current, "tile")
        self._load_current()

    def _follow(self, event) -> None:
        self.tile = event.new

    def _load_current(self, *_events) -> None:
        """Pre-fill the panel with the tile's current judgement (a save replaces it whole)."""
        tile = self.tile
        cur = self.state.current_labels()
        row = cur[cur["tile_id"] == int(tile)] if tile is not None else cur.head(0)
        current = None if row.empty else row.iloc[0].to_dict()
        text = self.state.label_text(tile) if current else ""
        self.saved = f"Labelled: {text}" if text else ("Not labelled yet" if tile is not None else "")
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
        tile = self.tile
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

    def bind_keys(self, keys: KeyboardShortcuts, when: Callable[[], bool] = lambda: True) -> None:
        """Bind the keys the buttons show to this panel while ``when()`` holds: a label letter toggles
        the label, 1-5 set the interest and save, Enter saves, u undoes (the Explore tab's label card)."""

        def guard(fn: Callable[[], object]) -> Callable[[], None]:
            return lambda: None if not when() else fn()

        for label, key in LABEL_KEYS.items():
            keys.bind(key, guard(lambda label=label: self.toggle(label)))
        for value in range(1, 6):
            keys.bind(str(value), guard(lambda value=value: self.score_and_save(value)))
        keys.bind("Enter", guard(self.save))
        keys.bind("u", guard(self.undo))

    def score_and_save(self, value: int) -> bool:
        """Set the interest score ``value`` and save (key 1-5)."""
        self.interest = str(value)
        return self.save()

    def _saved_html(self, saved: str) -> str:
        css = "labelled" if saved.startswith("Labelled") else "unlabelled"
        return f'<span class="label-saved-{css}">{html.escape(saved)}</span>' if saved else ""

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("#### Labels (seed 002) and interest 1-5"),
            pn.pane.HTML(
                pn.bind(self._saved_html, self.param.saved),
                css_classes=["label-saved"],
                stylesheets=[
                    ":host .label-saved-labelled { background: #2e7d32; color: #fff; padding: 2px 8px;"
                    " border-radius: 4px; font-weight: 600; }"
                    " :host .label-saved-unlabelled { color: #666; }"
                ],
            ),
            self._label_buttons,
            self._interest,
            self._tags,
            pn.Row(self._save, self._undo),
            # bound, not re-created: a new message updates the text in place
            pn.pane.Markdown(pn.bind(md_lines, self.param.message), css_classes=["label-status"]),
            width=300,
        )
