"""Instrumental-bias audit: can the field, the noise or the data-quality flag be read off an embedding?

Seed 000 (Lastufka et al. 2024, sec. 5) finds its DINO embeddings cluster by field and by data
quality: the network learnt the instrument, not only the sky. The same frozen linear probe as the
evaluation table (PCA + one linear layer, stratified k-fold) predicts each instrumental column of
the tile table. A column is *readable* when the probe does well above chance: for a category
(``field``, ``dqf``) a balanced accuracy at least ``margin`` of the way from chance (1 / classes)
to 1; for a quantity (``noise_rms``, probed as log10) a cross-validated R^2 of at least ``r2_min``.
Pixel PCA is probed too, as the reference: what the pixels alone give away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radioexplore.evaluation.probes import linear_probe

#: Instrumental columns of the tile table and how they are probed.
BIAS_COLUMNS = {"field": "classification", "dqf": "classification", "noise_rms": "regression"}
BIAS_FIELDS = ("features", "column", "metric", "score", "score_std", "chance", "threshold", "readable", "n")


@dataclass(frozen=True)
class BiasConfig:
    """Thresholds of "readable" and the probe's settings."""

    margin: float = 0.5  # categories: balanced accuracy >= chance + margin * (1 - chance)
    r2_min: float = 0.5  # quantities: cross-validated R^2 of log10(value)
    folds: int = 5
    pca_dims: int = 100
    seed: int = 0
    max_tiles: int = 4000  # a seeded sample of at most this many tiles per column keeps the audit quick


def _column_target(tiles: pd.DataFrame, column: str, task: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, target) of the tiles with a usable value of ``column``; None when there is nothing to probe."""
    values = tiles[column]
    if task == "regression":
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(v) & (v > 0)
        if keep.sum() < 20 or np.ptp(np.log10(v[keep])) == 0:
            return None
        return np.flatnonzero(keep), np.log10(v[keep])
    text = values.astype(str).where(values.notna(), "")
    keep = (text != "").to_numpy().copy()
    counts = text[keep].value_counts()
    keep &= text.isin(counts.index[counts >= 2]).to_numpy()
    if text[keep].nunique() < 2:
        return None
    return np.flatnonzero(keep), text[keep].to_numpy(dtype=str)


def bias_audit(tiles: pd.DataFrame, features: dict[str, np.ndarray], config: BiasConfig = BiasConfig()) -> pd.DataFrame:
    """One row per feature set and instrumental column the tile table has (``features`` rows align
    with ``tiles`` rows): the probe's score, chance, the threshold and whether it is readable."""
    rng = np.random.default_rng(config.seed)
    rows = []
    for column, task in BIAS_COLUMNS.items():
        if column not in tiles:
            continue
        got = _column_target(tiles, column, task)
        if got is None:
            continue
        idx, y = got
        if len(idx) > config.max_tiles:
            pick = np.sort(rng.choice(len(idx), config.max_tiles, replace=False))
            idx, y = idx[pick], y[pick]
        if task == "classification":
            chance = 1.0 / len(np.unique(y))
            threshold, metric = chance + config.margin * (1.0 - chance), "balanced_accuracy"
        else:
            chance, threshold, metric = 0.0, config.r2_min, "r2"
        for name, X in features.items():
            dims = 50 if name.startswith("pixel") else config.pca_dims
            res = linear_probe(X[idx], y, task, pca_dims=dims, folds=config.folds, seed=config.seed)
            score = res.metrics[metric]
            rows.append(
                {
                    "features": name,
                    "column": column,
                    "metric": metric,
                    "score": score,
                    "score_std": float(np.std(res.per_fold[metric])),
                    "chance": chance,
                    "threshold": threshold,
                    "readable": bool(score >= threshold),
                    "n": len(idx),
                }
            )
    return pd.DataFrame(rows, columns=list(BIAS_FIELDS))


def bias_warnings(audit: pd.DataFrame) -> list[str]:
    """One sentence per embedding (not pixel) that gives an instrumental column away."""
    out = []
    for _, r in audit[audit["readable"]].iterrows():
        if str(r["features"]).startswith("pixel"):
            continue
        what = "log10 noise rms" if r["column"] == "noise_rms" else r["column"]
        pixel = audit[(audit["column"] == r["column"]) & audit["features"].astype(str).str.startswith("pixel")]
        ref = f"; pixel PCA {pixel['score'].iloc[0]:.2f}" if len(pixel) else ""
        out.append(
            f"instrumental bias: {what} can be read off {r['features']!r} "
            f"({r['metric'].replace('_', ' ')} {r['score']:.2f} +- {r['score_std']:.2f}, chance {r['chance']:.2f}, "
            f"threshold {r['threshold']:.2f}{ref}; seed 000)"
        )
    return out
