"""Anomaly ranking of tiles with an Isolation Forest over their embeddings, optionally over the
features a gradient-boosted classifier finds most telling of interesting tiles.

Riggi et al. 2024 (seed 002, sec. 5.2) search for peculiar frames with an Isolation Forest
(Liu et al. 2008) of 200 trees; max_samples 0.02 and contamination 0.001 worked best on their
annotated data. Because a self-supervised representation also encodes what does not matter for
the search (noise level, image borders, artefacts), they first train a LightGBM classifier of
"interesting" frames (EXTENDED, DIFFUSE, DIFFUSE-LARGE) against the other labelled frames with
shallow trees (max_depth 2, num_leaves 32, min_data_in_leaf 20) and run the forest on the top-k
features by importance only (top-2 to top-15; top-5 and top-10 did best, their Table 4).

Two things an astronomer does not hunt are the easiest for a forest to isolate, so by default
they are taken out before it looks (both measured on a simulated 24-field survey of 6144 tiles
with 47 peculiar ones, recall of peculiar tiles in the top 2%):

- *fields*: a field observed with another beam or noise texture shifts every embedding column of
  all its tiles, and the forest's top 2% were all tiles of that one field (ViT: 2.1% recall).
  :func:`fit_scaling` therefore standardises each embedding column robustly (median, IQR/1.349)
  per field (``RankConfig.standardise = "field"``), so a tile is judged against its own field;
- *image borders*: a tile cut by the primary-beam blanking ('partial') is isolated by its border,
  not by what it shows; once fields were standardised, partial tiles filled 57-91 of the top 123.
  Tiles whose ``flag`` is in ``RankConfig.exclude_flags`` ('blank', 'partial') are left out
  (partial ones are kept where they are most of the tiles, see :func:`flags_to_exclude`).

With both, recall in the top 2% rose to 28% (ViT, was 2%) and 48% (pixel statistics, was 32%),
over 4 forest seeds.

The score is Liu's anomaly score ``s = 2^(-E[h]/c(n))`` in (0, 1) (1 = isolated at once, about
0.5 = ordinary), the scale on which seed 002 quotes its thresholds (0.66-0.75); rank 1 is the
most anomalous tile. ``contamination`` sets the fraction flagged in the ``outlier`` column.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.labels import INTERESTING, LabelStore
from radioexplore.ranking.artefacts import add_artefact_columns, cached_artefact_features
from radioexplore.ranking.peculiar import (
    method_named,
    peculiarity,
    quantile_among,
    run_objects,
    tile_best_objects,
    why_column,
)
from radioexplore.rundir import RunDir, RunDirError, write_parquet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureSelectConfig:
    """LightGBM feature ranking of seed 002, sec. 5.2: interesting vs ordinary labelled tiles."""

    interesting: tuple[str, ...] = tuple(sorted(INTERESTING))  # seed 002: EXTENDED, DIFFUSE, DIFFUSE-LARGE; + PECULIAR
    max_depth: int = 2  # seed 002, sec. 5.2: shallow trees
    num_leaves: int = 32  # seed 002: LightGBM default
    min_data_in_leaf: int = 20  # seed 002: LightGBM default; lowered for small label sets (see notes)
    n_rounds: int = 200  # most boosting rounds; early stopping on a validation split picks fewer
    learning_rate: float = 0.1  # LightGBM default
    validation_fraction: float = 0.2  # seed 002: "a subset ... reserved ... for model training early stop"
    early_stopping_rounds: int = 20
    importance: str = "gain"  # LightGBM importance_type: "gain" or "split"
    seed: int = 0


#: The values of tiles.parquet's ``flag`` column (:func:`radioexplore.ingest.tile_flag`).
TILE_FLAGS = ("ok", "partial", "blank")
#: How embedding columns are standardised before the forest (:func:`fit_scaling`).
STANDARDISE = ("none", "global", "field")
#: Robust statistics of a group are taken from at most this many of its rows (a seeded sample).
STAT_ROWS = 50_000


@dataclass(frozen=True)
class RankConfig:
    """How :func:`rank_run` ranks tiles; recorded in run.toml under ``stages.rank.<embedding>``.

    ``exclude_flags``: tiles whose ``flag`` is one of these get score 0, rank last and are left out
    of the forest (and of the standardisation statistics). 'blank' tiles (no finite pixels) are
    the easiest thing to isolate; a 'partial' tile, cut by the image edge or the primary-beam
    blanking, is isolated by its border rather than by its sources (on a simulated survey partial
    tiles filled half or more of the top 2%). Give ``("blank",)`` to rank partial tiles too.
    :func:`rank_run` ranks partial tiles after all in a stamps run (there 'partial' marks a stamp
    padded to the tile) and where they are most of the tiles (see :func:`flags_to_exclude`).

    ``standardise``: "field" (default) scales each embedding column by robust statistics (median,
    IQR/1.349) of the tile's own field, so that a field with another beam or noise level does not
    stand out as a whole; fields with fewer than ``min_group`` ranked tiles use the statistics of
    the whole run. "global" uses the run's statistics for every tile (an Isolation Forest and
    LightGBM are indifferent to a per-column affine map, so it ranks as "none" does, up to float
    rounding); "none" leaves the embedding as it is.
    """

    n_estimators: int = 200  # seed 002, sec. 5.2
    max_samples: float = 0.02  # seed 002, sec. 5.2: fraction of tiles per tree
    min_samples: int = 64  # floor on samples per tree, so small runs still grow useful trees
    contamination: float | str = 0.001  # seed 002; sets the fraction flagged `outlier`, not the score
    score_scale: str = "liu"  # "liu": Liu et al. 2008 score in (0, 1); "minmax": stretched to [0, 1]
    top_k: int | None = None  # None: every embedding dimension; else the top-k LightGBM features (seed 002: 5-10)
    exclude_flags: tuple[str, ...] = ("blank", "partial")  # left out of the forest, score 0, ranked last
    standardise: str = "field"  # "none" | "global" | "field": robust per-column scaling before the forest
    min_group: int = 32  # standardise="field": a field with fewer ranked tiles uses the run's statistics
    selection: FeatureSelectConfig = field(default_factory=FeatureSelectConfig)
    seed: int = 0
    method: str = "peculiar"  # rank_run's ranker by name, radioexplore.ranking.peculiar.METHODS

    def __post_init__(self) -> None:
        method_named(self.method)
        check_standardise(self.standardise)
        object.__setattr__(self, "exclude_flags", check_flags(self.exclude_flags))
        if self.min_group < 1:
            raise ValueError(f"min_group must be at least 1, not {self.min_group}")


def check_standardise(value: str) -> str:
    if value not in STANDARDISE:
        raise ValueError(f"standardise must be one of {', '.join(map(repr, STANDARDISE))}; got {value!r}")
    return value


def check_flags(flags) -> tuple[str, ...]:
    """``flags`` as a tuple of known tile flags; a bare string or an unknown flag raises ValueError."""
    if isinstance(flags, str):
        raise ValueError(f"exclude_flags must be a tuple of tile flags such as ('blank', 'partial'), not {flags!r}")
    flags = tuple(flags)
    unknown = [f for f in flags if f not in TILE_FLAGS]
    if unknown:
        raise ValueError(f"exclude_flags: unknown tile flag(s) {unknown}; choose from {', '.join(TILE_FLAGS)}")
    return flags


def parse_flags(text: str) -> tuple[str, ...]:
    """A comma-separated flag list as the command line gives it: 'blank,partial' -> ('blank', 'partial');
    'none' or '' -> (). Not checked here: :class:`RankConfig` (or :func:`check_flags`) says what is wrong."""
    flags = tuple(f.strip() for f in text.split(",") if f.strip())
    return () if flags == ("none",) else flags


def exclusion_mask(tiles: pd.DataFrame, flags: tuple[str, ...]) -> np.ndarray | None:
    """Tiles whose ``flag`` is one of ``flags`` (None when nothing is excluded or there is no flag column)."""
    if not flags or "flag" not in tiles:
        return None
    return tiles["flag"].astype(str).isin(check_flags(flags)).to_numpy()


def flags_to_exclude(
    flag: np.ndarray | None, flags: tuple[str, ...], stamps: bool = False
) -> tuple[tuple[str, ...], list[str]]:
    """The flags :func:`rank_run` leaves out of a run whose tiles carry ``flag``, and why any was kept.

    'partial' is ranked after all (i) in a stamps run, where it marks a stamp padded to the tile
    and each stamp is an object the user chose, and (ii) when partial tiles are more than half of
    the tiles that are not blank: with images a few tiles across, nearly every tile touches the
    border, a border is then the rule rather than what isolates a tile, and leaving them out would
    drop most of the survey from the ranking.
    """
    flags = check_flags(flags)
    if "partial" not in flags or flag is None:
        return flags, []
    flag = np.asarray(flag).astype(str)
    why = None
    if stamps:
        why = "stamps run: 'partial' marks a stamp padded to the tile, so partial stamps are ranked"
    else:
        n_partial, n_seen = int((flag == "partial").sum()), int((flag != "blank").sum())
        if n_partial > n_seen / 2:
            why = (
                f"{n_partial} of the {n_seen} tiles that are not blank are partial (images a few tiles across): "
                "partial tiles are ranked"
            )
    if why is None:
        return flags, []
    return tuple(f for f in flags if f != "partial"), [why]


def field_groups(tiles: pd.DataFrame) -> np.ndarray | None:
    """The ``field`` of each tile, the groups :func:`fit_scaling` standardises by (None without the column)."""
    return tiles["field"].astype(str).to_numpy() if "field" in tiles else None


@dataclass
class FeatureSelection:
    """The outcome of :func:`select_features`: chosen columns, importances and what was adapted."""

    indices: np.ndarray  # the top-k embedding columns, most important first
    importance: np.ndarray  # importance of every column
    n_labelled: int
    n_interesting: int
    min_data_in_leaf: int  # the value used (may be below the configured one, see notes)
    rounds: int  # boosting rounds kept
    validation_f1: float | None  # F1 of interesting frames on the validation split (seed 002: 75.3%)
    notes: list[str] = field(default_factory=list)

    def to_record(self) -> dict:
        return {
            "features": [int(i) for i in self.indices],
            "n_labelled": self.n_labelled,
            "n_interesting": self.n_interesting,
            "min_data_in_leaf_used": self.min_data_in_leaf,
            "rounds": self.rounds,
            "validation_f1": self.validation_f1,
            "notes": self.notes,
        }


def isolation_scores(emb: np.ndarray, config: RankConfig = RankConfig()) -> np.ndarray:
    """Anomaly score in [0, 1] per row of ``emb`` (1 = easiest to isolate); see :func:`isolation_forest`."""
    return isolation_forest(emb, config)[0]


def isolation_forest(emb: np.ndarray, config: RankConfig = RankConfig()) -> tuple[np.ndarray, float]:
    """Fit an Isolation Forest on the rows of ``emb``; returns (score per row, outlier threshold on that score).

    Rows scoring at or above the threshold are the ``contamination`` fraction the forest flags.
    """
    from sklearn.ensemble import IsolationForest  # imported here: the CLI builds its parser without sklearn

    x = np.asarray(emb, dtype=np.float32)
    n = len(x)
    samples = int(min(n, max(config.min_samples, round(config.max_samples * n))))
    forest = IsolationForest(
        n_estimators=config.n_estimators,
        max_samples=samples,
        contamination=config.contamination,
        random_state=config.seed,
        n_jobs=-1,
    )
    forest.fit(x)
    raw = -forest.score_samples(x)  # Liu's s(x, n) in (0, 1)
    threshold = float(-forest.offset_)
    if config.score_scale == "liu":
        return raw.astype(np.float32), threshold
    if config.score_scale != "minmax":
        raise ValueError(f"score_scale must be 'liu' or 'minmax', not {config.score_scale!r}")
    lo, hi = raw.min(), raw.max()
    span = hi - lo if hi > lo else 1.0
    return ((raw - lo) / span).astype(np.float32), float((threshold - lo) / span)


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest score; ties broken by tile id."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def interesting_from_labels(current: pd.DataFrame, interesting: tuple[str, ...] | frozenset[str] = INTERESTING):
    """Tile ids with at least one label, and whether any of their labels is interesting (seed 002, sec. 5.2)."""
    has = current[current["labels"].map(len) > 0]
    wanted = set(interesting)
    y = has["labels"].map(lambda labs: bool(wanted & set(labs))).to_numpy(dtype=bool)
    return has["tile_id"].to_numpy(dtype=np.int64), y


def select_features(
    emb: np.ndarray, tile_ids: np.ndarray, interesting: np.ndarray, k: int, config: FeatureSelectConfig
) -> FeatureSelection:
    """Rank embedding columns by the importance a LightGBM classifier of interesting tiles gives them.

    Parameters
    ----------
    emb
        ``[N, D]`` embeddings of the whole run.
    tile_ids, interesting
        The labelled tiles and whether each is interesting (see :func:`interesting_from_labels`).
    k
        How many columns to keep (seed 002 tried 2, 5, 10 and 15).

    Seed 002 had 5800 labelled frames; with a few dozen, LightGBM's ``min_data_in_leaf=20`` would
    forbid every split, so it is lowered to a quarter of the smaller group (at least 2), and the
    validation split for early stopping is only made when each group has 10 tiles or more. Both
    adaptations are written in ``notes``.
    """
    import lightgbm as lgb

    tile_ids = np.asarray(tile_ids, dtype=np.int64)
    y = np.asarray(interesting, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos < 2 or n_neg < 2:
        raise ValueError(
            f"top-k feature selection needs at least 2 labelled tiles in each group; have {n_pos} interesting "
            f"({', '.join(config.interesting)}) and {n_neg} ordinary. Label more tiles, or rank without --top-k"
        )
    d = emb.shape[1]
    if not 1 <= k <= d:
        raise ValueError(f"top_k={k} must lie between 1 and the embedding dimension {d}")
    x = np.asarray(emb[np.sort(tile_ids)], dtype=np.float32)[np.argsort(np.argsort(tile_ids))]
    notes: list[str] = []
    minority = min(n_pos, n_neg)
    leaf = config.min_data_in_leaf
    if 2 * leaf > minority:
        leaf = max(2, minority // 4)
        notes.append(
            f"min_data_in_leaf lowered from {config.min_data_in_leaf} (seed 002) to {leaf}: only "
            f"{n_pos} interesting and {n_neg} ordinary tiles are labelled"
        )
    params = {
        "objective": "binary",
        "max_depth": config.max_depth,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": leaf,
        "min_sum_hessian_in_leaf": 1e-6,
        "learning_rate": config.learning_rate,
        "feature_pre_filter": False,
        "is_unbalance": True,
        "seed": config.seed,
        "num_threads": 1 if len(y) < 20_000 else 2,  # OpenMP threads only slow small fits on a busy machine
        "verbosity": -1,
    }
    rng = np.random.default_rng(config.seed)
    valid = np.zeros(len(y), dtype=bool)
    if minority >= 10 and config.validation_fraction > 0:
        for group in (np.flatnonzero(y), np.flatnonzero(~y)):
            n_val = max(1, int(round(config.validation_fraction * len(group))))
            valid[rng.choice(group, n_val, replace=False)] = True
    else:
        notes.append(f"no validation split for early stopping: the smaller group has only {minority} tiles")
    train = lgb.Dataset(x[~valid], label=y[~valid].astype(float), params={"verbosity": -1})
    f1 = None
    if valid.any():
        val = lgb.Dataset(x[valid], label=y[valid].astype(float), reference=train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=config.n_rounds,
            valid_sets=[val],
            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
        pred = booster.predict(x[valid], num_iteration=booster.best_iteration) >= 0.5
        tp = int((pred & y[valid]).sum())
        denom = int(pred.sum()) + int(y[valid].sum())
        f1 = 2 * tp / denom if denom else 0.0
    else:
        booster = lgb.train(params, train, num_boost_round=config.n_rounds)
    rounds = int(booster.best_iteration or booster.current_iteration())
    importance = booster.feature_importance(importance_type=config.importance, iteration=rounds).astype(float)
    n_used = int((importance > 0).sum())
    if n_used < k:
        notes.append(
            f"the classifier used only {n_used} of the {d} features; the other {k - n_used} of the top-{k} "
            "are taken in column order and carry no information from the labels"
        )
    # most important first; ties by the other importance type, then by column number
    other = booster.feature_importance(importance_type="split" if config.importance == "gain" else "gain")
    order = np.lexsort((np.arange(d), -other, -importance))
    return FeatureSelection(
        indices=order[:k],
        importance=importance,
        n_labelled=len(y),
        n_interesting=n_pos,
        min_data_in_leaf=leaf,
        rounds=rounds,
        validation_f1=f1,
        notes=notes,
    )


# -- robust standardisation per field ------------------------------------------------------------
@dataclass
class Scaling:
    """Robust per-column scaling of an embedding: tile i becomes ``(x_i - centre[j]) / scale[j]``
    with ``j = row_stats[i]`` (row 0 holds the run's statistics). ``centre`` is None for "none"."""

    mode: str
    centre: np.ndarray | None = None  # [G, D] float32
    scale: np.ndarray | None = None  # [G, D] float32, > 0
    row_stats: np.ndarray | None = None  # [N] which row of centre/scale each tile uses; None: row 0
    n_groups: int = 0  # groups (fields) among the ranked tiles
    n_own: int = 0  # groups standardised by their own statistics
    n_tiles_global: int = 0  # ranked tiles of groups too small for their own statistics (run's statistics)
    min_group: int = 0

    def transform(
        self, emb: np.ndarray, rows: np.ndarray | None = None, cols: np.ndarray | None = None, chunk: int = 16384
    ) -> np.ndarray:
        """``emb[rows][:, cols]`` scaled, as float32 (rows and cols None: all of them), in chunks of rows."""
        if self.centre is None and rows is None and cols is None:
            return np.asarray(emb, dtype=np.float32)
        rows = np.arange(len(emb)) if rows is None else np.asarray(rows, dtype=np.int64)
        centre, scale = self.centre, self.scale
        if cols is not None and centre is not None:
            centre, scale = centre[:, cols], scale[:, cols]
        out = np.empty((len(rows), emb.shape[1] if cols is None else len(cols)), dtype=np.float32)
        for start in range(0, len(rows), chunk):
            r = rows[start : start + chunk]
            block = np.asarray(emb[r], dtype=np.float32)
            if cols is not None:
                block = block[:, cols]
            if centre is not None:
                j = self.row_stats[r] if self.row_stats is not None else 0
                block = (block - centre[j]) / scale[j]
            out[start : start + len(r)] = block
        return out

    def to_record(self) -> dict:
        return {
            "mode": self.mode,
            "groups": self.n_groups,
            "groups_own_statistics": self.n_own,
            "tiles_on_run_statistics": self.n_tiles_global,
        }


def robust_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and IQR/1.349 (the standard deviation of a normal column) of ``x``;
    a column with zero IQR falls back to its standard deviation, then to 1."""
    x = np.asarray(x, dtype=np.float32)
    # each column contiguous: the partial sort runs along memory (a third faster, the same numbers)
    q25, med, q75 = np.percentile(np.ascontiguousarray(x.T), [25, 50, 75], axis=1)
    scale = (q75 - q25) / 1.349
    flat = ~(scale > 0)
    if flat.any():
        sd = x[:, flat].std(0)
        scale[flat] = np.where(sd > 0, sd, 1.0)
    return med.astype(np.float32), scale.astype(np.float32)


def fit_scaling(
    emb: np.ndarray,
    mode: str = "field",
    groups: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    min_group: int = 32,
    seed: int = 0,
) -> Scaling:
    """Robust statistics (median, IQR/1.349) of each embedding column, per group or for the whole run.

    ``mode`` is one of :data:`STANDARDISE`. Statistics come from the rows where ``keep`` is True
    (the tiles the forest sees), at most :data:`STAT_ROWS` of them per group (a sample seeded by
    ``seed``). With "field", a group (one label of ``groups`` per row, e.g. the ``field`` column of
    tiles.parquet) with fewer than ``min_group`` kept rows uses the run's statistics: a stamps
    run, where every stamp is its own field, is then standardised globally. Without ``groups``
    the whole run is one group.
    """
    check_standardise(mode)
    n = len(emb)
    kept = np.arange(n) if keep is None else np.flatnonzero(np.asarray(keep, dtype=bool))
    if mode == "none":
        return Scaling(mode)
    rng = np.random.default_rng(seed)

    def sample(rows: np.ndarray) -> np.ndarray:
        return rows if len(rows) <= STAT_ROWS else np.sort(rng.choice(rows, STAT_ROWS, replace=False))

    centre0, scale0 = robust_statistics(emb[sample(kept)])
    if mode == "global" or groups is None:
        return Scaling(mode, centre0[None], scale0[None], n_groups=1, n_own=0, n_tiles_global=len(kept))
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} labels for {n} embedding rows")
    codes, names = pd.factorize(np.asarray(groups), use_na_sentinel=False)
    counts = np.bincount(codes[kept], minlength=len(names))
    big = np.flatnonzero(counts >= min_group)
    centre = np.empty((1 + len(big), emb.shape[1]), dtype=np.float32)
    scale = np.empty_like(centre)
    centre[0], scale[0] = centre0, scale0
    which = np.zeros(len(names), dtype=np.int64)
    which[big] = np.arange(1, len(big) + 1)
    by_group = kept[np.argsort(codes[kept], kind="stable")]
    starts = np.r_[0, np.cumsum(counts)]
    for j, g in enumerate(big, start=1):
        centre[j], scale[j] = robust_statistics(emb[sample(by_group[starts[g] : starts[g + 1]])])
    return Scaling(
        mode,
        centre,
        scale,
        which[codes],
        n_groups=int((counts > 0).sum()),
        n_own=len(big),
        n_tiles_global=int(counts[counts < min_group].sum()),
        min_group=min_group,
    )


def rank_embeddings(
    emb: np.ndarray,
    config: RankConfig = RankConfig(),
    labels: pd.DataFrame | None = None,
    exclude: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    scaling: Scaling | None = None,
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
    as ``anomaly_score``) into ``score``/``rank``: by default max(anomaly, object) quantile x
    (1 - artefact score), the objects read from ``objects.parquet`` or found now; ``why`` says in
    words what put each tile there. The artefact features are cached in ``artefacts.parquet``.
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
    df, selection = rank_embeddings(emb, config, labels, exclude, scaling=scaling)
    df = add_artefact_columns(df, cached_artefact_features(run))  # the artefact axis, beside the score
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
        "ranked %d tiles of %s with an Isolation Forest (%d excluded: %s; standardised: %s)",
        len(df),
        name,
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
        best = tile_best_objects(objects, len(df))
        object_score = np.where(best >= 0, objects["score"].to_numpy(dtype=np.float32)[np.maximum(best, 0)], 0.0)
        object_q = quantile_among(object_score, keep)
    df = df.assign(anomaly_score=df["score"].to_numpy())
    if object_score is not None:
        df["object_score"] = object_score.astype(np.float32)
    if method.objects or method.artefacts:
        art = df["artefact_score"].to_numpy(dtype=float) if "artefact_score" in df else None
        df["score"] = peculiarity(df["anomaly_score"].to_numpy(), object_score, art, keep, method)
        df["rank"] = ranks_of(np.where(keep, df["score"].to_numpy(), -1.0))
    df["why"] = why_column(quantile_among(df["anomaly_score"].to_numpy(), keep), object_q, best, objects, df, keep)
    return df, notes


def _forest_inputs(
    run: RunDir, tiles: pd.DataFrame, emb: np.ndarray, config: RankConfig
) -> tuple[tuple[str, ...], list[str], np.ndarray | None, Scaling]:
    """What :func:`rank_run` hands the forest besides the embedding: the flags left out (and why any
    was kept), the excluded tiles and the standardisation fitted on the rest."""
    stamps = run.stage_config("ingest").get("mode") == "stamps"
    flags, notes = flags_to_exclude(tiles["flag"].to_numpy() if "flag" in tiles else None, config.exclude_flags, stamps)
    exclude = exclusion_mask(tiles, flags)
    keep = None if exclude is None else ~exclude
    if keep is not None and not keep.any():
        raise ValueError(
            f"every tile is flagged {' or '.join(flags)}; nothing to rank (try --exclude-flags with fewer flags)"
        )
    groups = field_groups(tiles) if config.standardise == "field" else None
    scaling = fit_scaling(emb, config.standardise, groups, keep, config.min_group, config.seed)
    return flags, notes, exclude, scaling


def ranking_context(
    run: RunDir, name: str, tiles: pd.DataFrame | None = None, emb: np.ndarray | None = None
) -> tuple[Scaling, np.ndarray | None]:
    """The standardisation and the excluded tiles of the last ``rank`` of ``embeddings/<name>``.

    Derived as :func:`rank_run` derived them, from the settings run.toml recorded for it (the
    defaults when there is no record), so that what learns from labels sees the embedding as the
    forest saw it: standardised per field, without the blank and partial tiles. Returns
    ``(scaling, exclude)``; ``exclude`` is None when no tile was left out. ``tiles`` and ``emb``:
    the run's tiles table and embeddings when the caller has them already.
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
    _, _, exclude, scaling = _forest_inputs(run, tiles, emb, config)
    if exclude is not None and not exclude.any():
        exclude = None
    return scaling, exclude


# -- how good a ranking is (seed 002, sec. 2.5 and Table 4) ------------------------------------
def recall_in_top(score: np.ndarray, truth: np.ndarray, fraction: float = 0.02) -> float:
    """Fraction of the ``truth`` tiles found among the top ``fraction`` of tiles by ``score``."""
    truth = np.asarray(truth, dtype=bool)
    if not truth.any():
        raise ValueError("no true tiles to recall: the truth column is all False")
    n_top = max(1, int(round(fraction * len(score))))
    top = np.argsort(-np.asarray(score), kind="stable")[:n_top]
    return float(truth[top].sum() / truth.sum())


def crossing_threshold_metrics(score: np.ndarray, peculiar: np.ndarray, complex_: np.ndarray) -> dict[str, float]:
    """Seed 002's Table 4 for one score: metrics at the threshold where peculiar recall and precision cross,
    which is where as many tiles are selected as there are peculiar ones.

    ``complex_`` marks frames with extended or diffuse structure that are not peculiar; the rest
    are ordinary. Returns ``threshold``, ``recall``, ``precision``, ``precision_pec_complex``
    (peculiar or complex among the selected), ``contamination_complex`` and ``contamination_ordinary``
    (their shares of the selected sample), each as a fraction, and ``n_selected``.
    """
    score = np.asarray(score, dtype=float)
    pec = np.asarray(peculiar, dtype=bool)
    cpx = np.asarray(complex_, dtype=bool) & ~pec
    if not pec.any():
        raise ValueError("no peculiar tiles: recall and precision are undefined")
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(pec[order])
    selected = np.arange(1, len(score) + 1)
    recall, precision = tp / pec.sum(), tp / selected
    # Selecting exactly as many tiles as there are peculiar ones makes recall and precision equal
    # (both TP / n_peculiar): that is the crossing. Cuts are only made between distinct scores, so
    # that a threshold reproduces the cut; take the one nearest to it.
    cuts = np.flatnonzero(np.r_[score[order][1:] < score[order][:-1], True])
    i = int(cuts[np.argmin(np.abs(cuts - (int(pec.sum()) - 1)))])
    sel = order[: i + 1]
    return {
        "threshold": float(score[order][i]),
        "recall": float(recall[i]),
        "precision": float(precision[i]),
        "precision_pec_complex": float((pec[sel] | cpx[sel]).mean()),
        "contamination_complex": float(cpx[sel].mean()),
        "contamination_ordinary": float((~pec[sel] & ~cpx[sel]).mean()),
        "n_selected": int(i + 1),
    }
