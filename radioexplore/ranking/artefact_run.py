"""The artefact axis of a run: every tile's artefact features and score, cached in ``artefacts.parquet``.

Reads each field's Jy/beam pixels from the FITS file the tiles table names and measures its tiles
with :mod:`radioexplore.ranking.artefacts`; the cache records the tiles' provenance and the
constants, so a re-ingest or other constants make it stale.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radioexplore.ranking.artefacts import (
    BEAM_AREA_FWHM2,
    FEATURES,
    ArtefactConfig,
    artefact_score,
    field_artefact_features,
)
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)


def artefact_features_run(run: RunDir, config: ArtefactConfig | None = None, progress: bool = False) -> pd.DataFrame:
    """:data:`FEATURES` and ``artefact_score`` for every tile of ``run``: one row per tile, with ``tile_id``.

    Reads each field's Jy/beam pixels once from the FITS file the tiles table names (the normalised
    pixels of ``tiles.zarr`` have lost the troughs); the restoring beam comes from the header
    (``config.beam_px`` when it has none). A field whose file cannot be read any more gets NaN
    features and a warning naming the file, and the other fields are scored.
    """
    config = config or ArtefactConfig()
    from tqdm.auto import tqdm

    from radioexplore.io.fits import FitsReadError, read_image

    tiles = run.read_tiles()
    out = pd.DataFrame(index=tiles.index, columns=list(FEATURES), dtype=float)
    lacking = [c for c in ("file", "x0", "y0", "size") if c not in tiles.columns]
    if lacking:
        log.warning("artefact axis: %s has no %s column; no tile gets an artefact score", run.tiles_table, lacking)
        tiles = tiles.assign(file="")
    if "dqf" not in tiles.columns:
        tiles = tiles.assign(dqf=pd.NA)
    for file, group in tqdm(
        tiles.groupby("file", sort=False), desc="artefact axis", unit="field", disable=not progress
    ):
        if not str(file).strip():  # tiles with no source image (a synthetic run): nothing to measure
            continue
        try:
            image = read_image(file)
            pixels = image.read()
        except (FitsReadError, OSError) as exc:
            log.warning(
                "artefact axis: %s cannot be read (%s); its %d tiles get no artefact score", file, exc, len(group)
            )
            continue
        beam_px = config.beam_px
        if image.beam is not None and image.pixel_arcsec:
            beam_px = float(np.sqrt(image.beam.area_pixels(image.pixel_arcsec) / BEAM_AREA_FWHM2))
        dqfs = group["dqf"].dropna()
        dqf = int(dqfs.iloc[0]) if len(dqfs) else None
        out.loc[group.index] = field_artefact_features(pixels, group, beam_px, dqf, config).to_numpy()
    out.insert(0, "tile_id", tiles["tile_id"].to_numpy())
    out["artefact_score"] = artefact_score(out, config)
    return out


def add_artefact_columns(scores: pd.DataFrame, artefacts: pd.DataFrame) -> pd.DataFrame:
    """``scores`` (one row per tile, with ``tile_id``) with ``artefact_score`` and the features added
    (prefixed ``artefact_`` where the feature's own name does not say so), matched on ``tile_id``."""
    cols = {c: (c if c.startswith("artefact") else f"artefact_{c}") for c in artefacts.columns if c != "tile_id"}
    extra = artefacts.rename(columns=cols).set_index("tile_id")
    base = scores.drop(columns=[c for c in cols.values() if c in scores.columns])
    return base.join(extra, on="tile_id")


def artefact_cache_problem(run: RunDir, config: ArtefactConfig | None = None) -> str | None:
    """Why the cached ``artefacts.parquet`` of ``run`` cannot be reused (absent, other tiles, other
    constants), or None when it can."""
    config = config or ArtefactConfig()
    from radioexplore.run.provenance import read_parquet_meta

    path = run.artefact_features
    if not path.is_file():
        return f"{path} does not exist"
    meta = read_parquet_meta(path)
    import pyarrow.parquet as pq

    lacking = [c for c in FEATURES if c not in pq.read_schema(path).names]
    if lacking:
        return f"{path} has no {', '.join(lacking)} (written by an older version)"
    if meta.get("built_from") != run.provenance():
        return f"{path} was built from other tiles (built from {meta.get('built_from')}, now {run.provenance()})"
    if meta.get("config") != config_record(config):
        return f"{path} was built with other artefact constants"
    return None


def config_record(config: ArtefactConfig) -> dict:
    """The constants a cache records: ``source_by_ripple`` only when on, so the caches written before the
    option existed stay valid for the default."""
    from dataclasses import asdict

    record = asdict(config)
    if not record.get("source_by_ripple"):
        record.pop("source_by_ripple", None)
    return record


def cached_artefact_features(run: RunDir, config: ArtefactConfig | None = None) -> pd.DataFrame:
    """:func:`artefact_features_run`, read from ``run.artefact_features`` when that was built from the
    run's present tiles with the same constants, else computed and written there (atomically, with
    the tiles' provenance, so a re-ingest makes it stale)."""
    config = config or ArtefactConfig()
    from radioexplore.run.atomic import write_parquet

    problem = artefact_cache_problem(run, config)
    if problem is None:
        return pd.read_parquet(run.artefact_features)
    log.info("artefact axis: computing (%s)", problem)
    out = artefact_features_run(run, config)
    write_parquet(out, run.artefact_features, meta={"built_from": run.provenance(), "config": config_record(config)})
    return out
