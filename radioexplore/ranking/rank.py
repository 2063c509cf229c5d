"""Ranking a run's tiles into ``scores/<name>.parquet``: the forest on the standardised embedding, without
the flagged tiles, then the artefact axis and the ranking method.

Two things an astronomer does not hunt are the easiest for a forest to isolate, so by default they
are taken out before it looks: a field observed differently (each field is standardised on its own,
:mod:`radioexplore.ranking.standardise`) and tiles cut by an image border (left out,
:mod:`radioexplore.ranking.exclusion`). With both, recall of peculiar tiles in the top 2% of a
simulated 24-field survey (6144 tiles, 47 peculiar) rose to 28% (ViT, was 2%) and 48% (pixel
statistics, was 32%), over 4 forest seeds. With ``top_k`` the forest sees only the features a
LightGBM classifier of the labelled tiles finds most telling (:mod:`radioexplore.ranking.selection`,
seed 002); ``RankConfig.method`` (:mod:`radioexplore.ranking.peculiar`) turns the forest's score into
the ranking.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.ranking.artefact_run import add_artefact_columns, cached_artefact_features
from radioexplore.ranking.artefacts import ArtefactConfig
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.exclusion import exclusion_mask, flags_to_exclude
from radioexplore.ranking.forest import isolation_forest, ranks_of
from radioexplore.ranking.peculiar import (
    method_named,
    peculiarity,
    quantile_among,
    run_objects,
    tile_best_objects,
    why_column,
)
from radioexplore.ranking.selection import FeatureSelection, interesting_from_labels, select_features
from radioexplore.ranking.standardise import STAT_ROWS, FieldStandardisation, field_groups, fit_scaling
from radioexplore.run.atomic import write_parquet
from radioexplore.run.errors import RunDirError
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.schema import is_stamps_run

log = logging.getLogger(__name__)


def rank_embeddings(
    emb: np.ndarray,
    config: RankConfig = RankConfig(),
    labels: pd.DataFrame | None = None,
    exclude: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    scaling: FieldStandardisation | None = None,
) -> tuple[pd.DataFrame, FeatureSelection | None]:
    """Score every row of ``emb``: a frame of ``tile_id, score, rank, outlier`` and the feature selection used.

    ``labels`` (the current labels, :meth:`LabelStore.current`) is needed when ``config.top_k`` is set.
    Rows where ``exclude`` is True (e.g. blank and partial tiles, see :class:`RankConfig`) are left
    out of the forest, scored 0 and ranked last: a crop of blanked sky beyond the primary beam, or
    one cut by it, is the easiest thing to isolate and among the least interesting (on a simulated
    survey they filled the top of the list).

    ``groups`` (one label per row, e.g. each tile's field) are the groups of ``config.standardise
    = "field"``; without them the run is one group. The LightGBM feature selection and the forest
    both see the standardised embedding. ``scaling``: statistics fitted beforehand with
    :func:`fit_scaling` (``rank_run`` does, to record them), used instead of ``groups``.
    """
    n = len(emb)
    for name, arr in (("exclude", exclude), ("groups", groups)):
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} entries for {n} embedding rows")
    keep = np.ones(n, dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
    if not keep.any():
        raise ValueError("every tile is excluded from the ranking (all blank or partial?); nothing to rank")
    if scaling is None:
        scaling = fit_scaling(emb, config.standardise, groups, keep, config.min_group, config.seed)
    selection = None
    cols = None
    if config.top_k:
        if labels is None:
            raise ValueError("ranking on the top-k features needs the current labels of the run")
        ids, y = interesting_from_labels(labels, config.selection.interesting)
        selection = select_features(scaling.transform(emb, ids), np.arange(len(ids)), y, config.top_k, config.selection)
        cols = np.sort(selection.indices)
        for note in selection.notes:
            log.warning("feature selection: %s", note)
    x = scaling.transform(emb, None if keep.all() else np.flatnonzero(keep), cols)
    scores = np.zeros(n, dtype=np.float32)
    kept, threshold = isolation_forest(x, config)
    scores[keep] = kept
    df = pd.DataFrame(
        {
            "tile_id": np.arange(n),
            "score": scores,
            "rank": ranks_of(np.where(keep, scores, -1.0)),
            "outlier": keep & (scores >= threshold),
        }
    )
    return df, selection


def rank_run(run: RunDir, name: str, config: RankConfig = RankConfig(), labels: pd.DataFrame | None = None) -> Path:
    """Score every tile of ``embeddings/<name>`` into ``scores/<name>.parquet`` (tile_id, score, rank, outlier,
    and the artefact axis: ``artefact_score`` and its features, :mod:`radioexplore.ranking.artefacts`).

    With ``config.top_k`` the forest sees only the top-k LightGBM features, learnt from ``labels``
    or, when None, from the current labels in the run's label store. Tiles flagged in
    ``config.exclude_flags`` are ranked last, except 'partial' in a stamps run or where most tiles
    are partial (:func:`flags_to_exclude`); with ``standardise="field"`` the groups are the
    ``field`` column of tiles.parquet. run.toml records the config, the flags applied, the tiles
    excluded per flag and how many fields had their own statistics.

    ``config.method`` (:data:`radioexplore.ranking.peculiar.METHODS`) turns the forest's score (kept
    as ``anomaly_score``) into ``score``/``rank``: by default max(anomaly quantile x (1 - artefact
    score), object quantile), each object discounted by its own artefact score, the objects read
    from ``objects.parquet`` or found now; ``why`` says in
    words what put each tile there. The artefact features are cached in ``artefacts.parquet``, the
    per-field standardisation in ``scores/<name>.scaling.npz`` (:func:`ranking_context` reads it).
    """
    method = method_named(config.method)
    if method.top_k and not config.top_k:
        config = replace(config, top_k=method.top_k)
    if config.top_k and labels is None:
        if not run.labels_db.is_file():
            raise RunDirError(
                f"{run.labels_db} does not exist: ranking on the top-{config.top_k} features needs labelled "
                f"tiles; label some (`radioexplore label --run {run.root} ...`) or rank without --top-k"
            )
        labels = LabelStore.for_run(run).current()
    run.check_consistent(name, stages=("ingest", "embed"))
    built_from = run.provenance(name)
    emb = run.read_embeddings(name)
    tiles = run.read_tiles()
    if len(tiles) != len(emb):
        raise RunDirError(f"embeddings/{name} has {len(emb)} rows for {len(tiles)} tiles: re-run `radioexplore embed`")
    flags, notes, exclude, scaling = _forest_inputs(run, tiles, emb, config)
    scaling.save(run.rank_scaling(name), _scaling_meta(built_from, config))  # for the re-ranker (ranking_context)
    df, selection = rank_embeddings(emb, config, labels, exclude, scaling=scaling)
    artefact_config = ArtefactConfig(source_by_ripple=config.artefact_source_by_ripple)
    df = add_artefact_columns(df, cached_artefact_features(run, artefact_config))  # the artefact axis, beside the score
    df, method_notes = _apply_method(run, tiles, df, exclude, method)
    notes += method_notes
    write_parquet(df, run.scores(name))
    record = dict(asdict(config), embedding=name, n=len(df), n_outliers=int(df["outlier"].sum()))
    record["built_from"] = built_from
    record["exclude_flags_applied"] = list(flags)
    record["n_excluded"] = int(exclude.sum()) if exclude is not None else 0
    if exclude is not None:
        record["n_excluded_by_flag"] = {
            f: int(v) for f, v in tiles.loc[exclude, "flag"].astype(str).value_counts().items()
        }
    record["standardisation"] = scaling.to_record()
    if notes:
        record["notes"] = notes
    if selection is not None:
        record["selection_result"] = selection.to_record()
    run.record("rank", record, key=name)
    log.info(
        "ranked %d tiles of %s by method %s (%d excluded: %s; standardised: %s)",
        len(df),
        name,
        config.method,
        record["n_excluded"],
        ", ".join(flags) or "none",
        config.standardise,
    )
    for note in notes:
        log.warning(note)
    return run.scores(name)


def _apply_method(
    run: RunDir, tiles: pd.DataFrame, df: pd.DataFrame, exclude: np.ndarray | None, method
) -> tuple[pd.DataFrame, list[str]]:
    """``df`` (the forest's scores with the artefact columns) re-scored by ``method``: the forest's
    score kept as ``anomaly_score``, ``object_score`` (its most peculiar object's, 0 for none),
    ``score``/``rank`` of the method and ``why`` in words."""
    keep = np.ones(len(df), dtype=bool) if exclude is None else ~np.asarray(exclude, dtype=bool)
    notes: list[str] = []
    objects, best, object_score, object_q = None, None, None, None
    if method.objects:
        objects, why_not = run_objects(run, tiles)
        if why_not:
            notes.append(why_not)
    if objects is not None:
        best = tile_best_objects(objects, len(df), method.object_column)
        column = objects[method.object_column].to_numpy(dtype=np.float32)
        object_score = np.where(best >= 0, column[np.maximum(best, 0)], 0.0)
        object_q = quantile_among(object_score, keep)
    df = df.assign(anomaly_score=df["score"].to_numpy())
    if object_score is not None:
        df["object_score"] = object_score.astype(np.float32)
    if method.objects or method.artefacts:
        art = df["artefact_score"].to_numpy(dtype=float) if "artefact_score" in df else None
        has_object = None if best is None else best >= 0
        df["score"] = peculiarity(df["anomaly_score"].to_numpy(), object_score, art, keep, method, has_object)
        df["rank"] = ranks_of(np.where(keep, df["score"].to_numpy(), -1.0))
    anomaly_q = quantile_among(df["anomaly_score"].to_numpy(), keep)
    df["why"] = why_column(anomaly_q, object_q, best, objects, df, keep, method)
    return df, notes


def _forest_inputs(
    run: RunDir,
    tiles: pd.DataFrame,
    emb: np.ndarray,
    config: RankConfig,
    scaling: FieldStandardisation | None = None,
) -> tuple[tuple[str, ...], list[str], np.ndarray | None, FieldStandardisation]:
    """What :func:`rank_run` hands the forest besides the embedding: the flags left out (and why any
    was kept), the excluded tiles and the standardisation fitted on the rest (``scaling`` when given)."""
    stamps = is_stamps_run(run)
    flags, notes = flags_to_exclude(tiles["flag"].to_numpy() if "flag" in tiles else None, config.exclude_flags, stamps)
    exclude = exclusion_mask(tiles, flags)
    keep = None if exclude is None else ~exclude
    if keep is not None and not keep.any():
        raise ValueError(
            f"every tile is flagged {' or '.join(flags)}; nothing to rank (try --exclude-flags with fewer flags)"
        )
    if scaling is None:
        groups = field_groups(tiles) if config.standardise == "field" else None
        scaling = fit_scaling(emb, config.standardise, groups, keep, config.min_group, config.seed)
    return flags, notes, exclude, scaling


def _scaling_meta(built_from: dict, config: RankConfig) -> dict:
    """What a saved standardisation was fitted from: the tiles and embedding (``run.provenance``) and
    the settings of :func:`fit_scaling` and of the exclusions; a cache that differs is refitted."""
    settings = {k: getattr(config, k) for k in ("exclude_flags", "standardise", "min_group", "seed")}
    return {
        "built_from": built_from,
        "settings": {**settings, "exclude_flags": list(config.exclude_flags)},
        "stat_rows": STAT_ROWS,
    }


def scaling_cache_problem(run: RunDir, name: str, config: RankConfig) -> str | None:
    """Why ``scores/<name>.scaling.npz`` cannot stand for the standardisation ``config`` would fit now
    (absent, another embedding or ingest, other settings), or None when it can."""
    path = run.rank_scaling(name)
    if not path.is_file():
        return f"{path} does not exist"
    try:
        meta = FieldStandardisation.saved_meta(path)
    except (OSError, ValueError, KeyError) as exc:
        return f"{path} cannot be read ({exc})"
    want = _scaling_meta(run.provenance(name), config)
    if meta.get("built_from") != want["built_from"]:
        return f"{path} was fitted to another embedding or ingest"
    if meta != want:
        return f"{path} was fitted with other settings ({meta.get('settings')}, now {want['settings']})"
    return None


def ranking_context(
    run: RunDir, name: str, tiles: pd.DataFrame | None = None, emb: np.ndarray | None = None
) -> tuple[FieldStandardisation, np.ndarray | None]:
    """The standardisation and the excluded tiles of the last ``rank`` of ``embeddings/<name>``.

    Derived as :func:`rank_run` derived them, from the settings run.toml recorded for it (the
    defaults when there is no record), so that what learns from labels sees the embedding as the
    forest saw it: standardised per field, without the blank and partial tiles. Returns
    ``(scaling, exclude)``; ``exclude`` is None when no tile was left out. ``tiles`` and ``emb``:
    the run's tiles table and embeddings when the caller has them already.

    The standardisation is read from ``scores/<name>.scaling.npz``, which ``rank`` wrote, when that was
    fitted to the present embedding with these settings (:func:`scaling_cache_problem`); otherwise it
    is refitted (2 s of CPU at 10^5 tiles) and written there for the next session.
    """
    record = run.stage_config("rank", name)
    d = RankConfig()
    config = RankConfig(
        exclude_flags=tuple(record.get("exclude_flags", d.exclude_flags)),
        standardise=str(record.get("standardise", d.standardise)),
        min_group=int(record.get("min_group", d.min_group)),
        seed=int(record.get("seed", d.seed)),
    )
    tiles = run.read_tiles() if tiles is None else tiles
    emb = run.read_embeddings(name) if emb is None else emb
    problem = scaling_cache_problem(run, name, config)
    cached = FieldStandardisation.load(run.rank_scaling(name)) if problem is None else None
    if cached is not None and cached.row_stats is not None and len(cached.row_stats) != len(emb):
        cached, problem = None, f"{run.rank_scaling(name)} holds {len(cached.row_stats)} tiles, not {len(emb)}"
    _, _, exclude, scaling = _forest_inputs(run, tiles, emb, config, cached)
    if cached is None:
        log.info("standardisation refitted (%s)", problem)
        try:
            scaling.save(run.rank_scaling(name), _scaling_meta(run.provenance(name), config))
        except (OSError, RunDirError) as exc:  # a read-only run: refit again next session
            log.warning("could not keep the standardisation in %s: %s", run.rank_scaling(name), exc)
    if exclude is not None and not exclude.any():
        exclude = None
    return scaling, exclude
