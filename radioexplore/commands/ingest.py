"""The ``ingest`` sub-command: wide-field FITS images, or a folder of stamps, cut into a run's tiles."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radioexplore.commands.common import dask_args, dask_client_of, default_of, positive_int, run_arg
from radioexplore.run.rundir import RunDir


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
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.ingest.report import IngestError
    from radioexplore.ingest.stamp_files import StampError
    from radioexplore.ingest.stamps import StampConfig, ingest_stamps

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
            with dask_client_of(args) as client:
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``ingest``."""
    p = sub.add_parser(
        "ingest",
        help="tile FITS images (or a folder of stamps) into a run directory",
        description="Wide-field FITS images are cut into tiles; with --stamps DIR every FITS, PNG or JPEG "
        "file of the folder becomes one tile.",
    )
    p.add_argument("fits", nargs="*", type=Path, help="FITS images (2-4 axes)")
    run_arg(p)
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
    dask_args(p)
    p.set_defaults(func=cmd_ingest)
