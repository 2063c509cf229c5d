"""Tile embeddings pooled from the tile's objects: what the tile holds, seen object by object.

A ring or an X among ~40 compact sources is a few percent of a 256 px tile, and the tile's CLS token
barely carries it (issue 21). The extended objects of the tile were each cut as a source-centred stamp
sized to the object and embedded by the run's backbone (:mod:`radioexplore.ranking.object_embed`;
seed 001's curated crops, 2.5x the island's box; seed 002, Riggi et al. 2024, searches peculiar
objects among source cutouts, not among sky tiles). Here those stamp embeddings become one row per
tile, an ordinary embedding set of the run (``embeddings/<name>.npy``) that ``evaluate``, the map,
the probe and ``rank`` use unchanged. The tile is a bag of objects (multiple-instance pooling,
Ilse, Tomczak & Welling 2018):

- ``top``: the stamp embedding of the tile's highest-scored object (the object ranking's ``score``:
  shape peculiarity x (1 - its own artefact score), so a calibration pattern's troughs do not pick it);
- ``max``: element-wise max over the tile's objects;
- ``mean``: mean over the tile's objects weighted by their area in beams (each object as much as
  its share of the tile's extended emission);
- ``none``: no object embedding (with ``beside_tile`` and ``shape``: the tile's embedding and its top
  object's shape features; the ablation of benchmarks/README.md, "Object-pooled embeddings").

Options put the tile's own embedding beside it (``beside_tile``) and the chosen object's shape
features (``shape``: ring with a hole, crossed axes, size in beams; standardised as the object
forest sees them). A tile that holds no extended object takes the tile's own embedding as its object
part and, for the shape part, the least value of each feature over the run's objects (no
extended emission).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.ranking.object_embed import OBJECT_EMBEDDING
from radioexplore.ranking.object_score import forest_features
from radioexplore.run.atomic import atomic_path
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: How a tile's objects are pooled into one vector.
POOLS = ("top", "max", "mean", "none")


@dataclass(frozen=True)
class ObjectPoolConfig:
    """How an object-pooled embedding set is made (see the module docstring)."""

    pool: str = "top"  # top, max, mean (area-weighted) or none
    beside_tile: bool = True  # [tile embedding, pooled objects]
    shape: bool = True  # + the shape features of the tile's top object
    tile_embedding: str | None = None  # the tile set: default the run's default embedding
    object_embedding: str = OBJECT_EMBEDDING  # RUN/objects/<name>.npy
    name: str | None = None  # the set written; default objects_<pool>[_tile][_shape]

    def __post_init__(self) -> None:
        if self.pool not in POOLS:
            raise ValueError(f"pool {self.pool!r} is not one of {', '.join(POOLS)}")
        if self.pool == "none" and not (self.beside_tile or self.shape):
            raise ValueError("pool none without the tile embedding or the shape features leaves nothing to write")

    def set_name(self) -> str:
        """The embedding set's name: ``name`` or one that says how it was made."""
        return self.name or "_".join(
            ["objects", self.pool, *(["tile"] if self.beside_tile else []), *(["shape"] if self.shape else [])]
        )


def tile_members(tile_ids: np.ndarray, objects: pd.DataFrame) -> list[np.ndarray]:
    """Per tile (in the order of ``tile_ids``): the row positions of the objects that lie in it
    (``objects.tile_ids``: the tile holding the centroid and any holding a part of the object)."""
    where = {int(t): i for i, t in enumerate(tile_ids)}
    members: list[list[int]] = [[] for _ in tile_ids]
    for j, listed in enumerate(objects["tile_ids"]):
        for t in listed:
            if int(t) in where:
                members[where[int(t)]].append(j)
    return [np.asarray(m, dtype=np.int64) for m in members]


def pool_objects(
    members: list[np.ndarray],
    objects: pd.DataFrame,
    object_emb: np.ndarray,
    tile_emb: np.ndarray,
    config: ObjectPoolConfig = ObjectPoolConfig(),
) -> np.ndarray:
    """One row per tile (float32): its objects pooled by ``config.pool`` (the tile's own row of
    ``tile_emb`` when it holds none), with ``tile_emb`` beside it and the top object's shape features
    as ``config`` asks."""
    emb = np.asarray(object_emb, dtype=np.float64)
    tiles = np.asarray(tile_emb, dtype=np.float64)
    if emb.shape[0] != len(objects):
        raise ValueError(
            f"object embedding has {emb.shape[0]} rows for {len(objects)} objects; embed the objects again"
        )
    if tiles.shape[0] != len(members):
        raise ValueError(f"tile embedding has {tiles.shape[0]} rows for {len(members)} tiles")
    if emb.shape[1] != tiles.shape[1]:
        raise ValueError(
            f"object embedding has {emb.shape[1]} columns, the tile embedding {tiles.shape[1]}: embed the objects "
            "with the tiles' backbone and read-out (`objects --embed --checkpoint` the tiles' checkpoint, "
            "`--read-out` as the tiles' `embed --pool`)"
        )
    score = np.nan_to_num(objects["score"].to_numpy(float), nan=-np.inf)
    area = np.maximum(np.nan_to_num(objects["area_beams"].to_numpy(float)), 0.0)
    shape = forest_features(objects).astype(np.float64) if config.shape else np.zeros((len(objects), 0))
    none_shape = shape.min(axis=0) if len(shape) else np.zeros(shape.shape[1])
    pooled = np.empty((len(members), 0 if config.pool == "none" else tiles.shape[1]))
    chosen = np.empty((len(members), shape.shape[1]))
    for i, m in enumerate(members):
        if len(m) == 0:
            pooled[i], chosen[i] = tiles[i, : pooled.shape[1]], none_shape
            continue
        top = m[np.lexsort((m, -score[m]))[0]]  # highest score; ties: the first object
        chosen[i] = shape[top]
        if config.pool == "none":
            continue
        if config.pool == "top":
            pooled[i] = emb[top]
        elif config.pool == "max":
            pooled[i] = emb[m].max(axis=0)
        else:
            w = area[m] if area[m].sum() > 0 else np.ones(len(m))
            pooled[i] = w @ emb[m] / w.sum()
    parts = [tiles] if config.beside_tile else []
    return np.hstack([*parts, pooled, chosen]).astype(np.float32)


def pool_run(run: RunDir, config: ObjectPoolConfig = ObjectPoolConfig()) -> Path:
    """Write the object-pooled embedding set of ``run`` (``embeddings/<name>.npy``, one row per tile)
    from ``objects.parquet`` and its object embedding, recorded in run.toml under ``stages.embed``."""
    tile_name = config.tile_embedding or run.default_embedding()
    if not tile_name:
        raise RunDirError(f"{run.root} has no embedding set: run `radioexplore embed --run {run.root}` first")
    if run.stage_config("embed", tile_name).get("pooled_from"):
        raise ValueError(
            f"embedding {tile_name!r} is itself pooled from objects; pass --tile-embedding with a set made by `embed`"
        )
    tile_emb = run.read_embeddings(tile_name, mmap=False)
    obj_path = run.object_embeddings(config.object_embedding)
    if not run.objects.is_file() or not obj_path.is_file():
        raise RunDirError(
            f"{run.objects if not run.objects.is_file() else obj_path} does not exist: run "
            f"`radioexplore objects --run {run.root} --embed` first"
        )
    objects = pd.read_parquet(run.objects)
    tiles = run.read_tiles(columns=["tile_id"])
    name = config.set_name()
    if name == tile_name:
        raise ValueError(f"--name {name} is the tile embedding set it is built from; name another")
    members = tile_members(tiles["tile_id"].to_numpy(), objects)
    out = pool_objects(members, objects, np.load(obj_path), tile_emb, config)
    target = run.embeddings(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, out)
    tile_rec = run.stage_config("embed", tile_name)
    obj_rec = run.stage_config("object_embed", config.object_embedding)
    n_objects = sum(1 for m in members if len(m))
    run.record(
        "embed",
        dict(
            asdict(config),
            tile_embedding_used=tile_name,
            checkpoint_used=str(tile_rec.get("checkpoint_used", "")),
            object_checkpoint_used=str(obj_rec.get("checkpoint_used", "")),
            pooled_from="objects",
            dim=int(out.shape[1]),
            n=int(out.shape[0]),
            tiles_with_objects=n_objects,
            built_from=dict(run.provenance(), embedding_checksum=run.embedding_checksum(name)),
            sources="object stamps: seed 001 curated crops (2.5x the box); peculiar objects among source "
            "cutouts: seed 002 (Riggi et al. 2024); pooling a bag of objects: Ilse, Tomczak & Welling 2018",
        ),
        key=name,
    )
    log.info("pooled %d objects into %d tiles (%d hold one) into %s", len(objects), len(out), n_objects, target)
    return target
