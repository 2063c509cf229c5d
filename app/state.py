"""The one state object every view shares: which run, which embedding, which tile is selected.

State lives in params (as Panel's own apps do; docs/architecture.md, "The app"); views depend on them and never on
each other. Loading is cached per file and modification time, so switching back and forth is
free. The app only reads the run directory, except for the label store and the active ranking:
a re-ranking from the astronomer's labels is written to ``scores/active/<name>.parquet`` (as the
``rerank`` command writes it), so a reload, a second browser and ``export --ranking active`` see it.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import param

from app.access import Annotator, ReadOnlyLabelStore
from app.artefacts import with_artefact_axis
from radioexplore.display.render import png_bytes
from radioexplore.embed.attention import AttentionError, TileAttention, attention_checkpoint, load_vit, tile_attention
from radioexplore.io.fits import FitsImage, read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.ranking.active import ActiveRanker, spread_reach_of
from radioexplore.ranking.active_run import artefact_labelled, save_active
from radioexplore.ranking.queue import review_queue
from radioexplore.review.coverage import active_config
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.labels.values import default_who
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store
from radioexplore.run.tiletable.join import join_tiles, with_labels
from radioexplore.run.tiletable.schema import HIDDEN_COLUMNS
from radioexplore.segmentation.read import SegmentsError, segment_columns, segment_info, segment_tiles
from radioexplore.space.similarity import SimilaritySearch

log = logging.getLogger(__name__)

#: Thumbnails (PNG bytes) kept per session.
THUMB_CACHE = 512
#: Attention maps kept per session (one forward pass each; the threshold slider reuses them).
ATTENTION_CACHE = 32

#: Colour-by choices offered first, in this order, when the run has them.
PREFERRED_COLOURS = [
    "field",
    "noise_rms",
    "dqf",
    "n_sources",
    "score",
    "artefact_score",
    "active_score",
    "label",
    "user_labels",
    "user_interest",
    "truth_kinds",
    "flag",
]


@lru_cache(maxsize=32)
def _read_parquet(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path)


def _mtime(path: Path | None) -> float | None:
    return path.stat().st_mtime if path is not None and path.is_file() else None


def read_table(path: Path) -> pd.DataFrame:
    """A parquet table, cached until the file changes."""
    return _read_parquet(str(path), path.stat().st_mtime)


#: Joined tile tables shared by sessions (:meth:`ExplorerState._joined`), by run and files' times; the oldest goes.
_SHARED_JOINED: dict[tuple, pd.DataFrame] = {}
SHARED_JOINED_MAX = 2


@lru_cache(maxsize=4)
def _tile_store(path: str, mtime: float):
    return open_tile_store(path)


@lru_cache(maxsize=64)
def fits_image(path: str) -> FitsImage | None:
    """The FITS image at ``path`` (cached), or None with a warning when it cannot be read."""
    try:
        return read_image(path)
    except FitsReadError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None


@lru_cache(maxsize=4)
def _search(root: str, name: str, mtime: float) -> SimilaritySearch:
    return SimilaritySearch.from_run(RunDir(root), name)


def is_categorical(values: pd.Series) -> bool:
    """Colour a column by category (not by a colour bar) when it is text, boolean or a small integer set."""
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == bool or values.dtype == object:
        return True
    if pd.api.types.is_string_dtype(values):
        return True
    return pd.api.types.is_integer_dtype(values) and values.nunique(dropna=True) <= 12


class ExplorerState(param.Parameterized):
    """What the user is looking at; every view reads and sets these params."""

    embedding = param.Selector(default=None, objects=[], doc="embedding set shown in the map and used for search")
    map_method = param.Selector(default="umap", objects=["umap"], doc="2-D map of the embedding")
    colour_by = param.Selector(
        default="field", objects=["field"], doc="tiles.parquet column or score colouring the map"
    )
    selected_tile = param.Integer(default=None, allow_None=True, doc="tile shown in the tile view")
    selection = param.List(default=[], item_type=int, doc="tile ids selected on the map (box or lasso)")
    n_neighbours = param.Integer(default=8, bounds=(1, 64))
    label_version = param.Integer(default=0, doc="bumped after each label event, so views refresh")
    ranking_version = param.Integer(default=0, doc="bumped after each re-ranking")
    tab = param.String(default="Explore", doc="the tab the page shows; views on other tabs put off their redraws")
    show_marks = param.Boolean(default=True, doc="mark labelled tiles on the map, in the tables and thumbnails")
    # -- diffuse-emission segmentation (issue 22): shared by the tile and field views' overlays
    diffuse_overlay = param.Boolean(default=False, doc="overlay the U-Net's diffuse-emission probability")
    diffuse_threshold = param.Number(default=0.5, bounds=(0.0, 1.0), step=0.01, doc="shade where probability >= this")

    def __init__(self, run: RunDir, who: str | None = None, annotator: Annotator | None = None, **params) -> None:
        super().__init__(**params)
        run.check_consistent()
        self.run = run
        self.annotator = annotator or Annotator(who or default_who())
        if self.annotator.can_label:
            self.labels = LabelStore.for_run(run, who=self.annotator.name)
        else:  # refused here, in the store every view writes through, not only by disabled buttons
            self.labels = ReadOnlyLabelStore.for_run(run, who=self.annotator.name, why_not=self.annotator.why_not)
        self._frame: pd.DataFrame | None = None
        self._frame_key: tuple | None = None
        self._joined_frame: pd.DataFrame | None = None
        self._joined_key: tuple | None = None
        self._joined_version = 0
        self._xy: tuple[int, np.ndarray, np.ndarray] | None = None  # map positions / their span, per join
        self._ranker: ActiveRanker | None = None
        self._active: pd.DataFrame | None = None  # a read-only session's re-ranking (not written to the run)
        self._current: tuple[tuple, pd.DataFrame] | None = None
        self._stored: tuple[tuple, pd.DataFrame | None] | None = None
        self._thumbs: dict[int, bytes] = {}
        self._vits: dict[str, tuple | AttentionError] = {}  # checkpoint -> (model, spec) or why not
        self._attention: dict[tuple[str, int], TileAttention] = {}
        names = run.embedding_names()
        self.param.embedding.objects = names
        if self.embedding not in names:
            self.embedding = run.default_embedding()
        self._refresh_choices()
        self._init_segments()

    def _init_segments(self) -> None:
        """The overlay threshold from ``segments/segment.json`` when the run has one (issue 22)."""
        try:
            info = segment_info(self.run)
        except SegmentsError as exc:
            log.warning("%s", exc)
            info = None
        if info is not None and 0.0 <= info.threshold <= 1.0:
            self.diffuse_threshold = info.threshold

    # -- data -------------------------------------------------------------------------------
    def tiles(self) -> pd.DataFrame:
        """tiles.parquet joined with map coordinates, anomaly scores, the session's re-ranking and
        the current labels, one row per tile. Cached until one of them changes; a label event only
        replaces the two label columns (the join of a 10^6-tile run is not made again per label).
        """
        base = self._joined()
        key = (self._joined_version, self._labels_key())
        if self._frame_key != key:
            self._frame, self._frame_key = with_labels(base, self.current_labels(), rows_are_ids=True), key
        return self._frame

    def _joined(self) -> pd.DataFrame:
        """tiles.parquet joined with the map, scores and active ranking of the embedding (no labels)."""
        paths = [self.run.tiles_table]
        if self.embedding:
            paths += [self.run.map(self.embedding, self.map_method), self.run.scores(self.embedding)]
        active_path = self.run.active_scores(self.embedding) if self.embedding else None
        key = (
            tuple((str(p), p.stat().st_mtime if p.is_file() else None) for p in [*paths, active_path] if p),
            self.ranking_version,
            _mtime(segment_tiles(self.run)),
        )
        if self._joined_key != key:
            # a session without a re-ranking of its own joins what every such session joins: the
            # table of the first is shared (issue 23: the join cost a 10^6-tile page ~0.6 s before its map)
            shared = (str(self.run.root), key[0], key[2], _mtime(self.run.artefact_features))
            out = _SHARED_JOINED.get(shared) if self._active is None else None
            if out is None:
                out = self._join(paths)
                if self._active is None:
                    _SHARED_JOINED[shared] = out
                    while len(_SHARED_JOINED) > SHARED_JOINED_MAX:
                        _SHARED_JOINED.pop(next(iter(_SHARED_JOINED)))
            self._joined_frame, self._joined_key = out, key
            self._joined_version += 1
        return self._joined_frame

    def _join(self, paths: list[Path]) -> pd.DataFrame:
        """:meth:`_joined`'s table, made: the tile table, map, scores, active ranking, segmentation and
        artefact columns. Treated as read-only once made (sessions share it; new columns go on copies)."""
        parts = [read_table(path) for path in paths[1:] if path.is_file()]
        active = self._active if self._active is not None else self.stored_active()
        out = join_tiles(read_table(self.run.tiles_table).copy(), *parts, active=active)
        # issue 22: diffuse_mean, diffuse_area of segments/tiles.parquet, to colour the map by
        for col, values in segment_columns(self.run, out["tile_id"].to_numpy()).items():
            if col not in out.columns:
                out[col] = values
        return with_artefact_axis(self.run, out)  # a run ranked before the artefact axis: its cache

    def _labels_key(self) -> tuple:
        db = self.run.labels_db
        return (self.label_version, db.stat().st_mtime_ns if db.is_file() else None)

    def current_labels(self) -> pd.DataFrame:
        """``labels.current()``, read once per label event (or change of the store by another session)."""
        key = self._labels_key()
        if self._current is None or self._current[0] != key:
            self._current = (key, self.labels.current())
        return self._current[1]

    def label_text(self, tile_id: int) -> str:
        """The tile's current judgement in short ("PECULIAR · 5"), or "" when it has none."""
        cur = self.current_labels()
        row = cur[cur["tile_id"] == int(tile_id)]
        if row.empty:
            return ""
        labels, interest = row["labels"].iloc[0], row["interest"].iloc[0]
        parts = [", ".join(labels)] if labels else []
        if pd.notna(interest):
            parts.append(str(int(interest)))
        return " · ".join(parts) or "labelled"

    def stored_active(self) -> pd.DataFrame | None:
        """The run's active ranking of the current embedding when there is one and it agrees with the
        run (``rerank`` provenance); None otherwise, so the anomaly ranking is shown."""
        path = self.run.active_scores(self.embedding) if self.embedding else None
        if path is None or not path.is_file():
            return None
        key = (str(path), path.stat().st_mtime_ns)
        if self._stored is None or self._stored[0] != key:
            self._stored = (key, self._read_active(path))
        return self._stored[1]

    def _read_active(self, path: Path) -> pd.DataFrame | None:
        problems = [p for p in self.run.consistency_problems(self.embedding) if p.stage == "rerank"]
        if problems:
            log.warning("not using %s: %s", path, "; ".join(map(str, problems)))
            return None
        table = read_table(path)
        if len(table) != len(read_table(self.run.tiles_table)):
            log.warning("not using %s: %d rows for %d tiles", path, len(table), len(read_table(self.run.tiles_table)))
            return None
        return table.sort_values("tile_id").reset_index(drop=True)

    def colour_choices(self) -> list[str]:
        cols = [c for c in self.tiles().columns if c not in HIDDEN_COLUMNS]
        first = [c for c in PREFERRED_COLOURS if c in cols]
        return first + [c for c in cols if c not in first]

    @param.depends("embedding", watch=True)
    def _refresh_choices(self) -> None:
        self._ranker, self._active = None, None
        methods = self.run.map_methods(self.embedding) if self.embedding else []
        self.param.map_method.objects = methods or ["umap"]
        if self.map_method not in self.param.map_method.objects:
            self.map_method = self.param.map_method.objects[0]
        self._refresh_colours()

    @param.depends("label_version", "ranking_version", watch=True)
    def _refresh_colours(self) -> None:
        choices = self.colour_choices()
        if choices != list(self.param.colour_by.objects):  # (the same list again would update the page's menu)
            self.param.colour_by.objects = choices
        if self.colour_by not in choices:
            self.colour_by = choices[0]

    def tile_row(self, tile_id: int) -> pd.Series:
        return self.tiles().iloc[int(tile_id)]

    def tile_pixels(self, tile_id: int) -> np.ndarray:
        """The normalised tile ``[S, S]`` in [0, 1] (first channel), as the model sees it."""
        path = self.run.tile_pixels
        store = _tile_store(str(path), path.stat().st_mtime if path.exists() else 0.0)
        return np.asarray(store[int(tile_id)][0], dtype=np.float32)

    def thumbnail(self, tile_id: int, size: int) -> bytes:
        """PNG of the model-input tile, ``size`` px square, kept for the session (thumbnails repeat)."""
        key = (int(tile_id), int(size))
        if key not in self._thumbs:
            if len(self._thumbs) >= THUMB_CACHE:
                self._thumbs.pop(next(iter(self._thumbs)))
            self._thumbs[key] = png_bytes(self.tile_pixels(tile_id), vmin=0.0, vmax=1.0, size=size)
        return self._thumbs[key]

    def sky_pixels(self, tile_id: int) -> tuple[np.ndarray, FitsImage] | None:
        """The tile's pixels in the source image's units (usually Jy/beam), or None if unreadable."""
        row = self.tile_row(tile_id)
        path = str(row["file"])
        image = fits_image(path) if path and Path(path).is_file() else None
        if image is None:
            return None
        return image.read_box(int(row["x0"]), int(row["y0"]), int(row["size"])), image

    def field_limits(self, field: str) -> tuple[float, float] | None:
        """The per-field display limits the ingest scaling used (contrast stretch lo, hi)."""
        state = self.run.stage_config("ingest").get("field_scaling", {}).get(field, {})
        if "lo" in state and "hi" in state:
            return float(state["lo"]), float(state["hi"])
        return None

    # -- attention ------------------------------------------------------------------------------
    def attention_source(self) -> str:
        """The ViT checkpoint whose attention the tile view overlays: the one that made the current
        embedding, else the default embedding's, else the shipped one. Raises AttentionError if none.
        """
        return attention_checkpoint(self.run, embedding=self.embedding)

    def attention_model(self) -> tuple:
        """``(vit, spec)`` for :meth:`attention_source`, loaded once per session (so is a failure)."""
        source = self.attention_source()
        if source not in self._vits:
            try:
                self._vits[source] = load_vit(source)
            except ValueError as exc:  # AttentionError (not a ViT), CheckpointError (unreadable)
                self._vits[source] = exc if isinstance(exc, AttentionError) else AttentionError(str(exc))
        loaded = self._vits[source]
        if isinstance(loaded, AttentionError):
            raise loaded
        return loaded

    def attention_heads(self) -> int | None:
        """Number of heads of the attention model, once it is loaded (None before, or if it cannot be)."""
        try:
            loaded = self._vits.get(self.attention_source())
        except AttentionError:
            return None
        if loaded is None or isinstance(loaded, AttentionError):
            return None
        return int(loaded[0].blocks[-1].attn.heads)

    def attention(self, tile_id: int) -> TileAttention:
        """Last-block CLS attention of one tile, ``maps`` ``[heads, S, S]`` in the tile store's row
        order (row 0 is the tile's first image row, y0). Cached; raises AttentionError with the reason.
        """
        key = (self.attention_source(), int(tile_id))
        if key not in self._attention:
            model = self.attention_model()
            if len(self._attention) >= ATTENTION_CACHE:
                self._attention.pop(next(iter(self._attention)))
            self._attention[key] = tile_attention(self.run, int(tile_id), checkpoint=key[0], model=model)
        return self._attention[key]

    # -- search -----------------------------------------------------------------------------
    def search(self) -> SimilaritySearch:
        """The similarity search over the current embedding (through its FAISS index)."""
        path = self.run.embeddings(self.embedding)
        index = self.run.index(self.embedding)
        mtime = max(path.stat().st_mtime, index.stat().st_mtime if index.is_file() else 0.0)
        return _search(str(self.run.root), self.embedding, mtime)

    def neighbours(self, tile_id: int, k: int | None = None) -> pd.DataFrame:
        """The ``k`` nearest tiles (itself excluded) with cosine distance."""
        return self.search().from_tile(int(tile_id), k or self.n_neighbours)

    def nearest_on_map(self, x: float, y: float, max_fraction: float = 0.05) -> int | None:
        """The tile whose map position is nearest to (x, y), if within ``max_fraction`` of the map's extent."""
        tiles = self.tiles()
        if "x" not in tiles.columns or x is None or y is None:
            return None
        if self._xy is None or self._xy[0] != self._joined_version:  # once per map, not per click
            xy = tiles[["x", "y"]].to_numpy(dtype=float)
            span = np.ptp(xy, axis=0)
            span[span == 0] = 1.0
            self._xy = (self._joined_version, xy / span, span)
        _, scaled, span = self._xy
        d2 = np.square(scaled - np.array([x, y]) / span).sum(axis=1)
        i = int(np.argmin(d2))
        return int(tiles["tile_id"].iloc[i]) if d2[i] <= max_fraction**2 else None

    def tiles_in_box(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Tile ids whose map position lies in a box (for box selection on rasterised maps)."""
        tiles = self.tiles()
        inside = tiles["x"].between(min(x0, x1), max(x0, x1)) & tiles["y"].between(min(y0, y1), max(y0, y1))
        return tiles.loc[inside, "tile_id"].astype(int).tolist()

    # -- ranking and the review queue ---------------------------------------------------------
    def ranking(self) -> tuple[pd.DataFrame, str]:
        """The ranking the queue follows: the session's re-ranking if any, else the anomaly ranking."""
        tiles = self.tiles()
        column = "active_rank" if "active_rank" in tiles.columns else "rank"
        return tiles, column

    def top_anomalies(self, n: int = 50) -> pd.DataFrame:
        """The ``n`` top tiles of the current ranking, first first."""
        tiles, column = self.ranking()
        if column not in tiles.columns:
            return tiles.head(0)
        top = tiles.nsmallest(n, column)  # (not a sort of every tile: 10^6 of them per redraw)
        return top if len(top) == min(n, len(tiles)) else tiles.sort_values(column).head(n)

    def queue(self, n: int = 1000) -> list[int]:
        """The next ``n`` unlabelled tiles in ranking order."""
        tiles, column = self.ranking()
        if column not in tiles.columns:
            return []
        labelled = self.current_labels()["tile_id"].to_numpy()
        return [int(t) for t in review_queue(tiles, n, exclude=labelled, column=column)]

    def rerank(self) -> str:
        """Re-rank from the current interest scores (active learning) and write the ranking to the run
        (a read-only session keeps it to itself); returns what happened, for the user."""
        return self.apply_rerank(self.compute_rerank())

    def spread_reach(self) -> str:
        """How a label reaches other tiles in the re-ranking the queue shows: "touching" (every touching tile)
        or "source" (the tiles its object's source overlaps), as the ranker says once it has re-ranked here,
        else as the run's last `rerank` settings and objects say (:func:`~radioexplore.ranking.active.spread_reach_of`)."""
        if self._ranker is not None:
            return self._ranker.reach
        return spread_reach_of(active_config(self.run, self.embedding), self.run.objects.is_file())

    def compute_rerank(self) -> tuple[pd.DataFrame | None, str]:
        """The re-ranking and a message; touches no param, so it may run off the page's event loop."""
        interest = self.labels.interest_scores()
        if interest.empty:
            return None, "No interest scores yet: the queue follows the anomaly ranking."
        t0 = time.perf_counter()
        if self._ranker is None:
            # the settings of the run's last re-rank (`radioexplore rerank --spread 0` holds in the app too)
            self._ranker = ActiveRanker.from_run(self.run, self.embedding, active_config(self.run, self.embedding))
        ranking = self._ranker.rerank(interest, artefact_labelled(self.labels.current()))
        if self.annotator.can_label:
            save_active(self.run, self.embedding, ranking, self._ranker.config)
            where = f"saved to {self.run.active_scores(self.embedding).relative_to(self.run.root)}"
        else:
            self._active = ranking
            where = "for this session only (read-only access)"
        took = time.perf_counter() - t0
        return ranking, f"Re-ranked {len(ranking)} tiles from {len(interest)} interest scores in {took:.1f} s, {where}."

    def apply_rerank(self, result: tuple[pd.DataFrame | None, str]) -> str:
        """Show the result of :meth:`compute_rerank` (on the page's event loop)."""
        ranking, message = result
        if ranking is not None:
            self.ranking_version += 1
        return message
