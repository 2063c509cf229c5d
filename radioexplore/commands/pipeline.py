"""Pipeline stages: simulate, ingest, embed, index, map, rank, objects, neighbours, demo."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from radioexplore.commands.common import dask_args as _dask_args
from radioexplore.commands.common import dask_client_of as _dask_client_of
from radioexplore.commands.common import default_of, non_negative_int, positive_int, require_tiles
from radioexplore.commands.common import embedding_name as _embedding_name
from radioexplore.commands.common import name_arg as _name_arg
from radioexplore.commands.common import run_arg as _run_arg
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.exclusion import parse_flags
from radioexplore.ranking.objects import ObjectConfig
from radioexplore.ranking.peculiar import METHODS
from radioexplore.ranking.standardise import STANDARDISE
from radioexplore.run.rundir import RunDir, RunDirError


def cmd_simulate(args: argparse.Namespace) -> int:
    from radioexplore.simulation import SimulationConfig, simulate_survey

    if args.out is None and args.preview is None:
        raise SystemExit("error: give --out DIR to simulate a survey, --preview PNG for the example grid, or both")
    if not args.artefact_strength >= 0 or not math.isfinite(args.artefact_strength):
        raise SystemExit(
            f"error: --artefact-strength must be a number >= 0 (1: as the DQF says; 4: strong); got {args.artefact_strength}"
        )
    config = SimulationConfig(
        fields=args.fields,
        size_px=args.size,
        seed=args.seed,
        naxis=args.naxis,
        artefact_strength=args.artefact_strength,
    )
    if args.out is not None:
        paths = simulate_survey(args.out, config, progress=not args.quiet)
        print(f"wrote {args.fields} FITS images and {', '.join(p.name for p in paths.values())} to {args.out}")
    if args.preview is not None:
        from radioexplore.simulation.preview import preview_grid

        path = preview_grid(args.preview, config, sim_dir=args.out, per_row=args.preview_per_row, tile_px=args.tile)
        print(f"wrote the example grid (one row per kind) to {path}")
    return 0


def _scaling_params(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise SystemExit(f"error: --scaling-param wants NAME=NUMBER, e.g. high=99.9; got {pair!r}")
    return out


def cmd_ingest(args: argparse.Namespace) -> int:
    from radioexplore.ingest.detect import DetectConfig
    from radioexplore.ingest.images import IngestConfig, IngestError, ingest
    from radioexplore.ingest.stamps import StampConfig, StampError, ingest_stamps

    run = RunDir(args.run)
    detector = DetectConfig(peak_sigma=args.detect_sigma)
    params = _scaling_params(args.scaling_param)
    try:
        if args.stamps is not None:
            if args.fits:
                raise SystemExit("error: give FITS images or --stamps DIR, not both")
            if args.dask or args.scheduler:
                raise SystemExit(
                    "error: --dask fans out wide-field images, one task per field; --stamps runs in one process"
                )
            for opt in ("catalog", "field_table", "truth"):
                if getattr(args, opt):
                    raise SystemExit(f"error: --{opt.replace('_', '-')} applies to wide-field images, not to --stamps")
            config = StampConfig(
                tile_px=args.tile,
                fit=args.stamp_fit,
                scaling=args.scaling,
                scaling_params=params,
                noise=args.noise,
                labels=str(args.labels) if args.labels else None,
                label_pattern=args.label_pattern,
                survey=args.survey,
                detect=not args.no_detect,
                detector=detector,
            )
            report = ingest_stamps(args.stamps, run, config, progress=not args.quiet)
        else:
            if not args.fits:
                raise SystemExit("error: give at least one FITS image to ingest, or --stamps DIR")
            if args.labels or args.label_pattern:
                raise SystemExit("error: --labels and --label-pattern apply to --stamps")
            if args.stamp_fit:
                raise SystemExit("error: --stamp-fit applies to --stamps")
            config = IngestConfig(
                tile_px=args.tile or default_of(IngestConfig, "tile_px"),
                scaling=args.scaling or default_of(IngestConfig, "scaling"),
                scaling_params=params,
                noise=args.noise,
                catalog=str(args.catalog) if args.catalog else None,
                exclude_multi=args.exclude_multi,
                field_table=str(args.field_table) if args.field_table else None,
                survey=args.survey,
                detect=not args.no_detect,
                detector=detector,
            )
            with _dask_client_of(args) as client:
                report = ingest(args.fits, run, config, progress=not args.quiet, client=client)
            if args.truth:
                from radioexplore.simulation.run_truth import attach_truth

                attach_truth(run, args.truth)
    except (IngestError, StampError, ValueError) as exc:
        if getattr(exc, "report", None) is not None:
            print(exc.report.summary())
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 1 if report.failed and args.strict else 0


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
    )
    with _dask_client_of(args) as client:
        path = embed_run(run, config, progress=not args.quiet, client=client)
    if run.read_meta().get("default_embedding") is None:
        run.record("embed", run.stage_config("embed", config.name), key=config.name, default_embedding=config.name)
    print(f"wrote {path}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from radioexplore.space.index import IndexConfig, index_run

    run = RunDir(args.run)
    path = index_run(run, _embedding_name(run, args.name), IndexConfig(factory=args.factory))
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
    print(f"wrote {map_run(run, _embedding_name(run, args.name), config, progress=not args.quiet)}")
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    from radioexplore.ranking.rank import rank_run

    run = RunDir(args.run)
    try:
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
        path = rank_run(run, _embedding_name(run, args.name), config)
    except (ValueError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def cmd_objects(args: argparse.Namespace) -> int:
    from radioexplore.ranking.object_run import objects_run

    run = RunDir(args.run)
    try:
        config = ObjectConfig(min_beams=args.min_beams, seed=args.seed, score_from=args.score)
        path = objects_run(
            run, config, progress=not args.quiet, embed=args.embed, checkpoint=args.checkpoint, device=args.device
        )
    except (ValueError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    from radioexplore.space.index import neighbours

    run = RunDir(args.run)
    try:
        hits = neighbours(run, _embedding_name(run, args.name), args.tile, args.k)
    except IndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(hits, indent=1))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from radioexplore.demo import DemoConfig, build_demo

    run = RunDir(args.run)
    config = DemoConfig(
        fields=args.fields,
        size_px=args.size,
        seed=args.seed,
        checkpoint=str(args.checkpoint) if args.checkpoint else None,
    )
    timings = build_demo(run, config, progress=not args.quiet)
    total = sum(timings.values())
    print(
        f"demo run ready in {run.root} ({total:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ")"
    )
    print(f"serve it with: panel serve app/ --args --run {run.root}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the pipeline sub-commands."""
    p = sub.add_parser("simulate", help="simulate a MeerKAT-like survey (FITS images + truth catalogue)")
    p.add_argument("--out", type=Path, help="output folder for the FITS images and catalogues")
    p.add_argument("--fields", type=positive_int, default=16, help="number of fields (default 16)")
    p.add_argument("--size", type=positive_int, default=2048, help="image side in pixels (default 2048)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same survey")
    p.add_argument("--naxis", type=int, choices=(2, 4), default=4, help="write 2-D or 4-D (FREQ, STOKES) images")
    p.add_argument(
        "--artefact-strength",
        type=float,
        default=1.0,
        help="multiplies every imaging artefact (default 1: the DQF levels; 4: the strong ripples, bowls and "
        "stripes of real DQF 2-3 fields; 0: none)",
    )
    p.add_argument(
        "--preview",
        type=Path,
        metavar="PNG",
        help="save a labelled grid of example tiles, one row per kind (cut from --out when given)",
    )
    p.add_argument("--preview-per-row", type=positive_int, default=5, help="examples per kind in the preview grid")
    p.add_argument("--tile", type=positive_int, default=256, help="tile size of the preview panels, pixels")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "ingest",
        help="tile FITS images (or a folder of stamps) into a run directory",
        description="Wide-field FITS images are cut into tiles; with --stamps DIR every FITS, PNG or JPEG "
        "file of the folder becomes one tile.",
    )
    p.add_argument("fits", nargs="*", type=Path, help="FITS images (2-4 axes)")
    _run_arg(p)
    p.add_argument(
        "--tile",
        type=positive_int,
        default=None,
        help="crop size in pixels (default 256, seed 000); with --stamps the default resamples every stamp "
        "to the collection's median side (at most 256)",
    )
    p.add_argument(
        "--scaling",
        default=None,
        help="per-field (per-stamp) scaling: contrast (2-98 percentile, seed 000; default for images), minmax "
        "(seed 001; default for PNG/JPEG stamps), sigmaclip (below 3 sigma of the clipped background to 0, "
        "then min-max, as FR-DEEP; default for FITS stamps), asinh_noise, zscale, asinh, powerlaw, signlog, "
        "three_channel (sigma-clip 5/30, zscale 0.25, zscale 0.4: 3 channels, seed 002)",
    )
    p.add_argument(
        "--scaling-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the scaling, e.g. high=99.9 for MIGHTEE-like images (repeatable)",
    )
    p.add_argument(
        "--noise",
        default="masked",
        choices=("masked", "local", "mad", "sigma_clip"),
        help="per-tile noise: masked (sources masked, clipped MAD; default), local (also removes a 32 px "
        "background mesh: thermal noise under diffuse emission), mad, sigma_clip",
    )
    p.add_argument(
        "--catalog", type=Path, help="PyBDSF-style source catalogue (FITS or CSV) for per-tile source counts"
    )
    p.add_argument(
        "--exclude-multi", action="store_true", help="ignore multi-Gaussian (S_Code M) sources, as MGCLS does"
    )
    p.add_argument(
        "--field-table", type=Path, help="CSV with columns field (or file), dqf giving each field's data-quality flag"
    )
    p.add_argument(
        "--no-detect",
        action="store_true",
        help="without a catalogue, leave source counts empty instead of running our detector",
    )
    p.add_argument(
        "--detect-sigma", type=float, default=5.0, help="detector peak threshold in units of the local rms (5)"
    )
    p.add_argument("--survey", default="", help="survey name recorded with every tile")
    p.add_argument(
        "--truth", type=Path, help="simulation folder whose truth columns to attach (simulated surveys only)"
    )
    g = p.add_argument_group("stamp collections")
    g.add_argument("--stamps", type=Path, metavar="DIR", help="folder of FITS/PNG/JPEG stamps, one tile per file")
    g.add_argument("--labels", type=Path, metavar="CSV", help="labels table with columns file,label")
    g.add_argument(
        "--label-pattern",
        metavar="REGEX",
        help="regular expression with one group, searched in each file's path, e.g. '^(FRI|FRII)/' or '_(\\w+)\\.png$'",
    )
    g.add_argument(
        "--stamp-fit",
        choices=("pad", "resample", "crop"),
        default=None,
        help="resample: resize every stamp to the tile (default without --tile); pad: crop larger stamps, pad "
        "smaller ones (default with --tile); crop: crop larger stamps, enlarge smaller ones",
    )
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any file failed")
    _dask_args(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("embed", help="embed every tile with a backbone")
    _run_arg(p)
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
        choices=("cls", "mean"),
        default="cls",
        help="ViT read-out: the CLS token (default) or the mean of the last layer's patch tokens (seed 003, for MAE)",
    )
    _dask_args(p).add_argument(
        "--block-tiles",
        type=positive_int,
        default=1024,
        help="tiles per Dask task with --dask (rounded up to whole batches; default 1024)",
    )
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("index", help="build the FAISS similarity index of an embedding set")
    _run_arg(p)
    _name_arg(p)
    p.add_argument("--factory", help="FAISS index_factory string (default: Flat for small runs, IVF above 50k tiles)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("map", help="2-D map of an embedding set (UMAP or t-SNE)")
    _run_arg(p)
    _name_arg(p)
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

    p = sub.add_parser("rank", help="Isolation Forest anomaly ranking of an embedding set")
    _run_arg(p)
    _name_arg(p)
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
        "peculiar_no_axis, forest (the plain Isolation Forest) or seed002 (LightGBM top-10 -> forest; needs labels)",
    )
    p.set_defaults(func=cmd_rank)

    p = sub.add_parser(
        "objects",
        help="find the extended objects of every field image, describe their shapes and rank them (objects.parquet)",
    )
    _run_arg(p)
    p.add_argument(
        "--min-beams",
        type=float,
        default=default_of(ObjectConfig, "min_beams"),
        help="smallest object, in beam areas: islands above 3 sigma larger than this are extended "
        "(default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=default_of(ObjectConfig, "seed"), help="seed of the Isolation Forest")
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
        "--checkpoint", default=None, help="backbone for --embed (default: the run's, else the shipped demo)"
    )
    p.add_argument("--device", default="auto", help="device for --embed: auto, cpu, cuda")
    p.set_defaults(func=cmd_objects)

    p = sub.add_parser("neighbours", help="print the K nearest tiles of a tile as JSON")
    _run_arg(p)
    _name_arg(p)
    p.add_argument("--tile", type=int, required=True, help="tile id (row of tiles.parquet)")
    p.add_argument("-k", type=positive_int, default=8, help="number of neighbours")
    p.set_defaults(func=cmd_neighbours)

    p = sub.add_parser("demo", help="simulate a survey and run every stage on it")
    _run_arg(p)
    p.add_argument("--fields", type=positive_int, default=16)
    p.add_argument("--size", type=positive_int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--checkpoint", type=Path, help="backbone checkpoint, or a shipped one by name (demo, real); default: demo"
    )
    p.set_defaults(func=cmd_demo)
