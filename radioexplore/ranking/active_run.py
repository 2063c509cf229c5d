"""The active ranking of a run: its labels in, ``run.active_scores(name)`` out, and read back."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.run.atomic import write_parquet
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: Labels that call a tile an instrumental artefact: their look-alikes sink (:meth:`ActiveRanker.rerank`).
ARTEFACT_LABELS = frozenset({"ARTEFACT", "MOSAICKING"})


def artefact_labelled(current: pd.DataFrame) -> np.ndarray:
    """Tile ids whose current labels (:meth:`LabelStore.current`) include ARTEFACT or MOSAICKING."""
    has = current["labels"].map(lambda labs: bool(ARTEFACT_LABELS & set(labs)))
    return current.loc[has, "tile_id"].to_numpy(dtype=np.int64)


def rerank_run(
    run: RunDir, name: str, config: ActiveConfig = ActiveConfig(), interest: pd.Series | None = None
) -> Path:
    """Re-rank ``scores/<name>.parquet`` with the run's current interest scores into ``run.active_scores(name)``."""
    if interest is None:
        interest = LabelStore.for_run(run).interest_scores() if run.labels_db.is_file() else pd.Series(dtype=float)
    run.check_consistent(name, stages=("ingest", "embed", "rank"))
    built_from = run.provenance(name)
    artefacts = artefact_labelled(LabelStore.for_run(run).current()) if run.labels_db.is_file() else ()
    ranking = ActiveRanker.from_run(run, name, config).rerank(interest, artefacts)
    return save_active(run, name, ranking, config, built_from)


def save_active(
    run: RunDir, name: str, ranking: pd.DataFrame, config: ActiveConfig, built_from: dict | None = None
) -> Path:
    """Write ``ranking`` (:meth:`ActiveRanker.rerank`) atomically as ``run.active_scores(name)`` with its
    ``rerank`` record, so the app, the CLI and ``export --ranking active`` share one active ranking."""
    built_from = run.provenance(name) if built_from is None else built_from
    write_parquet(ranking, run.active_scores(name))
    n_labelled = int(ranking["labelled"].sum())
    record = dict(asdict(config), embedding=name, n_labelled=n_labelled, built_from=built_from)
    run.record("rerank", record, key=name)
    log.info("re-ranked %d tiles of %s from %d interest scores", len(ranking), name, n_labelled)
    return run.active_scores(name)


def read_active(run: RunDir, name: str) -> pd.DataFrame:
    """The latest re-ranking of ``name``; raises FileNotFoundError with the command that makes it."""
    path = run.active_scores(name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `radioexplore rerank --run {run.root} --name {name}`")
    return pd.read_parquet(path)
