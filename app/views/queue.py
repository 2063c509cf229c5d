"""The review queue: the ranking one tile at a time, labelled with buttons or the keyboard.

Keys: the label letters shown on the buttons toggle labels; 1-5 give the interest score, save
and move on; Enter saves and moves on; n or → skips; ← goes back; u undoes the last label.
After every ``rerank_every`` labels the queue is re-ranked with what was learnt (active learning),
and the ranking is written to the run. The queue says why each tile is there; for a data-quality
review (``review="artefacts"``) it follows the artefact axis instead, highest artefact score first.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd
import panel as pn
import param
from panel.io.state import set_curdoc

from app.artefacts import REVIEW_MODES, artefact_order, queue_reason
from app.state import ExplorerState
from app.text import md_text
from app.views.artefact import artefact_text
from app.views.keys import KeyboardShortcuts
from app.views.labels import LABEL_KEYS, LabelPanel
from app.views.tile import describe
from radioexplore.display.render import png_bytes
from radioexplore.ranking.teach import REACH_WORDS

log = logging.getLogger(__name__)

#: Side of the queue's picture in screen pixels.
QUEUE_PX = 420
#: Tiles ahead in the queue whose pictures are made in advance.
PREFETCH = 3


def why_queued(state: ExplorerState, row: pd.Series) -> str:
    """' · touches tile 44, which you scored 5' when a label on a touching tile lifted this one
    (the rest of a large source lies in the next tile; ' · holds part of the source of tile 44, ...' when
    labels reach the tiles of a source, ``ActiveConfig.spread_reach``), else ''."""
    source = row.get("touches_liked", -1)
    if pd.isna(source) or int(source) < 0:
        return ""
    tiles = state.tiles()
    score = tiles["user_interest"].iloc[int(source)] if "user_interest" in tiles else float("nan")
    scored = f", which you scored {int(score)}" if pd.notna(score) else ""
    return f" · {REACH_WORDS[state.spread_reach()]}{int(source)}{scored}"


class QueueView(param.Parameterized):
    """Walks ``state.queue()`` (unlabelled tiles in ranking order) and labels them.

    The queue keeps its own tile (its label panel labels it) and updates its heading, picture and
    table in place, so a label costs one small page update; the Explore tab opens on the queue's
    tile when the queue is left. The next tiles' pictures are made ahead, off the page's thread.
    """

    state = param.ClassSelector(class_=ExplorerState)
    position = param.Integer(default=0, bounds=(0, None))
    rerank_every = param.Integer(default=10, bounds=(1, 1000), doc="re-rank the queue after this many labels")
    active = param.Boolean(default=True, doc="whether the queue tab is showing (keys act only then)")
    reranking = param.Boolean(default=False, doc="a re-ranking is running (off the page's thread)")
    review = param.Selector(
        default=REVIEW_MODES[0], objects=list(REVIEW_MODES), doc="follow the peculiarity ranking or the artefact axis"
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.panel = LabelPanel(state=self.state, follow=False)
        self.keys = KeyboardShortcuts()
        self._order: list[int] = []
        self._since_rerank = 0
        self._pictures: dict[int, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-prefetch")
        self._heading = pn.pane.Markdown("", css_classes=["queue-title"], sizing_mode="stretch_width")
        self._picture = pn.pane.PNG(None, width=QUEUE_PX, height=QUEUE_PX, css_classes=["queue-image"])
        self._caption = pn.pane.Markdown("", width=QUEUE_PX, css_classes=["queue-caption"])
        self._meta = pn.pane.Markdown("", width=280)
        self._why = pn.pane.Markdown("", css_classes=["queue-why"], sizing_mode="stretch_width")
        self._refresh_order(show=False)  # the tile is shown when the queue tab opens (resume)
        self._bind_keys()
        self.param.watch(self._left, "active")
        self.param.watch(lambda _e: self._refresh_order(), "review")

    # -- queue --------------------------------------------------------------------------------
    def _refresh_order(self, show: bool = True) -> None:
        if self.review == "artefacts":  # data-quality review: the unlabelled tiles, highest artefact score first
            labelled = self.state.current_labels()["tile_id"].to_numpy()
            self._order = artefact_order(self.state.tiles(), exclude=labelled, n=1000)
        else:
            self._order = self.state.queue()
        self.position = 0
        if show:
            self._show()

    def current_tile(self) -> int | None:
        return self._order[self.position] if 0 <= self.position < len(self._order) else None

    def _show(self) -> None:
        """Put the current tile in the label panel and on the page (in place), then make the next pictures."""
        tile = self.current_tile()
        if tile is not None and self.panel.tile != tile:
            self.panel.tile = tile
        if tile is None:
            self._heading.object = "## The queue is empty: every tile is labelled."
            self._picture.object, self._caption.object, self._meta.object, self._why.object = None, "", "", ""
            return
        row = self.state.tile_row(tile)
        marked = self.state.label_text(tile) if self.state.show_marks else ""
        self._heading.object = (
            f"## Queue {self.position + 1} / {len(self._order)} · tile {tile}"
            + (f" · labelled {md_text(marked)}" if marked else "")
            + why_queued(self.state, row)
        )
        self._why.object = self.why_text(tile)
        picture, caption = self.picture(tile)
        self._picture.object, self._caption.object, self._meta.object = picture, caption, describe(row)
        ahead = self._order[self.position + 1 : self.position + 1 + PREFETCH]
        rows = [(t, self.state.tile_row(t)) for t in ahead if t not in self._pictures]
        if rows:
            self._prefetcher.submit(self._prefetch, rows)

    def why_text(self, tile: int) -> str:
        """Markdown: why the tile is where it is in this queue, and its artefact score in words."""
        reason = queue_reason(self.state.tile_row(tile), self.review)
        why = f"**Why here:** {md_text(reason)}  \n" if reason else ""
        return why + f"**Artefact axis:** {artefact_text(self.state, tile)}"

    def picture(self, tile: int) -> tuple[bytes, str]:
        """PNG of the tile (made ahead when the queue got there in order) and what its colours mean."""
        with self._lock:
            made = self._pictures.get(tile)
        return made if made is not None else self._remember(tile, queue_picture(self.state, self.state.tile_row(tile)))

    def _remember(self, tile: int, made: tuple[bytes, str]) -> tuple[bytes, str]:
        with self._lock:
            if len(self._pictures) >= 4 * PREFETCH + 16:
                self._pictures.pop(next(iter(self._pictures)))
            self._pictures[tile] = made
        return made

    def _prefetch(self, rows: list[tuple[int, pd.Series]]) -> None:
        for tile, row in rows:
            try:
                self._remember(tile, queue_picture(self.state, row))
            except Exception:  # made again (and the error shown) when the queue gets there
                log.exception("could not prefetch tile %s", tile)

    def resume(self) -> None:
        """Show the queue's current tile again (when the queue tab is opened)."""
        self._show()
        if self.current_tile() is not None:
            self.state.selected_tile = self.current_tile()

    def _left(self, event) -> None:
        if not event.new and self.current_tile() is not None:  # the Explore tab opens on the queue's tile
            self.state.selected_tile = self.current_tile()

    def next(self) -> None:
        if self.position < len(self._order) - 1:
            self.position += 1
        self._show()

    def previous(self) -> None:
        if self.position > 0:
            self.position -= 1
        self._show()

    def save_and_next(self) -> None:
        self._show()
        if self.panel.save():
            self._since_rerank += 1
            order = self._order
            if self._since_rerank >= self.rerank_every and not self.reranking:
                self.rerank()
            if self._order is order:  # (a re-ranking done at once starts the queue at its new top)
                self.next()

    def score(self, value: int) -> None:
        self._show()
        self.panel.interest = str(value)
        self.save_and_next()

    def rerank(self) -> None:
        """Re-rank with the labels so far, then restart the queue at its new top. On a served page the
        model runs on a thread: the page stays live (labelling goes on) and shows that it runs."""
        self._since_rerank = 0
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:  # no page (tests, a notebook): at once
            self._reranked(self.state.compute_rerank())
            return
        if self.reranking:
            return
        self.reranking = True
        self.panel.message = "Re-ranking with your interest scores…"

        def work() -> None:
            try:
                result = self.state.compute_rerank()
            except Exception as exc:
                log.exception("re-ranking failed")
                result = (None, f"Re-ranking failed: {exc}")
            doc.add_next_tick_callback(partial(self._on_page, doc, result))

        threading.Thread(target=work, name="rerank", daemon=True).start()

    def _on_page(self, doc, result) -> None:
        with set_curdoc(doc):
            self._reranked(result)

    def _reranked(self, result) -> None:
        self.reranking = False
        self.panel.message = self.state.apply_rerank(result)
        if result[0] is not None:
            self._refresh_order()

    def undo(self) -> None:
        if self.panel.undo() and self.position > 0:
            self.position -= 1
            self._show()

    @staticmethod
    def _held(action) -> None:
        """Run a key's action with the page's updates held, so the browser gets them (heading, picture,
        label panel, message) as one message and lays the page out once, not once per change."""
        with pn.io.hold():
            action()

    def _bind_keys(self) -> None:
        guard = lambda fn: lambda: self._held(fn) if self.active else None  # noqa: E731
        for label, key in LABEL_KEYS.items():
            self.keys.bind(key, guard(lambda label=label: (self._show(), self.panel.toggle(label))))
        for value in range(1, 6):
            self.keys.bind(str(value), guard(lambda value=value: self.score(value)))
        self.keys.bind("Enter", guard(self.save_and_next))
        self.keys.bind("n", guard(self.next))
        self.keys.bind("ArrowRight", guard(self.next))
        self.keys.bind("ArrowLeft", guard(self.previous))
        self.keys.bind("u", guard(self.undo))

    # -- view ---------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        prev = pn.widgets.Button(label="← previous")
        prev.on_click(lambda _e: self.previous())
        skip = pn.widgets.Button(label="skip (n)")
        skip.on_click(lambda _e: self.next())
        rerank = pn.widgets.Button(label="re-rank now", css_classes=["rerank-now"])
        rerank.on_click(lambda _e: self.rerank())
        self.param.watch(lambda e: setattr(rerank, "disabled", e.new), "reranking")
        progress = pn.indicators.Progress(
            active=True, width=160, visible=self.param.reranking, css_classes=["rerank-progress"]
        )
        help_text = pn.pane.Markdown(
            "Keys: "
            + ", ".join(f"**{k}** {label.lower()}" for label, k in LABEL_KEYS.items())
            + "; **1-5** interest, save and next; **Enter** save and next; **n**/**→** skip; **←** back; **u** undo."
            " The Explore tab opens on the queue's tile.",
            sizing_mode="stretch_width",
        )
        review = pn.widgets.RadioButtonGroup.from_param(
            self.param.review,
            options={"Review: peculiar": "peculiar", "Review: artefacts (data quality)": "artefacts"},
            name="",
            css_classes=["review-mode"],
        )
        return pn.Column(
            self.keys,
            help_text,
            review,
            pn.Row(
                pn.Column(self._heading, self._why, pn.Row(pn.Column(self._picture, self._caption), self._meta)),
                self.panel,
            ),
            pn.Row(prev, skip, rerank, progress),
            sizing_mode="stretch_width",
        )


def queue_picture(state: ExplorerState, row: pd.Series) -> tuple[bytes, str]:
    """The tile as a PNG in sky units between its field's display limits (the model input when the
    image is not in Jy), and a caption saying so."""
    tile = int(row["tile_id"])
    sky = state.sky_pixels(tile)
    if sky is not None and sky[1].bunit.upper().startswith("JY"):
        values = sky[0] * 1e3
        limits = state.field_limits(str(row["field"]))
        lo, hi = (limits[0] * 1e3, limits[1] * 1e3) if limits else np.nanpercentile(values, [2, 98])
        caption = f"mJy/beam, colours from {lo:.3g} to {hi:.3g} (the field's display limits); north up"
        return png_bytes(values, vmin=float(lo), vmax=float(hi)), caption
    # (at the tile's own size: the browser scales it, and the page update stays small)
    return png_bytes(state.tile_pixels(tile), vmin=0.0, vmax=1.0), "model input, 0 to 1; north up"
