"""The object queue: the run's extended objects one at a time, most peculiar first, labelled like tiles.

Each object is shown as its source-centred stamp (its box with a 2.5x margin, cut from the field
image as the objects stage cuts it, the box outlined), with its score, size in beams, flux, shape
and the tiles it touches. A label goes to the object's main tile, tagged ``object:<id>``
(:mod:`app.objects` says why), with the same keys, undo and re-ranking as the tile queue. In the
data-quality review the objects follow their own artefact score (from the negative ratio around
them), highest first, or their main tile's for an ``objects.parquet`` written before objects had one.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from app.objects import (
    artefact_scores,
    beam_px,
    field_files,
    field_image,
    labelled_objects,
    object_facts,
    object_order,
    object_stamp,
    object_tag,
    read_objects,
    stamp_png,
    with_object_tag,
)
from app.text import md_text
from app.views.artefact import artefact_text
from app.views.queue import QueueView
from radioexplore.display.units import is_jy_per_beam
from radioexplore.ranking.peculiar import describe_object

log = logging.getLogger(__name__)


class ObjectQueueView(QueueView):
    """Walks the run's objects (``objects.parquet``) instead of its tiles; see the module docstring."""

    def __init__(self, **params) -> None:
        self._objects: pd.DataFrame | None = None
        self._labelled: tuple[tuple, set[int]] | None = None
        self._files: dict[str, str] = {}
        super().__init__(**params)

    # -- queue --------------------------------------------------------------------------------
    def objects(self) -> pd.DataFrame | None:
        """The run's objects, most peculiar first (None without ``objects.parquet``)."""
        return read_objects(self.state.run, len(self.state.tiles()))

    def labelled(self) -> set[int]:
        """Ids of the objects with a standing label, read once per label event."""
        db = self.state.run.labels_db
        key = (self.state.label_version, db.stat().st_mtime_ns if db.is_file() else None)
        if self._labelled is None or self._labelled[0] != key:
            self._labelled = (key, labelled_objects(self.state.labels.events()))
        return self._labelled[1]

    def _refresh_order(self, show: bool = True) -> None:
        objects = self.objects()
        self._files = field_files(self.state.tiles())
        self._objects = None if objects is None else objects.set_index("object_id", drop=False)
        order = [] if objects is None else object_order(objects, self.labelled())
        if order and self.review == "artefacts":  # data-quality review: the highest artefact score first
            values = np.nan_to_num(self._artefact_scores(order), nan=-np.inf)
            order = [order[i] for i in np.argsort(-values, kind="stable")]
        self._order = order
        self.position = 0
        if show:
            self._show()

    def _artefact_scores(self, ids: list[int]) -> np.ndarray:
        """The artefact scores of objects ``ids``: their own, or their main tile's for an old table."""
        tile_scores = self.state.tiles().get("artefact_score")
        return artefact_scores(
            self._objects.loc[ids], None if tile_scores is None else tile_scores.to_numpy(dtype=float)
        )

    def current_object(self) -> int | None:
        return self._order[self.position] if 0 <= self.position < len(self._order) else None

    def current_tile(self) -> int | None:
        """The current object's main tile: the one its label goes to (and the Explore tab opens on)."""
        obj = self.current_object()
        return None if obj is None else int(self._objects.loc[obj, "tile_id"])

    def _show(self) -> None:
        """Put the object's main tile, tagged with the object, in the label panel; show its stamp and facts."""
        obj_id = self.current_object()
        if obj_id is None:
            self.panel.tile = None
            none = (
                "no object table: run `radioexplore objects`" if self._objects is None else "every object is labelled"
            )
            self._heading.object = f"## The object queue is empty: {md_text(none)}."
            self._picture.object, self._caption.object, self._meta.object, self._why.object = None, "", "", ""
            return
        obj = self._objects.loc[obj_id]
        tile = int(obj["tile_id"])
        if self.panel.tile != tile:
            self.panel.tile = tile
        tags = [t.strip() for t in self.panel.tags.split(",") if t.strip()]
        if object_tag(obj_id) not in tags:  # (kept when already there: the astronomer may have typed more)
            self.panel.tags = ", ".join(with_object_tag(tags, obj_id))
        marked = "labelled" if obj_id in self.labelled() else ""
        self._heading.object = (
            f"## Objects {self.position + 1} / {len(self._order)} · object {obj_id} · tile {tile}"
            + (f" · {marked}" if marked else "")
        )
        self._why.object = self.why_text(tile)
        picture, caption = self.picture(obj_id)
        beam = beam_px(field_image(self._files.get(str(obj["field"]))))
        facts = object_facts(obj, beam)
        self._picture.object, self._caption.object = picture, caption
        self._meta.object = "\n".join(["| | |", "|---|---|", *(f"| {k} | {md_text(v)} |" for k, v in facts)])
        ahead = [o for o in self._order[self.position + 1 : self.position + 1 + 3] if o not in self._pictures]
        if ahead:
            self._prefetcher.submit(self._prefetch, ahead)

    def why_text(self, tile: int) -> str:
        """Markdown: why the object is where it is (with its own artefact score), and its main tile's
        artefact axis in words."""
        obj_id = self.current_object()
        obj = self._objects.loc[obj_id]
        own = "artefact_score" in obj.index
        score = float(self._artefact_scores([obj_id])[0])
        art = f"{'its' if own else 'its tile’s'} artefact score {score:.2f}" if np.isfinite(score) else ""
        if self.review == "artefacts":
            reason = f"data-quality review: {art or 'no artefact score'}, highest first"
        else:
            reason = f"{describe_object(obj)}, object score {float(obj['score']):.2f} (rank {int(obj['rank'])})"
            reason += f"; {art}" if art else ""
        return f"**Why here:** {md_text(reason)}  \n**Artefact axis (tile {tile}):** {artefact_text(self.state, tile)}"

    def picture(self, obj_id: int) -> tuple[bytes | None, str]:
        """PNG of the object's stamp (made ahead when the queue got there in order) and its caption."""
        with self._lock:
            made = self._pictures.get(obj_id)
        return made if made is not None else self._remember(obj_id, self.stamp(obj_id))

    def _prefetch(self, ids: list[int]) -> None:  # (object ids, where the tile queue passes tiles and rows)
        for obj_id in ids:
            try:
                self._remember(obj_id, self.stamp(obj_id))
            except Exception:  # made again (and the error shown) when the queue gets there
                log.exception("could not prefetch object %s", obj_id)

    def stamp(self, obj_id: int) -> tuple[bytes | None, str]:
        """The object's stamp in mJy/beam from -3 local sigma to its 99.5th percentile, and a caption."""
        obj = self._objects.loc[obj_id]
        image = field_image(self._files.get(str(obj["field"])))
        if image is None:
            return None, f"the image of field {md_text(obj['field'])} cannot be read: no stamp"
        values = object_stamp(image, obj)
        jy = is_jy_per_beam(image.bunit)
        scale, unit = (1e3, "mJy/beam") if jy else (1.0, md_text(image.bunit or "image units"))
        values = values * scale
        noise = float(obj["noise_rms"]) * scale
        lo = -3.0 * noise if np.isfinite(noise) and noise > 0 else float(np.nanpercentile(values, 1))
        hi = float(np.nanpercentile(values, 99.5)) if np.isfinite(values).any() else lo + 1.0
        hi = hi if hi > lo else lo + 1.0
        side = int(obj["stamp_size"])
        caption = (
            f"{unit}, colours from {lo:.3g} to {hi:.3g} (-3σ to the 99.5th percentile); {side} px stamp, "
            f"2.5x the object's box (outlined); north up"
        )
        return stamp_png(values, obj, lo, hi), caption
