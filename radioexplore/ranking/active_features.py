"""What the active ranker's regressor and trust see: the embedding's PCA, the artefact block and the top object's shape beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.ranking.morphology import MORPH_EVIDENCE
from radioexplore.ranking.object_score import forest_features
from radioexplore.ranking.peculiar import object_tile_pairs, tile_best_objects
from radioexplore.ranking.standardise import FieldStandardisation


def reduce_features(
    emb: np.ndarray,
    n_components: int,
    seed: int = 0,
    fit_rows: int = 20_000,
    scaling: FieldStandardisation | None = None,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """PCA of the (scaled) embedding to ``n_components`` dimensions (float32); 0 or >= D returns it whole.

    ``scaling`` (:func:`radioexplore.ranking.standardise.fit_scaling`) is applied first, chunk by chunk, so
    the regressor sees each tile against its own field as the forest does. The components are fitted
    on at most ``fit_rows`` random rows where ``keep`` is True (the ranked tiles: a partial tile's
    border should not take a component) and every row is projected, so 10^6 tiles take seconds.
    """
    n, d = emb.shape
    scaling = scaling if scaling is not None else FieldStandardisation("none")
    if not n_components or n_components >= min(n, d):
        return np.ascontiguousarray(scaling.transform(emb))
    from sklearn.decomposition import PCA

    rows = np.arange(n) if keep is None else np.flatnonzero(np.asarray(keep, dtype=bool))
    if len(rows) <= n_components:
        rows = np.arange(n)
    rng = np.random.default_rng(seed)
    if len(rows) > fit_rows:
        rows = np.sort(rng.choice(rows, fit_rows, replace=False))
    pca = PCA(n_components, svd_solver="covariance_eigh", random_state=seed).fit(scaling.transform(emb, rows))
    out = np.empty((n, n_components), dtype=np.float32)
    mean = pca.mean_.astype(np.float32)
    comps = pca.components_.T.astype(np.float32)
    for start in range(0, n, 65536):
        block = scaling.transform(emb, np.arange(start, min(start + 65536, n)))
        out[start : start + len(block)] = (block - mean) @ comps
    return out


def joint_features(
    features: np.ndarray, artefacts: np.ndarray, weight: float, keep: np.ndarray | None = None
) -> np.ndarray:
    """``features`` beside the artefact block scaled to ``weight`` of their total variance (over the ``keep``
    rows), so the regressor and the trust see what makes a tile an artefact; ``features`` alone when
    ``weight`` or either variance is 0."""
    block = scaled_block(features, artefacts, weight, keep)
    if block is None:
        return features
    return np.ascontiguousarray(np.hstack([features, block]), dtype=np.float32)


def scaled_block(
    features: np.ndarray, block: np.ndarray, weight: float, keep: np.ndarray | None = None
) -> np.ndarray | None:
    """``block`` scaled so that its total variance is ``weight`` times that of ``features`` (over the ``keep``
    rows); None when ``weight`` or either variance is 0."""
    if weight <= 0:
        return None
    rows = slice(None) if keep is None else keep
    var_emb = float(features[rows].var(0).sum())
    var_block = float(block[rows].var(0).sum())
    if var_block > 0 and var_emb > 0:
        return (block * np.float32(np.sqrt(weight * var_emb / var_block))).astype(np.float32)
    return None


def artefact_block(scores: pd.DataFrame) -> np.ndarray | None:
    """The artefact axis of ``scores/<name>.parquet`` as ``[N, 5]`` numbers in 0..1 (NaN -> 0): the score,
    and its evidence and context mapped as :func:`radioexplore.ranking.artefacts.artefact_score` maps them
    (negative beams, negative share, ring contrast, expected artefact level); None without the columns."""
    if "artefact_score" not in scores:
        return None

    def col(name: str) -> np.ndarray:
        v = scores[name].to_numpy(dtype=float) if name in scores else np.zeros(len(scores))
        return np.nan_to_num(v, nan=0.0)

    ring, near = col("artefact_ring_contrast"), col("artefact_expected_artefact_sigma")
    out = np.column_stack(
        [
            col("artefact_score"),
            1.0 - np.exp(-col("artefact_negative_beams")),
            np.minimum(1.0, 2.0 * col("artefact_negative_share")),
            ring**2 / (ring**2 + 25.0),
            near**2 / (near**2 + 25.0),
        ]
    )
    return out.astype(np.float32)


def teach_block(
    scores: pd.DataFrame, field_context: bool = False, pattern: np.ndarray | None = None
) -> np.ndarray | None:
    """What the labels' logistic regression reads (:func:`radioexplore.ranking.teach.label_classifier`):
    :func:`artefact_block` and the ripple significance against the same 5 sigma, ``x^2 / (x^2 + 25)``
    (:mod:`radioexplore.ranking.ripples`), as ``[N, 6]`` in 0..1; None without the artefact columns.
    ``pattern``: each tile's top object's alignment with its bright source's error pattern in (-1, 1)
    (:func:`radioexplore.ranking.pattern_geometry.tile_pattern_evidence`), appended as a last column when given.

    Ripples whose troughs stay above -5 sigma read as sky in every column of the block, so without
    this one the labels have no evidence to teach through. It is kept out of the look-alike space
    (the regressor's features and the kernels), where it made a peculiar object beside a bright
    source a look-alike of the ripples round it (benchmarks/README.md, issue 24, teach-ripples).
    """
    block = artefact_block(scores)
    if block is None:
        return None
    ripple = scores["artefact_ripple_sigma"].to_numpy(dtype=float) if "artefact_ripple_sigma" in scores else None
    ripple = np.zeros(len(scores)) if ripple is None else np.nan_to_num(ripple, nan=0.0)
    cols = [block, ripple**2 / (ripple**2 + 25.0)]
    if (
        field_context
    ):  # the field's DQF / 3 and the level its peak's errors reach (artefacts.artefact_score's field term)
        dqf = (
            np.nan_to_num(scores["artefact_dqf"].to_numpy(dtype=float), nan=0.0) / 3.0
            if "artefact_dqf" in scores
            else 0
        )
        dr = 0.01 * np.nan_to_num(scores["artefact_field_dynamic_range"].to_numpy(dtype=float), nan=0.0)
        cols += [np.broadcast_to(dqf, len(scores)), dr**2 / (dr**2 + 25.0)]
    if pattern is not None:
        cols.append(np.nan_to_num(np.asarray(pattern, dtype=float).reshape(len(scores)), nan=0.0))
    return np.column_stack(cols).astype(np.float32)


def shape_block(objects: pd.DataFrame | None, n_tiles: int, column: str = "score") -> np.ndarray | None:
    """Each tile's top object (by ``column``, :func:`radioexplore.ranking.peculiar.tile_best_objects`) as
    the object forest sees its shape (:func:`radioexplore.ranking.object_score.forest_features`: log where
    a feature spans decades, robustly standardised over the run's objects), beside a column that is 1 where
    the tile holds an object; ``[n_tiles, F + 1]``, zeros for a tile without one; None without objects.

    A PECULIAR / 5 label says "objects of this shape" (a ring, an X); the tile's embedding, made of
    pixel statistics or a CLS among ~40 compact sources, barely encodes it (issue 24), so a label
    reaches its look-alikes only where the shape is beside the embedding.
    """
    if objects is None or objects.empty or "tile_ids" not in objects:
        return None
    if column not in objects:
        raise ValueError(f"objects table has no {column!r} column; rebuild it with `radioexplore objects --score`")
    best = tile_best_objects(objects, n_tiles, column)
    feats = np.nan_to_num(forest_features(objects), nan=0.0, posinf=0.0, neginf=0.0)
    out = np.zeros((n_tiles, feats.shape[1] + 1), dtype=np.float32)
    has = best >= 0
    out[has, :-1] = feats[best[has]]
    out[has, -1] = 1.0
    return out


def tile_morphology(objects: pd.DataFrame | None, n_tiles: int) -> np.ndarray | None:
    """Per tile, the largest ``morph_evidence`` (ring, X-shape, giant double: :mod:`radioexplore.ranking.morphology`)
    among the objects whose ``tile_ids`` hold it, 0 for none; None without objects or without the column (an
    objects table written without ``--morph``)."""
    if objects is None or objects.empty or not {"tile_ids", MORPH_EVIDENCE} <= set(objects.columns):
        return None
    evidence = np.clip(np.nan_to_num(objects[MORPH_EVIDENCE].to_numpy(dtype=np.float32)), 0.0, 1.0)
    rows, tiles = object_tile_pairs(objects, n_tiles)
    out = np.zeros(n_tiles, dtype=np.float32)
    np.maximum.at(out, tiles, evidence[rows])
    return out
