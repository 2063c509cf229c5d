"""Keyboard shortcuts: a tiny browser component that forwards key presses to Python.

Keys typed into text inputs are ignored, so free tags can be typed without triggering labels.
"""

from __future__ import annotations

from collections.abc import Callable

import param
from panel.custom import JSComponent


class KeyboardShortcuts(JSComponent):
    """Calls the handler registered for a key when that key is pressed anywhere on the page."""

    last_key = param.String(default="", doc="the last key forwarded, for tests and display")

    _esm = """
    export function render({ model }) {
      const onKey = (event) => {
        const target = event.composedPath()[0];
        const tag = target && target.tagName ? target.tagName.toUpperCase() : "";
        if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return;
        if (event.ctrlKey || event.metaKey || event.altKey) return;
        model.send_msg({ key: event.key });
      };
      document.addEventListener("keydown", onKey);
      model.on("remove", () => document.removeEventListener("keydown", onKey));
      const hint = document.createElement("span");
      hint.className = "keyboard-shortcuts";
      return hint;
    }
    """

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._handlers: dict[str, Callable[[], None]] = {}

    def bind(self, key: str, handler: Callable[[], None]) -> None:
        """Run ``handler`` when ``key`` (as in KeyboardEvent.key, e.g. "p", "ArrowRight") is pressed."""
        self._handlers[key] = handler

    def press(self, key: str) -> bool:
        """Dispatch ``key`` as if pressed; returns whether a handler ran."""
        self.last_key = key
        handler = self._handlers.get(key)
        if handler is None:
            return False
        handler()
        return True

    def _handle_msg(self, msg: dict) -> None:
        self.press(str(msg.get("key", "")))
