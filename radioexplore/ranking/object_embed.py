"""Objects seen by the network: each object's source-centred stamp embedded by the run's backbone.

The shape features describe an island by a handful of numbers; the backbone sees the whole stamp
(seed 001's 2.5x the box, :func:`radioexplore.ranking.object_stamps.cut_stamps`). Each stamp is resampled
to the backbone's training input (a stamp is one object centred in its cutout, as the training
crops were: :func:`radioexplore.embed.embedding.run_embedding_px`) and scaled on its own as FITS stamps
are (:data:`radioexplore.ingest.stamps.FITS_STAMP_SCALING`, sigma-clipped noise floor to peak). The
embeddings go to ``RUN/objects/<name>.npy`` (:meth:`RunDir.object_embeddings`), one row per row of
``objects.parquet``. ``tta="dihedral"`` averages each stamp's read-out over its 8 rotations by quarter
turns and mirror images (a ring or an X is one at any angle; seed 003's D4 transforms) and ``pool`` reads
out the CLS token or the mean of the patch tokens (seed 003); both are recorded. Measured (issue 21,
benchmarks/README.md "Dihedral TTA, read-outs ... for the object stamps", 4 held-out simulated surveys):
beside the tile CLS, ring / X top-5% recall 0.581 +- 0.026 without TTA, 0.566 +- 0.023 with it (the
backbones are already invariant by training: orientation is ~1% of the stamp-to-stamp variance),
0.497 +- 0.048 with the patch-token mean; so the defaults stay ``none`` and ``cls``.

:func:`embedding_object_scores` is the optional object score that uses them: an Isolation Forest
(seed 002, sec. 5.2: 200 trees) over the standardised shape features and the first principal
components of the object embedding, fitted on the objects that are not likely artefacts, times
(1 - the object's own artefact score), as :func:`radioexplore.ranking.object_score.rank_objects` does
for the shape features alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.ranking.object_score import forest_features
from radioexplore.ranking.object_stamps import cut_stamps
from radioexplore.ranking.objects import LIKELY_ARTEFACT, ObjectConfig
from radioexplore.run.atomic import atomic_path
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: The object score that uses the embedding (``ObjectConfig.score_from``), and its sky part.
EMBED_SCORE = "embed_score"
EMBED_SHAPE_SCORE = "embed_shape_score"
#: Name of the object embedding in ``RUN/objects/`` when none is given.
OBJECT_EMBEDDING = "vit"


def scaled_stamps(image, objects: pd.DataFrame, px: int, scaling: str | None = None) -> np.ndarray:
    """Stamps ``[N, C, px, px]`` float32 in [0, 1]: :func:`cut_stamps` at ``px``, each scaled on its own
    finite pixels by ``scaling`` (default: FITS stamps' sigma-clip), blank pixels 0."""
    from radioexplore.ingest.scaling import make_scaler
    from radioexplore.ingest.stamps import FITS_STAMP_SCALING

    scaler = make_scaler(scaling or FITS_STAMP_SCALING)
    raw = cut_stamps(image, objects, px)
    out = np.zeros((len(raw), scaler.channels, px, px), dtype=np.float32)
    for i, stamp in enumerate(raw):
        finite = stamp[np.isfinite(stamp)]
        if finite.size < 16:
            continue
        out[i] = np.nan_to_num(scaler.apply(stamp, scaler.fit(finite)), nan=0.0)
    return out


def run_checkpoint(run: RunDir, checkpoint: str | None = None) -> str | None:
    """The checkpoint that embeds the objects: ``checkpoint`` if given, else the one the run's tiles
    were embedded with (run.toml, ``stages.embed``), else None (the shipped demo checkpoint)."""
    if checkpoint:
        return checkpoint
    for entry in run.stage_config("embed").values():
        used = entry.get("checkpoint_used") if isinstance(entry, dict) else None
        if used and used != "random init" and Path(used).is_file():
            return str(used)
    return None


def embed_objects(
    run: RunDir,
    objects: pd.DataFrame,
    checkpoint: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    name: str = OBJECT_EMBEDDING,
    scaling: str | None = None,
    tta: str = "none",
    pool: str = "cls",
) -> Path:
    """Embed every object of ``objects`` (rows of the run's object table, with ``field``) into
    ``RUN/objects/<name>.npy``, one row per object in table order; records ``stages.object_embed``.
    ``scaling``: the per-stamp scaling (:data:`radioexplore.ingest.scaling.SCALERS`; default FITS stamps');
    ``tta``: ``"dihedral"`` averages each stamp's read-out over its 8 rotations and flips
    (:mod:`radioexplore.embed.tta`); ``pool``: a ViT's read-out (:data:`radioexplore.models.vit.POOLS`)."""
    from radioexplore.embed.embedding import EmbedConfig, check_pool, check_tta, embed_tiles, load_model
    from radioexplore.io.fits import read_image

    check_tta(tta)
    ckpt = run_checkpoint(run, checkpoint)
    model, spec, meta = load_model(EmbedConfig(checkpoint=ckpt, device=device))
    check_pool(model, pool)
    px = int(spec.input_px)
    files = run.read_tiles(columns=["field", "file"]).drop_duplicates("field").set_index("field")["file"]
    rows: list[np.ndarray] = []
    dim = 0
    for field, part in objects.groupby("field", sort=False):
        if field not in files.index:
            raise RunDirError(
                f"{run.objects} names field {field!r}, absent from {run.tiles_table}; run `objects` again"
            )
        stamps = scaled_stamps(read_image(files[field]), part, px, scaling)
        emb = embed_tiles(
            model, spec, stamps, batch_size=batch_size, device=device, progress=False, input_px=px, pool=pool, tta=tta
        )
        dim = emb.shape[1]
        rows.append(pd.DataFrame(emb, index=part.index))
    emb = pd.concat(rows).loc[objects.index].to_numpy(np.float32) if rows else np.zeros((0, dim), np.float32)
    target = run.object_embeddings(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, emb)
    run.record(
        "object_embed",
        dict(
            checkpoint_used=str(ckpt or "shipped demo checkpoint"),
            spec=spec.to_dict(),
            stamp_px=px,
            pool=pool,
            tta=tta,
            scaling=f"per stamp, {scaling or 'radioexplore.ingest.stamps.FITS_STAMP_SCALING'}",
            n=len(emb),
            dim=int(emb.shape[1]) if emb.ndim == 2 else 0,
            provenance=meta.get("provenance", {}),
        ),
        key=name,
    )
    log.info("embedded %d object stamps at %d px into %s", len(emb), px, target)
    return target


def embedding_features(objects: pd.DataFrame, embedding: np.ndarray, components: int) -> np.ndarray:
    """[standardised shape features, first ``components`` principal components of ``embedding``], each
    component robustly standardised (median, IQR / 1.349) as the shape features are."""
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.shape[0] != len(objects):
        raise ValueError(
            f"object embedding has {emb.shape[0]} rows for {len(objects)} objects; embed the objects again"
        )
    shape = forest_features(objects)
    k = int(min(components, emb.shape[1], max(0, len(objects) - 1)))
    if k <= 0:
        return shape
    centred = emb - emb.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    pcs = centred @ vt[:k].T
    q1, q3 = np.percentile(pcs, [25, 75], axis=0)
    scale = (q3 - q1) / 1.349
    spread = pcs.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(spread > 0, spread, 1.0))
    pcs = (pcs - np.median(pcs, axis=0)) / scale
    return np.hstack([shape, pcs.astype(np.float32)]).astype(np.float32)


def embedding_object_scores(
    objects: pd.DataFrame, embedding: np.ndarray, config: ObjectConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(sky score, score) of each object from shape and embedding: an Isolation Forest over
    :func:`embedding_features` fitted on the objects below :data:`LIKELY_ARTEFACT` (all when fewer than 3),
    min-max to [0, 1]; score = sky x (1 - ``artefact_score``)."""
    from sklearn.ensemble import IsolationForest

    config = config or ObjectConfig()
    n = len(objects)
    if n < 3:
        return np.zeros(n, np.float32), np.zeros(n, np.float32)
    x = embedding_features(objects, embedding, config.embedding_components)
    artefact = np.clip(np.nan_to_num(objects["artefact_score"].to_numpy(dtype=float)), 0, 1)
    fit = artefact < LIKELY_ARTEFACT
    if np.count_nonzero(fit) < 3:
        fit = np.ones(n, dtype=bool)
    forest = IsolationForest(
        n_estimators=config.n_estimators, contamination=config.contamination, random_state=config.seed, n_jobs=1
    )
    forest.fit(x[fit])
    raw = -forest.score_samples(x)
    lo, hi = raw.min(), raw.max()
    sky = ((raw - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)
    return sky, (sky * (1.0 - artefact)).astype(np.float32)


def add_embedding_scores(
    run: RunDir,
    objects: pd.DataFrame,
    config: ObjectConfig | None = None,
    checkpoint: str | None = None,
    device: str = "auto",
    tta: str = "none",
    pool: str = "cls",
) -> pd.DataFrame:
    """``objects`` (ranked: with ``artefact_score``) embedded (:func:`embed_objects`, ``tta`` and ``pool``) and given the
    :data:`EMBED_SHAPE_SCORE` and :data:`EMBED_SCORE` columns; with ``config.score_from ==
    "shape_embedding"`` its ``score`` and ``rank`` become the embedding's."""
    config = config or ObjectConfig()
    path = embed_objects(run, objects, checkpoint=checkpoint, device=device, tta=tta, pool=pool)
    sky, score = embedding_object_scores(objects, np.load(path), config)
    out = objects.copy()
    out[EMBED_SHAPE_SCORE] = sky
    out[EMBED_SCORE] = score
    if config.score_from == "shape_embedding":
        order = np.lexsort((np.arange(len(score)), -score))
        ranks = np.empty(len(score), dtype=np.int64)
        ranks[order] = np.arange(1, len(score) + 1)
        out["score"] = score
        out["rank"] = ranks
    return out
