"""Embedding-space sub-commands: ``embed`` tiles, ``index`` and ``map`` an embedding set, a tile's ``neighbours``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from radioexplore.commands.common import (
    dask_args,
    dask_client_of,
    default_of,
    embedding_name,
    name_arg,
    non_negative_int,
    positive_int,
    require_tiles,
    run_arg,
)
from radioexplore.run.rundir import RunDir

#: ``embed --pool`` choices: radioexplore.models.vit.POOLS, spelled out so the parser does not import torch.
EMBED_POOLS = ("cls", "mean", "max", "gem", "cat")

#: ``embed --tta`` choices: radioexplore.embed.tta.TTAS, spelled out for the same reason.
EMBED_TTAS = ("none", "dihedral")


def cmd_embed(args: argparse.Namespace) -> int:
    from radioexplore.embed.embedding import EmbedConfig, embed_run

    run = RunDir(args.run)
    require_tiles(run)
    config = EmbedConfig(
        name=args.name or default_of(EmbedConfig, "name"),
        checkpoint=str(args.checkpoint) if args.checkpoint else None,
        random_init=args.random_init,
        batch_size=args.batch_size,
        device=args.device,
        input_px=args.input_px,
        block_tiles=args.block_tiles,
        pool=args.pool,
        tta=args.tta,
        clip_sigma=args.clip_sigma,
    )
    with dask_client_of(args) as client:
        path = embed_run(run, config, progress=not args.quiet, client=client)
    if run.read_meta().get("default_embedding") is None:
        run.record("embed", run.stage_config("embed", config.name), key=config.name, default_embedding=config.name)
    print(f"wrote {path}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from radioexplore.space.index import IndexConfig, index_run

    run = RunDir(args.run)
    path = index_run(run, embedding_name(run, args.name), IndexConfig(factory=args.factory))
    print(f"wrote {path}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from radioexplore.space.maps import MapConfig, map_run

    run = RunDir(args.run)
    config = MapConfig(
        method=args.method,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        perplexity=args.perplexity,
        seed=args.seed,
        sample_above=args.sample_above,
        sample_size=args.sample_size,
        place=args.place,
    )
    print(f"wrote {map_run(run, embedding_name(run, args.name), config, progress=not args.quiet)}")
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    from radioexplore.space.index import neighbours

    run = RunDir(args.run)
    try:
        hits = neighbours(run, embedding_name(run, args.name), args.tile, args.k)
    except IndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(hits, indent=1))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``embed``, ``index``, ``map`` and ``neighbours``."""
    p = sub.add_parser("embed", help="embed every tile with a backbone")
    run_arg(p)
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="backbone checkpoint (ours or official DINO), or a shipped one by name (demo, real); default: demo",
    )
    p.add_argument("--name", help="name of this embedding set (default: vit)")
    p.add_argument("--random-init", action="store_true", help="use a randomly initialised network (a baseline)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument(
        "--input-px",
        type=positive_int,
        help="side tiles are resized to before the network (default: their own, at least the backbone's "
        "training input and at most 256; stamps: the backbone's training input)",
    )
    p.add_argument(
        "--pool",
        choices=EMBED_POOLS,
        default="cls",
        help="ViT read-out: the CLS token (default), the mean of the last layer's patch tokens (seed 003, for MAE), "
        "their max, their GeM (p=3), or cat = [CLS, mean, max] (3x wider)",
    )
    p.add_argument(
        "--tta",
        choices=EMBED_TTAS,
        default="none",
        help="test-time augmentation: none (default) or dihedral = the read-out averaged over the 8 rotations by "
        "90 degrees and their mirror images (orientation-invariant; 8x the embedding time)",
    )
    p.add_argument(
        "--clip-sigma",
        type=float,
        help="embed each tile's noise-clipped view: only emission above median + this many sigma of the tile's "
        "noise (MAD), rescaled to its peak, as FR-DEEP and the FIRST stamp collections are made (default: off)",
    )
    dask_args(p).add_argument(
        "--block-tiles",
        type=positive_int,
        default=1024,
        help="tiles per Dask task with --dask (rounded up to whole batches; default 1024)",
    )
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("index", help="build the FAISS similarity index of an embedding set")
    run_arg(p)
    name_arg(p)
    p.add_argument("--factory", help="FAISS index_factory string (default: Flat for small runs, IVF above 50k tiles)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("map", help="2-D map of an embedding set (UMAP or t-SNE)")
    run_arg(p)
    name_arg(p)
    p.add_argument(
        "--method",
        choices=("umap", "tsne", "pca"),
        default="umap",
        help="UMAP (default), t-SNE (openTSNE, FFT-accelerated) or plain PCA",
    )
    p.add_argument(
        "--sample-above",
        type=non_negative_int,
        default=200_000,
        help="fit on a random sample above this many tiles and place the rest (see --place)",
    )
    p.add_argument("--sample-size", type=positive_int, default=100_000, help="size of that random sample")
    p.add_argument(
        "--place",
        choices=("auto", "neighbours", "transform"),
        default="auto",
        help="how tiles outside the sample are placed: at the weighted mean of their nearest fitted tiles "
        "(neighbours, fast), with the method's own transform (slow for UMAP / t-SNE), or auto "
        "(transform for pca, neighbours otherwise)",
    )
    p.add_argument("--n-neighbors", type=positive_int, default=15, help="UMAP neighbours")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP minimum distance")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("neighbours", help="print the K nearest tiles of a tile as JSON")
    run_arg(p)
    name_arg(p)
    p.add_argument("--tile", type=int, required=True, help="tile id (row of tiles.parquet)")
    p.add_argument("-k", type=positive_int, default=8, help="number of neighbours")
    p.set_defaults(func=cmd_neighbours)
