"""Feature selection of seed 002: the embedding columns a LightGBM classifier of interesting tiles finds most telling.

A self-supervised representation also encodes what does not matter for the search (noise level,
image borders, artefacts), so Riggi et al. 2024 (seed 002, sec. 5.2) first train a LightGBM
classifier of "interesting" frames (EXTENDED, DIFFUSE, DIFFUSE-LARGE) against the other labelled
frames with shallow trees (max_depth 2, num_leaves 32, min_data_in_leaf 20) and run the forest on
the top-k features by importance only (top-2 to top-15; top-5 and top-10 did best, their Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from radioexplore.run.labels.values import INTERESTING


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
