"""Attention on the truth (ViT only): do a checkpoint's top attention patches fall on bright extended sources?

On tiles holding a bright extended source (the brighter half of those in the survey), the share of
the top 10% attention patches (mean over heads; seed 000, fig. 7 uses the 90th percentile) that
fall on the source, against the share a uniform map would give (the source's share of the tile).
The truth mask is rough: a disc around the object's centre with the simulator's largest angular
size as diameter plus one beam, which also covers the gap between the lobes of a double. A patch
counts by the fraction of its pixels on the mask. Acceptance: share above uniform.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from radioexplore.evaluation.checks import Check, EvaluateConfig
from radioexplore.models import BackboneSpec
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.folder import SimulationDir


def source_mask(
    size: int, objects: pd.DataFrame, x0: float, y0: float, pixel_arcsec: float, beam_px: float
) -> np.ndarray:
    """Boolean ``[size, size]`` tile mask: discs around ``objects`` (columns x, y in field pixels, size in arcsec).

    Each disc has the object's largest angular size as diameter plus ``beam_px``; tile pixel
    ``[i, j]`` is field pixel ``(x0 + j, y0 + i)``.
    """
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), dtype=bool)
    for _, o in objects.iterrows():
        r = 0.5 * float(o["size"]) / pixel_arcsec + beam_px
        mask |= (xx + x0 - float(o["x"])) ** 2 + (yy + y0 - float(o["y"])) ** 2 <= r**2
    return mask


def attention_share(attn: np.ndarray, coverage: np.ndarray, top: float = 0.10) -> tuple[float, float]:
    """(share of the top ``top`` fraction of patches on the source, share for a uniform map).

    ``attn`` and ``coverage`` are patch grids; ``coverage`` is the fraction of each patch's pixels
    on the truth mask. The top patches are the ``ceil(top * n)`` with the highest attention.
    """
    a, c = np.asarray(attn, dtype=float).ravel(), np.asarray(coverage, dtype=float).ravel()
    k = max(1, int(np.ceil(top * a.size)))
    best = np.argsort(-a, kind="stable")[:k]
    return float(c[best].mean()), float(c.mean())


def attention_check(report, run: RunDir, sub, ids, pixels, model, spec: BackboneSpec, config: EvaluateConfig) -> None:
    """Add the attention share on bright extended sources to ``report`` (a check, or a warning why it was skipped)."""
    from radioexplore.embed.attention import cls_attention
    from radioexplore.embed.embedding import prepare_batch

    if config.attention_tiles <= 0:
        report.warnings.append(
            "attention_tiles = 0: attention check skipped (give a positive number of tiles to run it)"
        )
        return
    truth = _truth_objects(run)
    if truth is None:
        report.warnings.append("no simulation truth.csv for this run: attention check skipped")
        return
    objs, pixel_arcsec = truth
    from radioexplore.simulation import EXTENDED_KINDS

    ext = objs[objs["kind"].isin(EXTENDED_KINDS) & objs["in_image"].astype(bool)]
    if ext.empty:
        report.warnings.append("the truth catalogue has no extended objects: attention check skipped")
        return
    bright = ext[ext["flux"] >= ext["flux"].quantile(config.bright_quantile)]
    by_field = {k: g for k, g in bright.groupby("field")}
    chosen = []
    for row, (_, t) in enumerate(sub.iterrows()):
        g = by_field.get(t["field"])
        if g is None:
            continue
        inside = g[
            (g["x"] >= t["x0"]) & (g["x"] < t["x0"] + t["size"]) & (g["y"] >= t["y0"]) & (g["y"] < t["y0"] + t["size"])
        ]
        if len(inside):
            chosen.append((row, t, inside))
    if not chosen:
        report.warnings.append("no tile holds a bright extended source: attention check skipped")
        return
    rng = np.random.default_rng(config.seed)
    if len(chosen) > config.attention_tiles:
        chosen = [chosen[i] for i in sorted(rng.choice(len(chosen), config.attention_tiles, replace=False))]
    px = report.embed_px  # as the probes saw the tiles
    grid = px // spec.patch
    shares, uniforms, head_shares = [], [], []
    device = next(model.parameters()).device
    for row, t, inside in chosen:
        size = int(t["size"])
        mask = source_mask(size, inside, float(t["x0"]), float(t["y0"]), pixel_arcsec, config.beam_px)
        coverage = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(mask[None, None].astype(np.float32)), grid)[
            0, 0
        ].numpy()
        x = prepare_batch(torch.from_numpy(np.nan_to_num(pixels[row : row + 1])).to(device), spec, px)
        attn = cls_attention(model, x)[0].float().cpu().numpy()  # [heads, grid, grid]
        share, uniform = attention_share(attn.mean(axis=0), coverage, config.attention_top)
        shares.append(share)
        uniforms.append(uniform)
        head_shares.append([attention_share(a, coverage, config.attention_top)[0] for a in attn])
    share, uniform = float(np.mean(shares)), float(np.mean(uniforms))
    per_head = np.mean(head_shares, axis=0)
    report.attention = {
        "tiles": float(len(chosen)),
        "top_percent": 100.0 * config.attention_top,
        "share": share,
        "uniform": uniform,
        "best_head_share": float(per_head.max()),
        **{f"head{h}_share": float(v) for h, v in enumerate(per_head)},
    }
    report.checks.append(
        Check(
            "attention on bright extended sources above a uniform map",
            share,
            uniform,
            share > uniform,
            f"{100 * share:.1f}% of the top-{100 * config.attention_top:.0f}% patches on the source vs "
            f"{100 * uniform:.1f}% for a uniform map ({len(chosen)} tiles)",
        )
    )


def _truth_objects(run: RunDir) -> tuple[pd.DataFrame, float] | None:
    where = run.stage_config("truth").get("simulation")
    if not where or not SimulationDir(where).truth.is_file():
        return None
    sim = SimulationDir(where)
    objs = pd.read_csv(sim.truth)
    config = pd.read_json(sim.config, typ="series")
    return objs, float(config.get("pixel_arcsec", 1.5))
