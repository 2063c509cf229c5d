"""The one state object every view shares: which run, which embedding, which tile is selected.

State lives in params (shared/STYLE.md: Panel's own apps); views depend on them and never on
each other. Loading is cached per file and modification time, so switching back and forth is free.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import param

from radioexplore.fitsio import FitsImage, FitsReadError, read_image
from radioexplore.index import read_index, search
from radioexplore.rundir import RunDir
from radioexplore.tilestore import open_tile_store

log = logging.getLogger(__name__)

#: Colour-by choices offered first, in this order, when the run has them.
PREFERRED_COLOURS = ["field", "noise_rms", "dqf", "n_sources", "score", "label", "truth_kinds", "flag"]
#: Columns never offered as colours (identifiers and geometry).
HIDDEN_COLUMNS = {"tile_id", "file", "x0", "y0", "size", "x", "y", "ra", "dec", "rank", "orig_width", "orig_height"}


@lru_cache(maxsize=32)
def _read_parquet(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path)


def read_table(path: Path) -> pd.DataFrame:
    """A parquet table, cached until the file changes."""
    return _read_parquet(str(path), path.stat().st_mtime)


@lru_cache(maxsize=8)
def _index(path: str, mtime: float):
    return read_index(Path(path))


@lru_cache(maxsize=64)
def _fits(path: str) -> FitsImage | None:
    try:
        return read_image(path)
    except FitsReadError as exc:
        log.warning("cannot read %s for the tile view: %s", path, exc)
        return None


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
    n_neighbours = param.Integer(default=8, bounds=(1, 64))

    def __init__(self, run: RunDir, **params) -> None:
        super().__init__(**params)
        self.run = run
        self._frame: pd.DataFrame | None = None
        self._frame_key: tuple | None = None
        names = run.embedding_names()
        self.param.embedding.objects = names
        if self.embedding not in names:
            self.embedding = run.default_embedding()
        self._refresh_choices()

    # -- data -------------------------------------------------------------------------------
    def tiles(self) -> pd.DataFrame:
        """tiles.parquet joined with the current map coordinates and anomaly scores, one row per tile.

        Cached until the embedding, the map method or one of the files changes.
        """
        paths = [self.run.tiles_table]
        if self.embedding:
            paths += [self.run.map(self.embedding, self.map_method), self.run.scores(self.embedding)]
        key = tuple((str(p), p.stat().st_mtime if p.is_file() else None) for p in paths)
        if self._frame_key != key:
            out = read_table(self.run.tiles_table).copy()
            for path in paths[1:]:
                if path.is_file():
                    extra = read_table(path)
                    for col in extra.columns:
                        if col != "tile_id":
                            out[col] = extra[col].to_numpy()
            self._frame, self._frame_key = out, key
        return self._frame

    def colour_choices(self) -> list[str]:
        cols = [c for c in self.tiles().columns if c not in HIDDEN_COLUMNS]
        first = [c for c in PREFERRED_COLOURS if c in cols]
        return first + [c for c in cols if c not in first]

    @param.depends("embedding", watch=True)
    def _refresh_choices(self) -> None:
        methods = self.run.map_methods(self.embedding) if self.embedding else []
        self.param.map_method.objects = methods or ["umap"]
        if self.map_method not in self.param.map_method.objects:
            self.map_method = self.param.map_method.objects[0]
        choices = self.colour_choices()
        self.param.colour_by.objects = choices
        if self.colour_by not in choices:
            self.colour_by = choices[0]

    def tile_row(self, tile_id: int) -> pd.Series:
        return self.tiles().iloc[int(tile_id)]

    def tile_pixels(self, tile_id: int) -> np.ndarray:
        """The normalised tile ``[S, S]`` in [0, 1] (first channel), as the model sees it."""
        store = open_tile_store(self.run.tile_pixels)
        return np.asarray(store[int(tile_id)][0], dtype=np.float32)

    def sky_pixels(self, tile_id: int) -> tuple[np.ndarray, FitsImage] | None:
        """The tile's pixels in the source image's units (usually Jy/beam), or None if unreadable."""
        row = self.tile_row(tile_id)
        image = _fits(str(row["file"])) if Path(str(row["file"])).is_file() else None
        if image is None:
            return None
        return image.read_box(int(row["x0"]), int(row["y0"]), int(row["size"])), image

    def field_limits(self, field: str) -> tuple[float, float] | None:
        """The per-field display limits the ingest scaling used (contrast stretch lo, hi)."""
        state = self.run.stage_config("ingest").get("field_scaling", {}).get(field, {})
        if "lo" in state and "hi" in state:
            return float(state["lo"]), float(state["hi"])
        return None

    def neighbours(self, tile_id: int, k: int | None = None) -> pd.DataFrame:
        """The ``k`` nearest tiles (itself excluded) with cosine distance, from the FAISS index."""
        k = k or self.n_neighbours
        emb = self.run.read_embeddings(self.embedding)
        path = self.run.index(self.embedding)
        index = _index(str(path), path.stat().st_mtime)
        dist, ids = search(index, np.asarray(emb[int(tile_id)]), min(k + 1, len(emb)))
        hits = [(int(i), float(d)) for i, d in zip(ids[0], dist[0], strict=True) if i >= 0 and i != tile_id][:k]
        return pd.DataFrame(hits, columns=["tile_id", "distance"])

    def top_anomalies(self, n: int = 50) -> pd.DataFrame:
        """The ``n`` most anomalous tiles, rank 1 first."""
        tiles = self.tiles()
        if "rank" not in tiles.columns:
            return tiles.head(0)
        return tiles.sort_values("rank").head(n)

    def nearest_on_map(self, x: float, y: float, max_fraction: float = 0.05) -> int | None:
        """The tile whose map position is nearest to (x, y), if within ``max_fraction`` of the map's extent."""
        tiles = self.tiles()
        if "x" not in tiles.columns or x is None or y is None:
            return None
        xy = tiles[["x", "y"]].to_numpy()
        span = np.ptp(xy, axis=0)
        span[span == 0] = 1.0
        d = np.hypot(*((xy - [x, y]) / span).T)
        i = int(np.argmin(d))
        return int(tiles["tile_id"].iloc[i]) if d[i] <= max_fraction else None
