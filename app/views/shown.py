"""Views on a hidden tab do not redraw: a change while the tab is hidden redraws them once it shows.

Every view reads the one shared state, so a label in the review queue (a new ``label_version``)
or a map click would otherwise redraw the Explore tab's map, table and tile view behind the
queue, seconds per label. :class:`WhenShown` passes a view's parameter changes on only while
its tab (``state.tab``) shows, and :func:`shown_only` wraps a view method with it.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param
from param.parameterized import resolve_ref

from app.state import ExplorerState


class WhenShown(param.Parameterized):
    """``version`` counts the changes of ``deps`` made while ``tab`` shows, and one for all those made
    while it was hidden, when it shows again."""

    version = param.Integer(default=0)

    def __init__(self, state: ExplorerState, tab: str, deps: list[param.Parameter], **params) -> None:
        super().__init__(**params)
        self._state, self._tab, self._stale = state, tab, False
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
        if self.shown:
            self.version += 1
        else:
            self._stale = True

    def _tab_changed(self, _event) -> None:
        if self.shown and self._stale:
            self._stale = False
            self.version += 1


def shown_only(view: Callable, state: ExplorerState, tab: str, **kwargs) -> pn.viewable.Viewable:
    """``view`` (a method declared with ``param.depends``) as a pane that redraws only while ``tab`` shows."""
    gate = WhenShown(state, tab, resolve_ref(view))
    return pn.panel(pn.bind(lambda _version: view(), gate.param.version), **kwargs)
