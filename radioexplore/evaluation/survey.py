"""Does pre-training help? Probes of a checkpoint against the same architecture randomly initialised.

``radioexplore evaluate --run DIR`` runs on a simulated survey that was not used for training and
prints, for the checkpoint (default: the shipped demo checkpoint) beside a randomly initialised
network of the same architecture:

1. Compact-source count: PCA + one linear layer (seed 000, sec. 4.1) predicting the catalogue
   count per tile (``n_sources``), ``k``-fold cross-validated MSE. Counts beyond 3 sigma are left
   out, as seed 000 does. Acceptance: MSE at least 30% lower than the random network's.
2. Extended source: the same probe classifying tiles with / without an extended source
   (``truth_extended``). All positive tiles and as many randomly chosen negative tiles are used,
   so chance is 50% and accuracy means something. Acceptance: higher accuracy than the random network.
3. Attention (ViT only): :mod:`~radioexplore.evaluation.attention_check`.

The report warns when the run looks like the survey the checkpoint was trained on. A run whose
tiles carry a ``label`` column also gets the labelled-stamps table
(:mod:`~radioexplore.evaluation.labels`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from radioexplore.assets import resolve_checkpoint
from radioexplore.embed.embedding import run_embedding_px
from radioexplore.evaluation.attention_check import attention_check
from radioexplore.evaluation.checks import Check, EvaluateConfig, EvaluationReport
from radioexplore.evaluation.labels import (
    label_features,
    label_networks,
    label_probe_table,
    random_source,
    split_column,
)
from radioexplore.evaluation.probes import drop_outliers, linear_probe
from radioexplore.models import build_backbone, is_vit
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.folder import SimulationDir


def _checkpoint_and_random_net(config: EvaluateConfig) -> tuple:
    """``(path, model, spec, meta, random_net)``: the checkpoint to probe (given or shipped) and the
    same architecture randomly initialised with ``config.seed``, the baseline of every probe."""
    from radioexplore.assets import demo_checkpoint
    from radioexplore.models.checkpoint import load_backbone

    ckpt = config.checkpoint or demo_checkpoint()
    if ckpt is None:
        raise FileNotFoundError("no checkpoint given and none shipped in assets/checkpoints; pass --checkpoint")
    model, spec, meta = load_backbone(ckpt)
    torch.manual_seed(config.seed)
    return ckpt, model, spec, meta, build_backbone(spec).eval()


def evaluate_run(run: RunDir, config: EvaluateConfig = EvaluateConfig(), progress: bool = True) -> EvaluationReport:
    """Probe ``config.checkpoint`` (or the shipped one) and a random network on the tiles of ``run``."""
    from radioexplore.embed.embedding import embed_tiles
    from radioexplore.run.tilestore import open_tile_store, read_tiles

    t0 = time.perf_counter()
    ckpt, model, spec, meta, random_net = _checkpoint_and_random_net(config)

    tiles = run.read_tiles()
    usable = tiles["flag"].astype(str).to_numpy() != "blank" if "flag" in tiles else np.ones(len(tiles), bool)
    ids = tiles["tile_id"].to_numpy()[usable] if "tile_id" in tiles else np.flatnonzero(usable)
    report = EvaluationReport(
        str(run.root), str(ckpt), spec.to_dict(), len(ids), tta=config.tta, clip_sigma=config.clip_sigma
    )
    report.warnings += _same_survey_warnings(run, meta.get("provenance", {}))

    store = open_tile_store(run.tile_pixels)
    pixels = read_tiles(store, ids)
    report.embed_px = run_embedding_px(run, spec, pixels.shape[-1], config.input_px)
    sub = tiles.set_index("tile_id").loc[ids] if "tile_id" in tiles else tiles.iloc[ids]
    probes = "truth_extended" in sub or config.count_column in sub
    if probes:
        kw = dict(input_px=report.embed_px, tta=config.tta, clip_sigma=config.clip_sigma)
        emb_t = embed_tiles(model, spec, pixels, config.batch_size, config.device, progress, **kw)
        emb_r = embed_tiles(random_net, spec, pixels, config.batch_size, config.device, progress, **kw)

    if "label" in sub and sub["label"].notna().sum() >= 2 * config.folds:
        known = sub["label"].notna().to_numpy()
        split = split_column(sub)
        embedded = {str(resolve_checkpoint(ckpt)): emb_t[known], random_source(spec): emb_r[known]} if probes else {}
        feats, baselines = label_features(label_networks(config), pixels[known], config, progress, embedded)
        report.label_tables["labels of this run"] = label_probe_table(
            feats,
            sub["label"].astype(str).to_numpy()[known],
            None if split is None else split[known],
            config,
            baselines,
        )
    if not probes:
        report.seconds = time.perf_counter() - t0
        return report
    _count_probe(report, sub, emb_t, emb_r, config)
    _extended_probe(report, sub, emb_t, emb_r, config)
    if is_vit(spec):
        attention_check(report, run, sub, ids, pixels, model, spec, config)
    else:
        report.warnings.append(f"{spec.arch} has no attention maps: attention check skipped")
    report.seconds = time.perf_counter() - t0
    run.record("evaluate", report.to_dict(), key=Path(str(ckpt)).stem)
    return report


def _count_probe(report, sub: pd.DataFrame, emb_t, emb_r, config: EvaluateConfig) -> None:
    col = config.count_column
    if col not in sub or sub[col].isna().all():
        report.warnings.append(f"no {col!r} column (a catalogue count): source-count probe skipped")
        return
    y = sub[col].to_numpy(dtype=float)
    keep = np.isfinite(y)
    keep[keep] &= drop_outliers(y[keep], config.outlier_sigma)
    kw = dict(task="regression", pca_dims=config.pca_dims, folds=config.folds, seed=config.seed)
    pt = report.probes["count_trained"] = linear_probe(emb_t[keep], y[keep], **kw)
    pr = report.probes["count_random"] = linear_probe(emb_r[keep], y[keep], **kw)
    mse_t, mse_r = pt.metrics["mse"], pr.metrics["mse"]
    reduction = 1.0 - mse_t / mse_r if mse_r > 0 else 0.0
    report.checks.append(
        Check(
            "source-count MSE at least 30% below the random network",
            mse_t,
            mse_r,
            reduction >= config.mse_reduction_required,
            f"MSE {mse_t:.3f} vs {mse_r:.3f} random ({100 * reduction:.0f}% lower; needs {100 * config.mse_reduction_required:.0f}%)",
        )
    )


def _extended_probe(report, sub: pd.DataFrame, emb_t, emb_r, config: EvaluateConfig) -> None:
    if "truth_extended" not in sub:
        report.warnings.append("no truth_extended column (simulated surveys only): extended-source probe skipped")
        return
    y = sub["truth_extended"].fillna(False).to_numpy(dtype=bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if len(pos) < 2 * config.folds or len(neg) < len(pos):
        report.warnings.append(f"{len(pos)} tiles with an extended source are too few: extended-source probe skipped")
        return
    rng = np.random.default_rng(config.seed)
    rows = np.sort(np.concatenate([pos, rng.choice(neg, size=len(pos), replace=False)]))
    labels = np.where(y[rows], "extended", "none")
    kw = dict(task="classification", pca_dims=config.pca_dims, folds=config.folds, seed=config.seed)
    pt = report.probes["extended_trained"] = linear_probe(emb_t[rows], labels, **kw)
    pr = report.probes["extended_random"] = linear_probe(emb_r[rows], labels, **kw)
    acc_t, acc_r = pt.metrics["accuracy"], pr.metrics["accuracy"]
    report.checks.append(
        Check(
            "extended-source accuracy above the random network",
            acc_t,
            acc_r,
            acc_t > acc_r,
            f"accuracy {acc_t:.3f} vs {acc_r:.3f} random on {len(rows)} balanced tiles (chance 0.5)",
        )
    )


def _same_survey_warnings(run: RunDir, provenance: dict) -> list[str]:
    """Warn when ``run`` is (or was simulated like) the survey the checkpoint trained on."""
    out = []
    trained_on = provenance.get("training_simulation")
    here = run.stage_config("truth").get("simulation")
    if trained_on and here and Path(trained_on).resolve() == Path(here).resolve():
        out.append(f"this run's survey ({here}) is the one the checkpoint was trained on; evaluate on another")
    seed = provenance.get("training_survey_seed")
    sim_json = SimulationDir(here).config if here else None
    if seed is not None and sim_json is not None and sim_json.is_file():
        here_seed = pd.read_json(sim_json, typ="series").get("seed")
        if here_seed is not None and int(here_seed) == int(seed):
            out.append(
                f"this survey was simulated with seed {seed}, the training survey's seed; evaluate on another seed"
            )
    return out
