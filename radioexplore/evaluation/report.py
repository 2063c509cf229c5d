"""``evaluate --table``: the side-by-side table and the bias audit of a run, printed and written into the run.

Writes ``RUN/evaluation/table.parquet`` (the table, :data:`~radioexplore.evaluation.table.COLUMNS`)
and ``RUN/evaluation/bias.parquet`` (the audit), which the app's Probe tab shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.evaluation.bias import BiasConfig, bias_audit, bias_warnings
from radioexplore.evaluation.table import (
    PIXEL_ROW,
    FeatureSet,
    TableConfig,
    choose_target,
    embedding_groups,
    format_table,
    probe_table,
    random_feature_sets,
    target_rows,
)
from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir

TABLE_FILE = "table.parquet"
BIAS_FILE = "bias.parquet"


def evaluation_dir(run: RunDir) -> Path:
    """Where ``evaluate --table`` writes its tables in a run."""
    return run.root / "evaluation"


@dataclass
class TableReport:
    """What ``evaluate --table`` measured."""

    run: str
    target: str
    classes: dict[str, int]
    table: pd.DataFrame
    bias: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        folds = int(self.table["folds"].iloc[0]) if len(self.table) else 0
        classes = ", ".join(f"{k} {v}" for k, v in self.classes.items())
        lines = [
            f"evaluate {self.run}: frozen linear probe of {self.target!r} ({classes}), PCA + linear, "
            f"stratified {folds}-fold CV; mean +- std over folds (and pre-training runs), per cent",
            format_table(self.table),
        ]
        if len(self.bias):
            lines.append("  instrumental bias audit (seed 000): linear probe of field / dqf / noise rms")
            for _, r in self.bias.iterrows():
                flag = "READABLE" if r["readable"] else "ok"
                lines.append(
                    f"    {r['features']:<40} {r['column']:<10} {r['metric']:<18} {r['score']:.2f} +- "
                    f"{r['score_std']:.2f} (chance {r['chance']:.2f}, threshold {r['threshold']:.2f}) {flag}"
                )
        lines += [f"  WARNING: {w}" for w in self.warnings]
        lines.append(f"  ({self.seconds:.0f} s)")
        return "\n".join(lines)


def evaluate_table(
    run: RunDir,
    config: TableConfig | None = None,
    bias: BiasConfig | None = None,
    progress: bool = False,
    write: bool = True,
) -> TableReport:
    """Probe every embedding set of ``run`` (or ``config.embeddings``) beside random init, pixel PCA and
    the majority class; audit instrumental bias; write both tables into ``RUN/evaluation/``."""
    from radioexplore.evaluation.labels import pixel_features
    from radioexplore.run.tilestore import open_tile_store, read_tiles

    t0 = time.perf_counter()
    config = config or TableConfig()
    names = list(config.embeddings) or run.embedding_names()
    if not names:
        raise ValueError(f"{run.root} has no embedding sets; run `radioexplore embed` first, or pass --methods")
    missing = [n for n in names if n not in run.embedding_names()]
    if missing:
        raise ValueError(f"no embedding set {missing} in {run.root} (present: {', '.join(run.embedding_names())})")
    tiles = run.read_tiles()
    target = choose_target(tiles, config.target)
    rows, y = target_rows(tiles, target)
    ids = tiles["tile_id"].to_numpy()[rows] if "tile_id" in tiles else rows
    images = read_tiles(open_tile_store(run.tile_pixels), ids)
    groups = embedding_groups(run, names)
    embedded = {n: np.asarray(run.read_embeddings(n, mmap=False)) for n in names}
    sets = [FeatureSet(n, "embedding", embedded[n][rows], groups.get(n)) for n in names]
    sets += random_feature_sets(run, names, images, config, progress)
    sets.append(FeatureSet(PIXEL_ROW, "pixel", pixel_features(images)))
    finite = np.all([np.isfinite(fs.X).all(axis=1) for fs in sets], axis=0)
    warnings = []
    if not finite.all():
        warnings.append(f"left out {int((~finite).sum())} tiles with non-finite features")
        sets = [FeatureSet(fs.name, fs.kind, fs.X[finite], fs.group) for fs in sets]
        y = y[finite]
    table = probe_table(sets, y, target, config)
    warnings += _transductive_warnings(run, names)
    classes = dict(zip(*np.unique(y, return_counts=True), strict=True))

    audit = pd.DataFrame()
    if bias is not None:
        audit_feats = {n: embedded[n] for n in names}
        if any(c in tiles for c in ("field", "dqf", "noise_rms")):
            all_ids = tiles["tile_id"].to_numpy() if "tile_id" in tiles else np.arange(len(tiles))
            audit_feats[PIXEL_ROW] = pixel_features(read_tiles(open_tile_store(run.tile_pixels), all_ids))
        ok = np.all([np.isfinite(X).all(axis=1) for X in audit_feats.values()], axis=0)
        audit = bias_audit(tiles[ok].reset_index(drop=True), {k: v[ok] for k, v in audit_feats.items()}, bias)
        warnings += bias_warnings(audit)
    report = TableReport(str(run.root), target, {str(k): int(v) for k, v in classes.items()}, table, audit, warnings)
    report.seconds = time.perf_counter() - t0
    if write:
        write_evaluation(run, report)
    return report


def _transductive_warnings(run: RunDir, names: list[str]) -> list[str]:
    """Name the embedding sets whose network was pre-trained on this run's own images (labels unused)."""
    own = [
        n
        for n in names
        if (trained_on := run.stage_config("embed", n).get("provenance", {}).get("run"))
        and Path(trained_on).resolve() == run.root.resolve()
    ]
    if not own:
        return []
    return [
        f"{', '.join(own)} pre-trained on this run's own images (never its labels): not a figure on unseen "
        "images; pre-train elsewhere (evaluate --pretrain-on DIR) for one"
    ]


def write_evaluation(run: RunDir, report: TableReport) -> None:
    """``RUN/evaluation/table.parquet`` and ``bias.parquet``, each replaced atomically."""
    folder = evaluation_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in ((TABLE_FILE, report.table), (BIAS_FILE, report.bias)):
        with atomic_path(folder / name) as tmp:
            frame.to_parquet(tmp, index=False)
    run.record(
        "evaluate_table",
        {"target": report.target, "classes": report.classes, "warnings": report.warnings, "rows": len(report.table)},
    )


def read_evaluation(run: RunDir) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The table and audit ``evaluate --table`` last wrote into ``run`` (None where absent)."""
    folder = evaluation_dir(run)
    return tuple(pd.read_parquet(folder / f) if (folder / f).is_file() else None for f in (TABLE_FILE, BIAS_FILE))
