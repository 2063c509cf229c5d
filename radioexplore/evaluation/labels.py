"""Labelled stamps (FR I / FR II): the networks compared, their embeddings, and the linear-probe error table.

For a run whose tiles carry a ``label`` column (``radioexplore ingest --stamps ... --labels``), and
for the FR-DEEP arrays (:mod:`~radioexplore.evaluation.frdeep`), the report gives the linear-probe
error (1 - accuracy) of FR I / FR II: stratified 5-fold cross-validation over all images and
train -> test on the dataset's own split, for the checkpoint (without ``--checkpoint``: every
shipped one side by side), the same architecture randomly initialised, and pixel PCA (64 px, 50
components), as seed 000 (sec. 4.2) reports MiraBest errors; under each table, how many points each
checkpoint lies below its random network (issue 10 asks 5) and below pixel PCA.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from radioexplore.assets import resolve_checkpoint
from radioexplore.evaluation.checks import EvaluateConfig, LabelProbeRow
from radioexplore.evaluation.probes import linear_probe
from radioexplore.models import BackboneSpec, build_backbone


class LabelNet(NamedTuple):
    """One network of a labelled-stamps table."""

    name: str  # the row
    model: torch.nn.Module
    spec: BackboneSpec
    baseline: str | None  # a checkpoint's row: the row of its architecture randomly initialised
    source: str  # the checkpoint file, or "random" and the spec: what the embeddings depend on


def random_source(spec: BackboneSpec) -> str:
    return "random " + json.dumps(spec.to_dict(), sort_keys=True)


def label_networks(config: EvaluateConfig) -> list[LabelNet]:
    """The networks a labelled-stamps table compares.

    The checkpoint given, or every shipped one side by side, then each architecture
    among them randomly initialised with ``config.seed``.
    """
    from radioexplore.assets import shipped_checkpoints
    from radioexplore.models.checkpoint import load_backbone

    if config.checkpoint:
        named = {"checkpoint": resolve_checkpoint(config.checkpoint)}
    else:
        shipped = shipped_checkpoints()
        if not shipped:
            raise FileNotFoundError("no checkpoint given and none shipped in assets/checkpoints; pass --checkpoint")
        named = {("checkpoint" if len(shipped) == 1 else f"checkpoint {name}"): p for name, p in shipped.items()}
    loaded = [(label, str(path), *load_backbone(path)[:2]) for label, path in named.items()]
    specs = list({random_source(spec): spec for *_, spec in loaded}.values())

    def random_name(spec: BackboneSpec) -> str:
        arch = f" ({spec.arch}/{spec.patch} at {spec.input_px} px)" if len(specs) > 1 else ""
        return f"random init, same arch{arch}"

    nets = [LabelNet(label, model, spec, random_name(spec), path) for label, path, model, spec in loaded]
    for spec in specs:
        torch.manual_seed(config.seed)
        nets.append(LabelNet(random_name(spec), build_backbone(spec).eval(), spec, None, random_source(spec)))
    return nets


def label_features(
    nets: list[LabelNet],
    images: np.ndarray,
    config: EvaluateConfig,
    progress: bool,
    embedded: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Embeddings of ``images`` by each of ``nets`` (taken from ``embedded``, by source, where the
    caller has them already), plus the pixel baseline; and each row's baseline row."""
    from radioexplore.embed.embedding import embed_tiles

    embedded = embedded or {}
    feats = {
        net.name: embedded[net.source]
        if net.source in embedded
        else embed_tiles(
            net.model,
            net.spec,
            images,
            config.batch_size,
            config.device,
            progress,
            input_px=config.input_px,
            tta=config.tta,
            clip_sigma=config.clip_sigma,
        )
        for net in nets
    }
    feats["pixel PCA (64 px, 50 comp.)"] = pixel_features(images)
    return feats, {net.name: net.baseline for net in nets if net.baseline}


def pixel_features(images: np.ndarray, px: int = 64) -> np.ndarray:
    """The pixel baseline: each image (``[N, C, S, S]`` in [0, 1]) area-resized to ``px`` and flattened."""
    t = torch.from_numpy(np.nan_to_num(np.asarray(images, dtype=np.float32)))
    return torch.nn.functional.interpolate(t, size=(px, px), mode="area").reshape(len(t), -1).numpy()


def label_probe_table(
    features: dict[str, np.ndarray],
    labels: np.ndarray,
    is_test: np.ndarray | None,
    config: EvaluateConfig,
    baselines: dict[str, str] | None = None,
) -> list[LabelProbeRow]:
    """Probe errors of each feature set: stratified CV over all images, and train -> test when a split is known.

    Pixel features get 50 PCA components (issue 10), embeddings ``config.pca_dims``. ``baselines``
    names, for a feature set, the row it is measured against (a checkpoint's random network).
    """
    baselines = baselines or {}
    rows = []
    for name, X in features.items():
        dims = 50 if name.startswith("pixel") else config.pca_dims
        cv = linear_probe(X, labels, "classification", pca_dims=dims, folds=config.folds, seed=config.seed)
        test = None
        if is_test is not None and is_test.any() and (~is_test).any():
            tt = linear_probe(X, labels, "classification", pca_dims=dims, train_mask=~is_test)
            test = tt.metrics["error"]
        rows.append(
            LabelProbeRow(
                name,
                cv.metrics["error"],
                float(np.std(cv.per_fold["error"])),
                test,
                cv.metrics["macro_f1"],
                baselines.get(name),
            )
        )
    return rows


def split_column(sub: pd.DataFrame) -> np.ndarray | None:
    """Boolean "is test" from a ``split`` (train/test) or ``is_test`` column, if the run has one."""
    if "is_test" in sub:
        return sub["is_test"].fillna(False).to_numpy(dtype=bool)
    if "split" in sub:
        return sub["split"].astype(str).str.lower().eq("test").to_numpy()
    return None
