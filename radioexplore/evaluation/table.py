"""The side-by-side table of ``radioexplore evaluate --table``: every embedding set of a run against baselines.

Seed 001's protocol: a frozen linear probe (standardise, PCA, one linear layer; :func:`linear_probe`)
scored by stratified k-fold cross-validation, reporting accuracy, Macro-F1 and Weighted-F1 as mean
+- std over folds, and over pre-training seeds where the run holds several runs of one recipe. Beside
the run's embedding sets: the same architecture randomly initialised (embedded here, at the same
input size and read-out), pixel PCA (64 px, 50 components), and the majority class, with balanced
accuracy beside plain accuracy so that an imbalanced target cannot flatter a model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedKFold

from radioexplore.evaluation.probes import ProbeResult, linear_probe
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.join import LABEL_MARKERS

log = logging.getLogger(__name__)

#: Targets tried in this order when none is given: a stamps run's labels, then the simulator's truth.
DEFAULT_TARGETS = ("label", "truth_extended", "truth_kinds")
#: The metrics of the table, each a mean and a std over folds (and pre-training runs).
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")
#: The columns of the table (``RUN/evaluation/table.parquet``), in order.
COLUMNS = (
    "features",
    "kind",
    "runs",
    "n",
    "folds",
    *(f"{m}{s}" for m in METRICS for s in ("", "_std")),
    "target",
)
PIXEL_ROW = "pixel PCA (64 px, 50 comp.)"
MAJORITY_ROW = "majority class"


@dataclass(frozen=True)
class TableConfig:
    """What the table probes and how (seed 001: frozen linear probe, stratified k-fold)."""

    target: str | None = None  # tile-table column; None: the first of DEFAULT_TARGETS the run has
    folds: int = 5
    pca_dims: int = 100  # seed 000, sec. 4 (pixel PCA: 50)
    seed: int = 0  # folds and the random networks' initialisation
    embeddings: tuple[str, ...] = ()  # embedding sets to compare; empty: every one of the run
    batch_size: int = 64
    device: str = "auto"


@dataclass(frozen=True)
class FeatureSet:
    """One row's features before probing: where they come from and what they group with."""

    name: str
    kind: str  # "embedding", "random init", "pixel"
    X: np.ndarray
    group: str | None = None  # embedding sets of one recipe and architecture share a group


def choose_target(tiles: pd.DataFrame, target: str | None) -> str:
    """``target`` if the tile table has it, else the first of :data:`DEFAULT_TARGETS` with two classes."""
    if target is not None:
        if target not in tiles:
            raise ValueError(f"--target {target!r}: the tile table has no such column (columns: {', '.join(tiles)})")
        return target
    for name in DEFAULT_TARGETS:
        if name in tiles and tiles[name].dropna().astype(str).nunique() >= 2:
            return name
    raise ValueError(
        f"the tile table has none of {', '.join(DEFAULT_TARGETS)} with two classes; "
        "ingest stamps with --labels, attach a simulation's truth, or pass --target COLUMN"
    )


def target_rows(tiles: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, class labels as text) of the tiles with a value of ``target``; classes with
    a single tile are left out (stratified folds need two)."""
    values = tiles[target]
    text = values.astype(object).where(values.notna(), None).map(lambda v: None if v is None else str(v))
    keep = text.notna().to_numpy() & ~text.isin(["", "nan", "None", *LABEL_MARKERS]).to_numpy(copy=True)
    counts = text[keep].value_counts()
    keep &= text.isin(counts.index[counts >= 2]).to_numpy()
    if text[keep].nunique() < 2:
        raise ValueError(f"{target!r} has fewer than two classes with two tiles each; nothing to probe")
    return np.flatnonzero(keep), text[keep].to_numpy(dtype=str)


def embedding_groups(run: RunDir, names: list[str]) -> dict[str, str]:
    """Each embedding set's group: sets made by the same recipe, architecture, steps and training set,
    embedded alike, are runs of one pre-training with other seeds and are also reported together."""
    out = {}
    for name in names:
        rec = run.stage_config("embed", name)
        prov = rec.get("provenance", {})
        if rec.get("random_init") or "recipe" not in prov:
            continue
        key = [
            *(prov.get(k) for k in ("recipe", "method", "epochs", "steps", "training_tiles")),
            *(rec.get(k) for k in ("spec", "embed_px")),
            rec.get("pool", "cls"),
            rec.get("tta", "none"),
            rec.get("clip_sigma"),
        ]
        out[name] = json.dumps(key, sort_keys=True)
    return out


def random_feature_sets(
    run: RunDir, names: list[str], images: np.ndarray, config: TableConfig, progress: bool = False
) -> list[FeatureSet]:
    """One randomly initialised network per architecture (and input size, read-out) among ``names``,
    embedding ``images`` as those sets were embedded."""
    from radioexplore.embed.embedding import embed_tiles, recorded_view

    seen: dict[str, tuple[BackboneSpec, dict]] = {}
    for name in names:
        rec = run.stage_config("embed", name)
        if not rec.get("spec"):
            log.warning("embedding %r has no recorded architecture: no random-init row for it", name)
            continue
        spec = BackboneSpec(**rec["spec"])
        view = recorded_view(rec, spec)
        seen.setdefault(json.dumps([spec.to_dict(), view], sort_keys=True), (spec, view))
    out = []
    for spec, view in seen.values():
        px, pool, tta, clip = view["input_px"], view["pool"], view["tta"], view["clip_sigma"]
        torch.manual_seed(config.seed)
        net = build_backbone(spec).eval()
        arch = f"{spec.arch}/{spec.patch}" if spec.patch else spec.arch
        extra = (f", {pool} pool" if pool != "cls" else "") + (f", {tta} tta" if tta != "none" else "")
        extra += f", clipped at {clip:g} sigma" if clip is not None else ""
        label = f"random init ({arch}, {px} px{extra})"
        X = embed_tiles(net, spec, images, config.batch_size, config.device, progress, **view)
        out.append(FeatureSet(label, "random init", X))
    return out


def majority_folds(y: np.ndarray, folds: int, seed: int) -> dict[str, list[float]]:
    """Per-fold metrics of always predicting the training part's most frequent class, on the same
    stratified folds as :func:`linear_probe` (same splitter, seed and labels)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    out: dict[str, list[float]] = {m: [] for m in METRICS}
    labels = np.unique(y)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        values, counts = np.unique(y[train], return_counts=True)
        pred = np.full(len(test), values[np.argmax(counts)])
        out["accuracy"].append(float(np.mean(pred == y[test])))
        out["balanced_accuracy"].append(float(balanced_accuracy_score(y[test], pred)))
        out["macro_f1"].append(float(f1_score(y[test], pred, average="macro", labels=labels, zero_division=0)))
        out["weighted_f1"].append(float(f1_score(y[test], pred, average="weighted", labels=labels, zero_division=0)))
    return out


def _row(name: str, kind: str, per_fold: dict[str, list[float]], runs: int, n: int, folds: int, target: str) -> dict:
    row: dict = {"features": name, "kind": kind, "runs": runs, "n": n, "folds": folds}
    for m in METRICS:
        v = np.asarray(per_fold[m], dtype=float)
        row[m], row[f"{m}_std"] = float(v.mean()), float(v.std())
    row["target"] = target
    return row


def probe_table(sets: list[FeatureSet], y: np.ndarray, target: str, config: TableConfig) -> pd.DataFrame:
    """The table: one row per feature set, one per group of >= 2 pre-training runs (folds of all its
    runs pooled: mean +- std over runs x folds), and the majority class."""
    results: dict[str, ProbeResult] = {}
    rows = []
    for fs in sets:
        dims = 50 if fs.kind == "pixel" else config.pca_dims
        res = linear_probe(fs.X, y, "classification", pca_dims=dims, folds=config.folds, seed=config.seed)
        results[fs.name] = res
        rows.append(_row(fs.name, fs.kind, res.per_fold, 1, len(y), res.folds, target))
    groups: dict[str, list[FeatureSet]] = {}
    for fs in sets:
        if fs.group is not None:
            groups.setdefault(fs.group, []).append(fs)
    for members in groups.values():
        if len(members) < 2:
            continue
        pooled = {m: [v for fs in members for v in results[fs.name].per_fold[m]] for m in METRICS}
        name = " + ".join(fs.name for fs in members)
        rows.append(
            _row(name, "pre-training runs", pooled, len(members), len(y), results[members[0].name].folds, target)
        )
    folds = rows[0]["folds"] if rows else config.folds
    rows.append(_row(MAJORITY_ROW, "majority", majority_folds(y, folds, config.seed), 1, len(y), folds, target))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def format_table(table: pd.DataFrame) -> str:
    """The table as fixed-width text, each metric as mean +- std in per cent."""
    width = max(24, int(table["features"].str.len().max()) + 2) if len(table) else 24
    head = f"  {'features':<{width}}{'runs':>5}" + "".join(f"{m.replace('_', ' '):>20}" for m in METRICS)
    lines = [head]
    for _, r in table.iterrows():
        cells = "".join(f"{_pm(r[m], r[m + '_std']):>20}" for m in METRICS)
        lines.append(f"  {r['features']:<{width}}{int(r['runs']):>5}{cells}")
    return "\n".join(lines)


def _pm(mean: float, std: float) -> str:
    return f"{100 * mean:.1f} +- {100 * std:.1f}"
