"""The ranking sub-commands: ``rank`` an embedding set's tiles; find, describe and rank the fields' ``objects``;
``pool-objects`` makes an embedding set of the tiles from their objects' stamp embeddings; ``curate`` writes the
objects' stamps as a stamps run (a curated pre-training set)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from radioexplore.commands.common import default_of, embedding_name, name_arg, non_negative_int, positive_int, run_arg
from radioexplore.commands.space import EMBED_POOLS, EMBED_TTAS
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.exclusion import parse_flags
from radioexplore.ranking.object_curated import CurateConfig
from radioexplore.ranking.object_pool import POOLS, ObjectPoolConfig
from radioexplore.ranking.objects import FEATURE_SETS, ObjectConfig
from radioexplore.ranking.peculiar import METHODS
from radioexplore.ranking.standardise import STANDARDISE
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir


def cmd_rank(args: argparse.Namespace) -> int:
    from radioexplore.ranking.rank import rank_run

    run = RunDir(args.run)

    def write() -> Path:
        config = RankConfig(
            n_estimators=args.trees,
            max_samples=args.max_samples,
            contamination=args.contamination,
            top_k=args.top_k,
            exclude_flags=args.exclude_flags,
            standardise=args.standardise,
            min_group=args.min_group,
            seed=args.seed,
            method=args.method,
        )
        return rank_run(run, embedding_name(run, args.name), config)

    return _print_written(write)


def cmd_objects(args: argparse.Namespace) -> int:
    from radioexplore.ranking.morphology import MorphConfig
    from radioexplore.ranking.object_run import objects_run

    run = RunDir(args.run)

    def write() -> Path:
        config = ObjectConfig(
            min_beams=args.min_beams,
            seed=args.seed,
            score_from=args.score,
            forest_features=args.features,
            ripple_model=args.ripple_model,
            lowsb_beams=tuple(args.lowsb_beams),
            plane_waves=args.plane_waves,
        )
        return objects_run(
            run,
            config,
            progress=not args.quiet,
            embed=args.embed,
            checkpoint=args.checkpoint,
            device=args.device,
            tta=args.tta,
            pool=args.read_out,
            morph=None if args.morph == "off" else MorphConfig(forest=args.morph),
        )

    return _print_written(write)


def cmd_pool_objects(args: argparse.Namespace) -> int:
    from radioexplore.ranking.object_pool import pool_run

    run = RunDir(args.run)

    def write() -> Path:
        config = ObjectPoolConfig(
            pool=args.pool,
            beside_tile=not args.no_tile,
            shape=not args.no_shape,
            tile_embedding=args.tile_embedding,
            object_embedding=args.object_embedding,
            name=args.name,
        )
        return pool_run(run, config)

    return _print_written(write)


def cmd_curate(args: argparse.Namespace) -> int:
    from radioexplore.ranking.object_curated import CurateConfig, curate_run

    def write() -> Path:
        config = CurateConfig(
            stamp_px=args.stamp_px,
            min_beams=args.min_beams,
            max_stamps=args.max_stamps,
            keep_artefacts=args.keep_artefacts,
        )
        report = curate_run(RunDir(args.run), RunDir(args.out), config)
        print(f"{report.n_tiles} object stamps from {len(report.ingested)} field(s)")
        return Path(args.out)

    return _print_written(write)


def _print_written(write: Callable[[], Path]) -> int:
    """Run ``write`` and print the path it wrote (status 0), or its ValueError / RunDirError as one line (2)."""
    try:
        path = write()
    except (ValueError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``rank``, ``objects``, ``pool-objects`` and ``curate``."""
    p = sub.add_parser("rank", help="Isolation Forest anomaly ranking of an embedding set")
    run_arg(p)
    name_arg(p)
    p.add_argument(
        "--trees",
        type=positive_int,
        default=default_of(RankConfig, "n_estimators"),
        help="number of trees (seed 002: %(default)s)",
    )
    p.add_argument(
        "--max-samples",
        type=float,
        default=default_of(RankConfig, "max_samples"),
        help="fraction of tiles per tree (seed 002: %(default)s)",
    )
    p.add_argument(
        "--contamination",
        type=float,
        default=default_of(RankConfig, "contamination"),
        help="fraction flagged as outliers (seed 002: %(default)s)",
    )
    p.add_argument(
        "--top-k",
        type=positive_int,
        help="rank on the K embedding features a LightGBM classifier of the labelled tiles finds most telling "
        "of interesting ones (seed 002: 5-10; needs labels)",
    )
    p.add_argument(
        "--exclude-flags",
        type=parse_flags,
        default=default_of(RankConfig, "exclude_flags"),
        metavar="FLAGS",
        help="comma-separated tile flags left out of the forest and ranked last (default: blank,partial: a tile "
        "cut by the image edge is isolated by its border; 'blank' alone ranks partial tiles too; 'none': "
        "exclude nothing). Partial tiles are ranked anyway in a stamps run (there they are padded stamps) and "
        "where they are most of the tiles",
    )
    p.add_argument(
        "--standardise",
        choices=STANDARDISE,
        default=default_of(RankConfig, "standardise"),
        help="robust scaling (median, IQR/1.349) of each embedding column before the forest: per field "
        "(default; a field observed differently does not stand out as a whole), over the run, or none",
    )
    p.add_argument(
        "--min-group",
        type=non_negative_int,
        default=default_of(RankConfig, "min_group"),
        help="--standardise field: fields with fewer ranked tiles use the run's statistics (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=default_of(RankConfig, "seed"))
    p.add_argument(
        "--method",
        choices=tuple(METHODS),
        default=default_of(RankConfig, "method"),
        help="ranker: peculiar (default: max(anomaly, object) quantile x (1 - artefact score)), "
        "peculiar_no_axis, objects_first (tiles with an object first, by it; the rest by the forest), "
        "objects_first_no_axis, forest_where_no_object (one scale, the forest only where no object lies), "
        "forest (the plain Isolation Forest) or seed002 (LightGBM top-10 -> forest; needs labels)",
    )
    p.set_defaults(func=cmd_rank)

    p = sub.add_parser(
        "objects",
        help="find the extended objects of every field image, describe their shapes and rank them (objects.parquet)",
    )
    run_arg(p)
    p.add_argument(
        "--min-beams",
        type=float,
        default=default_of(ObjectConfig, "min_beams"),
        help="smallest object, in beam areas: islands above 3 sigma larger than this are extended "
        "(default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=default_of(ObjectConfig, "seed"), help="seed of the Isolation Forest")
    p.add_argument(
        "--ripple-model",
        action=argparse.BooleanOptionalAction,
        default=default_of(ObjectConfig, "ripple_model"),
        help="subtract the calibration ripple rings round each bright source before finding the islands "
        "(ranking/ripple_model.py; default %(default)s)",
    )
    p.add_argument(
        "--lowsb-beams",
        type=float,
        nargs="*",
        default=default_of(ObjectConfig, "lowsb_beams"),
        help="also find faint extended (low-surface-brightness) islands on the image smoothed to these many beam "
        "FWHM, e.g. --lowsb-beams 2 (ranking/lowsb.py; none by default)",
    )
    p.add_argument(
        "--plane-waves",
        action=argparse.BooleanOptionalAction,
        default=default_of(ObjectConfig, "plane_waves"),
        help="subtract the plane waves across the whole image (DQF 3 ripples), found as the strongest peaks of its "
        "Fourier transform, before finding the islands (ranking/plane_waves.py; default %(default)s)",
    )
    p.add_argument(
        "--embed",
        action="store_true",
        help="also embed each object's stamp with the backbone (RUN/objects/vit.npy) and write embed_score",
    )
    p.add_argument(
        "--score",
        choices=("shape", "shape_embedding"),
        default=default_of(ObjectConfig, "score_from"),
        help="what an object's score comes from: shape features (default) or shape + stamp embedding (implies --embed)",
    )
    p.add_argument(
        "--features",
        choices=tuple(FEATURE_SETS),
        default=default_of(ObjectConfig, "forest_features"),
        help="the shape forest's features: standard (default) or physics (a limb-brightened shell instead of "
        "ring_coverage, and a double's extent beyond the survey's sources; measured, not the default: "
        "benchmarks/README.md)",
    )
    p.add_argument(
        "--morph",
        choices=("off", "quantile", "score"),
        default="score",
        help="give rings, X-shaped sources and giants their own evidence beside the forest, max-ed with the "
        "forest's score (default) or its quantile; off: the forest alone (ranking/morphology.py; measured on "
        "held-out surveys: benchmarks/README.md)",
    )
    p.add_argument(
        "--checkpoint", default=None, help="backbone for --embed (default: the run's, else the shipped demo)"
    )
    p.add_argument("--device", default="auto", help="device for --embed: auto, cpu, cuda")
    p.add_argument(
        "--tta",
        choices=EMBED_TTAS,
        default="none",
        help="test-time augmentation of each stamp for --embed: none (default) or dihedral = the read-out averaged "
        "over its 8 rotations by 90 degrees and mirror images (a ring or an X is one at any angle; 8x the time)",
    )
    p.add_argument(
        "--read-out",
        choices=EMBED_POOLS,
        default="cls",
        help="ViT read-out of each stamp for --embed, as embed --pool: cls (default), mean of the patch tokens, ...",
    )
    p.set_defaults(func=cmd_objects)

    p = sub.add_parser(
        "pool-objects",
        help="an embedding set of the tiles made from their objects' stamp embeddings (needs `objects --embed`)",
    )
    run_arg(p)
    p.add_argument(
        "--pool",
        choices=POOLS,
        default=default_of(ObjectPoolConfig, "pool"),
        help="top: the tile's highest-scored object (default); max: element-wise max over its objects; "
        "mean: mean weighted by the objects' area in beams; none: no object embedding (tile and shape only)",
    )
    p.add_argument("--no-tile", action="store_true", help="leave the tile's own embedding out (default: beside)")
    p.add_argument(
        "--no-shape", action="store_true", help="leave the top object's shape features out (default: appended)"
    )
    p.add_argument(
        "--tile-embedding",
        default=None,
        metavar="NAME",
        help="the tile embedding set put beside, and given to tiles without objects (default: the run's default)",
    )
    p.add_argument(
        "--object-embedding",
        default=default_of(ObjectPoolConfig, "object_embedding"),
        metavar="NAME",
        help="the object embedding, RUN/objects/NAME.npy (default %(default)s: what `objects --embed` writes)",
    )
    p.add_argument("--name", default=None, help="name of the set written (default: objects_<pool>[_tile][_shape])")
    p.set_defaults(func=cmd_pool_objects)

    p = sub.add_parser(
        "curate",
        help="write a run's extended objects as source-centred stamps into a new stamps run "
        "(a curated pre-training set for `pretrain --run` / `--also-run`; needs `objects`)",
    )
    run_arg(p)
    p.add_argument("--out", required=True, type=Path, help="the new run directory the stamps go to")
    p.add_argument(
        "--stamp-px", type=positive_int, default=default_of(CurateConfig, "stamp_px"), help="stamp side (%(default)s)"
    )
    p.add_argument(
        "--min-beams",
        type=float,
        default=default_of(CurateConfig, "min_beams"),
        help="keep objects of at least this many beam areas (default: every object of objects.parquet)",
    )
    p.add_argument(
        "--max-stamps",
        type=positive_int,
        default=None,
        help="keep at most this many, the most extended first (e.g. the uncurated run's tile count)",
    )
    p.add_argument(
        "--keep-artefacts",
        action="store_true",
        help="also keep objects whose own artefact score marks them as calibration patterns (default: left out)",
    )
    p.set_defaults(func=cmd_curate)
