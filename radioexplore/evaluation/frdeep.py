"""FR I / FR II probes on the FR-DEEP FIRST and NVSS stamps: ``radioexplore evaluate --frdeep``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from radioexplore.embed.embedding import embedding_px
from radioexplore.evaluation.checks import EvaluateConfig, EvaluationReport
from radioexplore.evaluation.labels import label_features, label_networks, label_probe_table


def evaluate_frdeep(
    npz: str | Path, config: EvaluateConfig = EvaluateConfig(), progress: bool = True
) -> EvaluationReport:
    """FR I / FR II probes on the FR-DEEP FIRST and NVSS stamps (frdeep.npz; README, "Real data"), reported separately.

    The 8-bit stamps are divided by 255 and embedded like tiles (see ``embedding_px``).
    """
    from radioexplore.assets import shipped_checkpoints

    t0 = time.perf_counter()
    nets = label_networks(config)
    data = np.load(npz, allow_pickle=False)
    names = [str(n) for n in data["label_names"]] if "label_names" in data.files else None
    checkpoints = config.checkpoint or ", ".join(str(p) for p in shipped_checkpoints().values())
    report = EvaluationReport(
        str(npz), checkpoints, nets[0][2].to_dict(), 0, tta=config.tta, clip_sigma=config.clip_sigma
    )
    for survey in ("first", "nvss"):
        if f"x_{survey}" not in data.files:
            continue
        images = data[f"x_{survey}"].astype(np.float32)[:, None] / 255.0
        y = data[f"y_{survey}"]
        labels = np.array([names[i] for i in y]) if names else y.astype(str)
        is_test = data[f"is_test_{survey}"].astype(bool) if f"is_test_{survey}" in data.files else None
        report.n_tiles += len(images)
        report.embed_px = embedding_px(nets[0].spec, images.shape[-1], config.input_px)
        feats, baselines = label_features(nets, images, config, progress)
        n_test = int(is_test.sum()) if is_test is not None else 0
        title = f"FR-DEEP {survey.upper()} FR I / FR II ({len(images)} images, {n_test} in the test split)"
        report.label_tables[title] = label_probe_table(feats, labels, is_test, config, baselines)
    report.seconds = time.perf_counter() - t0
    return report
