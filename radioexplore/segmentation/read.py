"""Read side of a run's diffuse-emission segmentation (``radioexplore segment``, seed 004), for the
app and the rankers: the per-field probability maps, the per-tile columns, the per-cluster R scores.

``RUN/segments/`` holds ``<field>.fits`` (float32 probability 0-1 on the field's own pixel grid,
with its WCS), ``tiles.parquet`` (``tile_id``, ``diffuse_mean``, ``diffuse_area``), optionally
``clusters.parquet`` (``name``, ``ra``, ``dec``, ``r_pix``, ``R``, ``detected``, ``threshold``,
and ``field``, ``x``, ``y`` where the cluster was scored) and ``segment.json`` (``model``,
``threshold``, ``r_threshold``, ``built_from`` or ``provenance``, ``clusters_table``). A truth per
cluster is a ``truth`` or ``diffuse`` column of clusters.parquet or, by ``name``, of the CSV cluster
table segment.json names (the simulator's ``clusters.csv`` has ``diffuse``). Paths come from
:class:`RunDir` (``segments_dir``, ``segment_meta``, ``segment_tiles``, ``segment_clusters``); a field's
map through :func:`segments_path`, which refuses a name that leaves the folder. Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.display.viewer import tile_at
from radioexplore.io.fits import FitsImage, read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.run.rundir import RunDir

#: Bins of the probability histogram the flagged area is read from (thresholds on a 0.001 grid are exact).
HIST_BINS = 1000
#: The per-tile columns ``segment`` writes, which the map may be coloured by.
TILE_COLUMNS = ("diffuse_mean", "diffuse_area")
#: Columns of a cluster table that say whether a cluster has diffuse emission, first found first.
TRUTH_COLUMNS = ("truth", "diffuse")
#: What to run when a run has no segmentation.
SEGMENT_COMMAND = "radioexplore segment --run {run}"


class SegmentsError(ValueError):
    """A segmentation artefact that cannot be used; the message names the file and what to do."""


def segments_path(run: RunDir, name: str = "") -> Path:
    """``RUN/segments/<name>`` (the folder itself for ``name=""``); ``name`` may not leave the folder."""
    if name and (Path(name).name != name or name in (".", "..")):
        raise SegmentsError(f"{name!r} is not a file name inside {run.segments_dir}")
    return run.segments_dir / name if name else run.segments_dir


@dataclass(frozen=True)
class SegmentInfo:
    """What ``segment.json`` says: the model, the pixel threshold and the R threshold it used."""

    model: str
    threshold: float
    r_threshold: float
    provenance: dict[str, Any] = field(default_factory=dict)
    clusters_table: str = ""  # the user's cluster table segment was given, if any


def segment_command(run: RunDir) -> str:
    """The command that writes ``run``'s segmentation."""
    return SEGMENT_COMMAND.format(run=run.root)


def segment_info(run: RunDir) -> SegmentInfo | None:
    """``segment.json`` of ``run``; None when the run has no segmentation. Raises SegmentsError when unreadable."""
    path = run.segment_meta
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
        model = meta.get("model", "?")
        return SegmentInfo(
            model=str(model.get("arch") or "?") if isinstance(model, dict) else str(model),
            threshold=float(meta.get("threshold", 0.5)),
            r_threshold=float(meta.get("r_threshold", meta.get("threshold", 0.5))),
            provenance=dict(meta.get("provenance") or meta.get("built_from") or {}),
            clusters_table=str(meta.get("clusters_table") or ""),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise SegmentsError(f"{path}: not a readable segment.json ({exc}); re-run {segment_command(run)}") from exc


def segment_map(run: RunDir, field_name: str) -> Path | None:
    """The probability map of one field (a tiles.parquet ``field``), or None when it has none."""
    path = segments_path(run, f"{field_name}.fits")
    return path if path.is_file() else None


def segment_tiles(run: RunDir) -> Path | None:
    """``segments/tiles.parquet`` when the run has it."""
    path = run.segment_tiles
    return path if path.is_file() else None


def segment_columns(run: RunDir, tile_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of ``segments/tiles.parquet`` (``diffuse_mean``, ``diffuse_area``, ...) aligned to
    ``tile_ids`` by ``tile_id`` (NaN for tiles it lacks); {} when the run has no segmentation."""
    path = segment_tiles(run)
    if path is None:
        return {}
    table = pd.read_parquet(path).set_index("tile_id").reindex(np.asarray(tile_ids))
    return {str(col): table[col].to_numpy() for col in table.columns}


def read_clusters(run: RunDir) -> pd.DataFrame | None:
    """``segments/clusters.parquet`` (per-cluster R scores), or None when absent."""
    path = run.segment_clusters
    if not path.is_file():
        return None
    clusters = pd.read_parquet(path)
    missing = [c for c in ("ra", "dec", "R") if c not in clusters.columns]
    if missing:
        raise SegmentsError(f"{path}: no column(s) {missing}; re-run {segment_command(run)}")
    return clusters


def cluster_truth(run: RunDir, clusters: pd.DataFrame) -> tuple[pd.Series, str] | None:
    """Whether each cluster has diffuse emission (True, False or <NA>) and where that comes from: a
    ``truth`` / ``diffuse`` column of ``clusters``, else of the CSV cluster table ``segment.json``
    names (matched by ``name``); None when neither has one."""
    for col in TRUTH_COLUMNS:
        if col in clusters.columns:
            return pd.Series(pd.array(clusters[col], dtype="boolean"), index=clusters.index), f"its {col} column"
    info = segment_info(run)
    table = Path(info.clusters_table) if info is not None and info.clusters_table else None
    if table is None or table.suffix.lower() != ".csv" or not table.is_file() or "name" not in clusters.columns:
        return None
    given = pd.read_csv(table)
    col = next((c for c in TRUTH_COLUMNS if c in given.columns), None)
    if col is None or "name" not in given.columns:
        return None
    truth = given.assign(name=given["name"].astype(str)).drop_duplicates("name").set_index("name")[col]
    values = clusters["name"].astype(str).map(truth)
    return pd.Series(pd.array(values, dtype="boolean"), index=clusters.index), f"the {col} column of {table.name}"


def cluster_tiles(run: RunDir, clusters: pd.DataFrame) -> np.ndarray:
    """The ``tile_id`` each cluster lies in: at its ``field``, ``x``, ``y`` where ``segment`` scored it,
    else at ``ra``, ``dec`` (degrees) through each field's WCS; the tile whose centre is nearest where
    tiles overlap; -1 where no tile of the run holds it."""
    out = np.full(len(clusters), -1, dtype=np.int64)
    tiles = run.read_tiles(["tile_id", "field", "file", "x0", "y0", "size"])
    if {"field", "x", "y"} <= set(clusters.columns):
        by_field = {str(f): t for f, t in tiles.groupby("field", sort=False)}
        for i, (f, x, y) in enumerate(zip(clusters["field"].astype(str), clusters["x"], clusters["y"], strict=True)):
            if f in by_field and np.isfinite(x) and np.isfinite(y):
                tile = tile_at(by_field[f], float(x), float(y))
                out[i] = -1 if tile is None else tile
        return out
    ra, dec = clusters["ra"].to_numpy(float), clusters["dec"].to_numpy(float)
    for _, field_tiles in tiles.groupby("file", sort=True):
        todo = np.flatnonzero(out < 0)
        if not len(todo):
            break
        try:
            image = read_image(str(field_tiles["file"].iloc[0]))
            x, y = image.world_to_pixel(ra[todo], dec[todo])
        except FitsReadError:  # an unreadable field, or one without WCS, holds no position
            continue
        for i, xi, yi in zip(todo, x, y, strict=True):
            if np.isfinite(xi) and np.isfinite(yi):
                tile = tile_at(field_tiles, float(xi), float(yi))
                out[i] = -1 if tile is None else tile
    return out


def probability_histogram(image: FitsImage, bins: int = HIST_BINS, strip_px: int = 4096) -> np.ndarray:
    """Counts of a probability map's finite pixels in ``bins`` equal bins over [0, 1] (values clipped),
    read in strips of ``strip_px`` rows so any size fits in memory; bin i holds [i/bins, (i+1)/bins)."""
    counts = np.zeros(bins, dtype=np.int64)
    for y0 in range(0, image.ny, strip_px):
        block = image.read_box(0, y0, image.nx, min(strip_px, image.ny - y0))
        values = block[np.isfinite(block)]
        index = np.clip((np.clip(values, 0.0, 1.0) * bins).astype(np.int64), 0, bins - 1)
        counts += np.bincount(index, minlength=bins)
    return counts


def area_above(counts: np.ndarray, threshold: float) -> float:
    """Fraction of the pixels counted by :func:`probability_histogram` at or above ``threshold``
    (exact for thresholds on the bins' edges, else to one bin)."""
    total = counts.sum()
    first = int(np.ceil(threshold * len(counts) - 1e-6))
    return float(counts[max(first, 0) :].sum() / total) if total else 0.0


def flagged_area(run: RunDir, threshold: float) -> pd.DataFrame:
    """Per field with a probability map: its pixels and the fraction at or above ``threshold``."""
    rows = []
    for path in sorted(segments_path(run).glob("*.fits")):
        counts = probability_histogram(read_image(path))
        rows.append((path.stem, int(counts.sum()), area_above(counts, threshold)))
    return pd.DataFrame(rows, columns=["field", "pixels", "flagged_fraction"])
