"""Views on a hidden tab do not redraw: a change while the tab is hidden redraws them once it shows.

Every view reads the one shared state, so a label in the review queue (a new ``label_version``)
or a map click would otherwise redraw the Explore tab's map, table and tile view behind the
queue, seconds per label. :class:`WhenShown` passes a view's parameter changes on only while
its tab (``state.tab``) shows, and :func:`shown_only` wraps a view method with it. A view that
need not draw with the event that changed it (the field view, the map's marks, behind a click's
tile) passes it on a moment later, :func:`after_this_event`, so the browser gets the tile first.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import panel as pn
import param
from panel.io.state import set_curdoc
from param.parameterized import resolve_ref

from app.state import ExplorerState

#: Milliseconds between looks at whether the page's messages have gone out (:func:`after_this_event`).
FLUSH_POLL_MS = 10
#: Looks before a put-off action runs anyway (a page whose socket is stuck still gets it).
FLUSH_POLLS = 100


def after_this_event(action: Callable[[], Any], key: Any = None) -> None:
    """Run ``action`` once the event being handled has sent its changes to the browser (issue 23: a
    map click shows its tile, then the field view and the map's marks follow); at once where there
    is no served page (tests, a notebook). Its changes go to the browser as one message. With
    ``key``, an action not yet run under the same key is dropped for the new one (five quick
    clicks draw the field once, for the last)."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        action()
        return
    pending = _PENDING.setdefault(doc, {})
    if key is not None and key in pending:
        pending[key] = action  # the scheduled run takes this one
        return
    if key is not None:
        pending[key] = action
    polls = [0]

    def run() -> None:
        # Panel writes an event's messages on a later turn of the loop when another write was under
        # way: wait for them, or this action's work would go first and hold the tile back
        if _writing(doc) and polls[0] < FLUSH_POLLS:
            polls[0] += 1
            doc.add_timeout_callback(scheduled, FLUSH_POLL_MS)
            return
        todo = pending.pop(key, action) if key is not None else action
        with pn.io.hold(doc, freeze=True):
            todo()

    def scheduled() -> None:
        with set_curdoc(doc):
            run()

    doc.add_timeout_callback(scheduled, FLUSH_POLL_MS)


def _writing(doc) -> bool:
    """Whether Panel still holds messages of ``doc`` not yet written to the browser (Panel's own
    bookkeeping, read defensively: False if a Panel version keeps it elsewhere)."""
    from panel.io import document as pdoc

    if doc in getattr(pdoc, "_WRITE_BLOCK", {}) or doc in getattr(pdoc, "_WRITE_MSGS", {}):
        return True
    return any(not task.done() for task in getattr(pdoc, "_write_tasks", {}).get(doc, []))


#: Actions put off with a key, per document: the latest under each key, until it runs.
_PENDING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class WhenShown(param.Parameterized):
    """``version`` counts the changes of ``deps`` made while ``tab`` shows, and one for all those made
    while it was hidden, when it shows again. With ``defer``, a change shown counts once the event's
    own changes have gone to the browser (:func:`after_this_event`), once for all those of one event."""

    version = param.Integer(default=0)

    def __init__(
        self, state: ExplorerState, tab: str, deps: list[param.Parameter], defer: bool = False, **params
    ) -> None:
        super().__init__(**params)
        self._state, self._tab, self._stale, self._defer = state, tab, False, defer
        owners: dict[int, tuple[param.Parameterized, list[str]]] = {}
        for dep in deps:
            if dep.owner is not None and not isinstance(dep.owner, type):
                owners.setdefault(id(dep.owner), (dep.owner, []))[1].append(dep.name)
        for owner, names in owners.values():
            owner.param.watch(self._changed, names)
        state.param.watch(self._tab_changed, "tab")

    @property
    def shown(self) -> bool:
        return self._state.tab == self._tab

    def _changed(self, *_events) -> None:
        if not self.shown:
            self._stale = True
        elif self._defer:
            after_this_event(self._bump, key=id(self))
        else:
            self.version += 1

    def _bump(self) -> None:
        self.version += 1

    def _tab_changed(self, _event) -> None:
        if self.shown and self._stale:
            self._stale = False
            self.version += 1


def shown_only(view: Callable, state: ExplorerState, tab: str, **kwargs) -> pn.viewable.Viewable:
    """``view`` (a method declared with ``param.depends``) as a pane that redraws only while ``tab`` shows."""
    gate = WhenShown(state, tab, resolve_ref(view))
    return pn.panel(pn.bind(lambda _version: view(), gate.param.version), **kwargs)
