"""Object stamps read out every way at once: the 8 dihedral transforms x (CLS, mean of patch tokens).

Issue 21, "Object-pooled embeddings" and "Dihedral TTA on object stamps" in benchmarks/README.md. A ring
or an X-shaped source is one at any rotation or mirror image, so an object's stamp embedding may be
averaged over the dihedral group D4 (seed 003's probe-time transforms, :mod:`radioexplore.embed.tta`).
For each checkpoint this embeds every object stamp of the run (:func:`radioexplore.ranking.object_embed.
scaled_stamps`, as ``objects --embed`` cuts and scales them) once per transform, keeps the last layer's
CLS and patch-token mean, prints how much of the stamp-to-stamp variance is orientation (the orbit
variance: what the TTA can remove), and writes tile sets ``embeddings/<prefix>_<ckpt>_<read-out>_<tta>_<pool>``
beside ``--tile-embedding``: pool ``top1`` (the library's ``pool-objects --no-shape``) or ``max3`` (element-
wise max over the tile's 3 highest-scored objects), read-out ``cls``, ``mean`` or ``cat`` ([CLS, mean]; a tile
without objects repeats its tile row to that width). Then ``survey_probes.py --embeddings ...`` probes them.

    python benchmarks/object_stamp_variants.py --run RUN [--run RUN2] --checkpoint demo --checkpoint X.pt
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from radioexplore.embed.embedding import EmbedConfig, load_model, prepare_batch
from radioexplore.embed.tta import dihedral
from radioexplore.io.fits import read_image
from radioexplore.ranking.object_embed import scaled_stamps
from radioexplore.ranking.object_pool import ObjectPoolConfig, pool_objects, tile_members
from radioexplore.run.rundir import RunDir

READ_OUTS = ("cls", "mean", "cat")
TTAS = ("none", "dihedral")
POOLS = ("top1", "max3")


def orbit_tokens(run: RunDir, objects: pd.DataFrame, checkpoint: str | None) -> dict[str, np.ndarray]:
    """``{"cls", "mean"}``: ``[8, N, D]`` last-layer CLS and patch-token mean of every object stamp under each
    dihedral transform (transform 0: the stamp as ``objects --embed`` sees it)."""
    model, spec, _ = load_model(EmbedConfig(checkpoint=checkpoint, device="cpu"))
    px = int(spec.input_px)
    files = run.read_tiles(columns=["field", "file"]).drop_duplicates("field").set_index("field")["file"]
    pos = {ix: i for i, ix in enumerate(objects.index)}
    out = {k: np.zeros((8, len(objects), model.embed_dim), np.float32) for k in ("cls", "mean")}
    with torch.no_grad():
        for field, part in objects.groupby("field", sort=False):
            stamps = scaled_stamps(read_image(files[field]), part, px)
            rows = np.array([pos[i] for i in part.index])
            for s in range(0, len(stamps), 128):
                x = prepare_batch(torch.from_numpy(stamps[s : s + 128]), spec, px)
                for g in range(8):
                    tokens = model.forward_tokens(dihedral(x, g))
                    out["cls"][g, rows[s : s + 128]] = tokens[:, 0].numpy()
                    out["mean"][g, rows[s : s + 128]] = tokens[:, 1:].mean(1).numpy()
    return out


def read_out(tokens: dict[str, np.ndarray], how: str, tta: str) -> np.ndarray:
    """``[N, D]`` (``[N, 2D]`` for ``cat``) object embeddings: transform 0, or the mean over the 8."""
    parts = [
        tokens[k].mean(0) if tta == "dihedral" else tokens[k][0] for k in (("cls", "mean") if how == "cat" else (how,))
    ]
    return np.hstack(parts)


def pooled(members, objects: pd.DataFrame, emb: np.ndarray, tile: np.ndarray, pool: str) -> np.ndarray:
    """``[tile, pooled objects]`` per tile: the library's top-object pool where the widths allow, else this one."""
    if pool == "top1" and emb.shape[1] == tile.shape[1]:
        return pool_objects(members, objects, emb, tile, ObjectPoolConfig(shape=False))
    k = 1 if pool == "top1" else int(pool[3:])
    score = np.nan_to_num(objects["score"].to_numpy(float), nan=-np.inf)
    out = np.empty((len(members), emb.shape[1]))
    for i, m in enumerate(members):
        out[i] = np.resize(tile[i], emb.shape[1]) if len(m) == 0 else emb[m[np.lexsort((m, -score[m]))][:k]].max(0)
    return np.hstack([tile, out]).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="a run with objects.parquet; repeat for several")
    p.add_argument("--checkpoint", action="append", required=True, help="demo, real or a .pt file; repeat")
    p.add_argument("--tile-embedding", default="demo_none", help="the tile set put beside (default %(default)s)")
    p.add_argument("--prefix", default="st")
    args = p.parse_args()
    torch.set_num_threads(1)
    for root in args.run:
        run = RunDir(root)
        objects = pd.read_parquet(run.objects)
        members = tile_members(run.read_tiles(columns=["tile_id"])["tile_id"].to_numpy(), objects)
        tile = np.asarray(run.read_embeddings(args.tile_embedding, mmap=False), np.float64)
        for ckpt in args.checkpoint:
            t0 = time.perf_counter()
            tokens = orbit_tokens(run, objects, None if ckpt == "demo" else ckpt)
            short = Path(ckpt).stem
            for k, a in tokens.items():
                orbit = a.astype(np.float64).var(0).sum(1).mean() / a[0].astype(np.float64).var(0).sum()
                print(f"{run.root.name} {short} {k}: orientation is {100 * orbit:.1f}% of the stamp-to-stamp variance")
            for how, tta, pool in itertools.product(READ_OUTS, TTAS, POOLS):
                name = f"{args.prefix}_{short}_{how}_{tta}_{pool}"
                np.save(run.embeddings(name), pooled(members, objects, read_out(tokens, how, tta), tile, pool))
            print(f"{run.root.name} {short}: {len(objects)} objects x 8 transforms ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
