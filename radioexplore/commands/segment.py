"""Diffuse-emission segmentation (seed 004): segment-train and segment."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from radioexplore.commands.common import dask_args as _dask_args
from radioexplore.commands.common import dask_client_of as _dask_client_of
from radioexplore.commands.common import positive_int, require_tiles
from radioexplore.commands.common import run_arg as _run_arg
from radioexplore.run.rundir import RunDir


def cmd_segment_train(args: argparse.Namespace) -> int:
    from radioexplore.segmentation.train import REGION_LOSSES, SegmentRecipe, train_segmenter

    if not (
        0 <= args.negative_fraction
        and 0 <= args.positive_fraction
        and args.positive_fraction + args.negative_fraction <= 1
    ):
        raise SystemExit(
            f"error: --positive-fraction ({args.positive_fraction}) and --negative-fraction ({args.negative_fraction}) "
            "are shares of the training crops: each 0 or more, together at most 1"
        )
    if args.region_loss not in REGION_LOSSES:
        raise SystemExit(f"error: --region-loss must be one of {', '.join(REGION_LOSSES)}; got {args.region_loss!r}")
    if args.taper_beams and args.taper_beams <= 1:
        raise SystemExit(
            f"error: --taper-beams is the tapered channel's FWHM in beams and must exceed 1 (the image's own beam), "
            f"e.g. 3; got {args.taper_beams} (0: off)"
        )
    if len(args.sim_dir) != 1 + len(args.more_sim_seeds):
        raise SystemExit(
            f"error: {len(args.sim_dir)} --sim-dir folder(s) for {1 + len(args.more_sim_seeds)} sky seed(s): give one "
            "folder per seed, --sim-seed's first, then one for each of --more-sim-seeds"
        )
    recipe = SegmentRecipe(
        arch=args.arch,
        steps=args.steps,
        crop_px=args.crop,
        positive_fraction=args.positive_fraction,
        negative_fraction=args.negative_fraction,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        fields=args.fields,
        size_px=args.size,
        sim_seed=args.sim_seed,
        more_sim_seeds=args.more_sim_seeds,
        region_loss=args.region_loss,
        radio_galaxies=not args.no_radio_galaxies,
        noise_background_px=args.noise_background,
        noise_from_below=args.noise_from_below,
        ripple_model=args.ripple_model,
        ripple_spoke_deg=args.ripple_spoke_deg,
        taper_beams=args.taper_beams,
    )
    command = "radioexplore " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = train_segmenter(
        recipe, args.sim_dir, args.out, device=args.device, command=command, progress=not args.quiet
    )
    if not result["main"]:
        return 0
    print(
        f"trained {recipe.arch} for {result['steps']} steps in {result['seconds']:.0f} s on {result['processes']} "
        f"process(es): loss {result['first_loss']:.4f} -> {result['final_loss']:.4f}; wrote {args.out}"
    )
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    from radioexplore.segmentation.run import SegmentConfig, segment_run

    run = RunDir(args.run)
    require_tiles(run)
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise SystemExit(f"error: --threshold must lie between 0 and 1 (a probability); got {args.threshold}")
    if args.core_threshold is not None and not 0 < args.core_threshold < 1:
        raise SystemExit(f"error: --core-threshold must lie between 0 and 1 (a probability); got {args.core_threshold}")
    if args.min_beams < 0:
        raise SystemExit(f"error: --min-beams is a number of beam areas, 0 or more; got {args.min_beams}")
    if args.max_compact_fraction is not None and not 0 < args.max_compact_fraction <= 1:
        raise SystemExit(
            f"error: --max-compact-fraction must lie in (0, 1] or be 'none'; got {args.max_compact_fraction}"
        )
    if args.max_negative_fraction is not None and not 0 < args.max_negative_fraction <= 1:
        raise SystemExit(
            f"error: --max-negative-fraction must lie in (0, 1] or be 'none'; got {args.max_negative_fraction}"
        )
    if args.spoke_sigma is not None and not args.spoke_sigma > 0:
        raise SystemExit(f"error: --spoke-sigma must be a positive number of sigma or 'none'; got {args.spoke_sigma}")
    if not 0 <= args.r_threshold <= 1:
        raise SystemExit(f"error: --r-threshold must lie between 0 and 1 (a mean probability); got {args.r_threshold}")
    if args.region_reach is not None and not args.region_reach >= 1:
        raise SystemExit(f"error: --region-reach is in aperture radii, 1 or more, or 'none'; got {args.region_reach}")
    config = SegmentConfig(
        checkpoint=str(args.checkpoint) if args.checkpoint else None,
        threshold=args.threshold,
        core_threshold=args.core_threshold,
        r_threshold=args.r_threshold,
        aperture_r500=args.aperture_r500,
        region_reach=args.region_reach,
        batch_size=args.batch_size,
        device=args.device,
        block_cores=args.block_cores,
        tta=args.tta,
        min_beams=args.min_beams,
        max_compact_fraction=args.max_compact_fraction,
        max_negative_fraction=args.max_negative_fraction,
        spoke_sigma=args.spoke_sigma,
        attribute_sidelobes=args.attribute_sidelobes,
        cut_pattern=args.cut_pattern,
        edge_sigma=args.edge_sigma,
        join_arcs=args.join_arcs,
    )
    with _dask_client_of(args) as client:
        summary = segment_run(run, config, clusters=args.clusters, client=client, progress=not args.quiet)
    for name, frac in summary["flagged_fraction"].items():
        core = summary.get("core_threshold")
        cored = f" (regions with a core above {core:g})" if core is not None else ""
        print(f"{name}: {100 * frac:.2f}% of the imaged area above {summary['threshold']:g}{cored}")
    if "clusters" in summary:
        print(
            f"{summary['clusters']['detected']} of {summary['clusters']['n']} clusters detected at R >= {config.r_threshold:g}"
        )
    print(f"wrote {run.segments_dir}")
    return 0


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integer seeds such as 101,102; got {text!r}"
        ) from None


def _fraction_or_none(text: str) -> float | None:
    return None if text.strip().lower() == "none" else float(text)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register segment-train and segment."""
    p = sub.add_parser(
        "segment-train",
        help="train the diffuse-emission U-Net (seed 004) on simulated skies with reference masks",
        description="Simulates training skies into --sim-dir (or reuses them) and trains a U-Net on 192 px "
        "crops with BCE + Dice loss. Under torchrun, every process trains with DDP.",
    )
    p.add_argument("--out", required=True, type=Path, help="checkpoint file to write (.pt)")
    p.add_argument(
        "--sim-dir",
        required=True,
        type=Path,
        nargs="+",
        help="folder of the training skies (simulated if absent); one per sky seed when --more-sim-seeds is given",
    )
    p.add_argument("--arch", default="unet_small", help="unet_small (8 base channels, default) or unet (16)")
    p.add_argument("--steps", type=positive_int, default=500)
    p.add_argument(
        "--crop", type=positive_int, default=128, help="training crop side, px (default 128; segment tiles are 192)"
    )
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument(
        "--positive-fraction",
        type=float,
        default=0.5,
        help="share of training crops centred on diffuse emission (default 0.5; the rest anywhere)",
    )
    p.add_argument(
        "--negative-fraction",
        type=float,
        default=0.0,
        help="share of training crops centred on hard negatives: radio galaxies, odd radio circles and compact "
        "sources above 100 sigma (default 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and crops")
    p.add_argument("--fields", type=positive_int, default=32, help="training fields to simulate (default 32)")
    p.add_argument("--size", type=positive_int, default=512, help="side of the training fields, px (default 512)")
    p.add_argument("--sim-seed", type=int, default=100, help="seed of the training skies (keep it off held-out seeds)")
    p.add_argument(
        "--more-sim-seeds",
        type=_seed_list,
        default=(),
        help="comma-separated seeds of further training skies with the same settings, each in its own --sim-dir "
        "(e.g. 101,102,103; default none)",
    )
    p.add_argument(
        "--region-loss",
        default="dice",
        help="region term beside binary cross-entropy: dice (seed 004, default), jaccard (soft IoU), lovasz "
        "(Lovasz hinge, Berman et al. 2018) or dice_kind (a strict soft Dice per kind of diffuse emission, averaged: "
        "halos, relics and filaments count once each, Sudre et al. 2017)",
    )
    p.add_argument(
        "--noise-background",
        type=int,
        default=0,
        help="px of the median mesh subtracted before the input's noise is measured, so that halos do not "
        "inflate it (stored in the checkpoint; default 0: none)",
    )
    p.add_argument(
        "--noise-from-below",
        action="store_true",
        help="cap each block's input noise by the field's noise envelope from below, which halos and ripples do "
        "not inflate (stored in the checkpoint; default off)",
    )
    p.add_argument(
        "--ripple-model",
        action="store_true",
        help="subtract the calibration-ripple model of sources above 100 sigma from the input "
        "(ranking/ripple_model.py; stored in the checkpoint; default off)",
    )
    p.add_argument(
        "--ripple-spoke-deg",
        type=float,
        default=0.0,
        help="with --ripple-model: take the sources' radial spokes out too, in sectors of this many degrees "
        "(e.g. 2; stored in the checkpoint; default 0: rings only)",
    )
    p.add_argument(
        "--taper-beams",
        type=float,
        default=0.0,
        help="give the network a second input channel: the image smoothed to this many beam FWHM (e.g. 3), in "
        "units of its own noise from the negative side, where faint emission over many beams stands out "
        "(stored in the checkpoint; default 0: the image alone)",
    )
    p.add_argument(
        "--no-radio-galaxies", action="store_true", help="skies without radio galaxies or peculiar objects (ablation)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_segment_train)

    p = sub.add_parser(
        "segment",
        help="probability maps of diffuse emission per field, per-tile columns and cluster R scores (seed 004)",
    )
    _run_arg(p)
    p.add_argument("--checkpoint", type=Path, help="segment-train checkpoint (default: the shipped one)")
    p.add_argument(
        "--clusters",
        type=Path,
        help="CSV, FITS or VOTable of cluster positions: ra, dec and r500 (arcmin) or radius (arcmin) or r_pix",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="probability above which a pixel is diffuse (default: the checkpoint's calibrated threshold, else 0.5)",
    )
    p.add_argument(
        "--core-threshold",
        type=float,
        default=None,
        help="hysteresis: keep a region above --threshold only when it holds a pixel above this (its core; PyBDSF's "
        "island / peak thresholds); default: the checkpoint's calibrated one when --threshold is not given, else none",
    )
    p.add_argument(
        "--r-threshold",
        type=float,
        default=0.015,
        help="detection ratio R above which a cluster is detected (seed 004: 0.015)",
    )
    p.add_argument(
        "--aperture-r500",
        type=float,
        default=1.0,
        help="aperture radius in units of R500 (default 1: a 2 R500 wide region)",
    )
    p.add_argument(
        "--region-reach",
        type=_fraction_or_none,
        default=1.5,
        help="R also counts the mask regions touching the aperture, out to this many aperture radii (a relic at the "
        "cluster's periphery, ~0.5-1.5 R500; default 1.5; 'none': the aperture alone, as seed 004)",
    )
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="average each tile's probability over its 8 flips and rotations (8x the time for about 0.01 of "
        "pixel IoU on held-out simulated skies; default off)",
    )
    p.add_argument(
        "--min-beams",
        type=float,
        default=30.0,
        help="drop regions above --threshold smaller than this many beam areas (default 30; 0: keep all)",
    )
    p.add_argument(
        "--max-compact-fraction",
        type=_fraction_or_none,
        default=None,
        help="drop regions on emission with more than this share of its flux in 3 beam-sized peaks "
        "(radio galaxies; default none: off, it drops halos with a bright galaxy in them too)",
    )
    p.add_argument(
        "--max-negative-fraction",
        type=_fraction_or_none,
        default=0.01,
        help="drop regions whose surroundings (8 beams) hold more than this share of pixels below -3 sigma: "
        "a bright source's sidelobes (default 0.01, ~7x the noise; 'none': keep all)",
    )
    p.add_argument(
        "--spoke-sigma",
        type=_fraction_or_none,
        default=5.0,
        help="drop regions elongated towards a bright source when a sector of the sky round it, at the same "
        "radii, is this many sigma below zero: its radial spokes (default 5; 'none': keep all)",
    )
    p.add_argument(
        "--attribute-sidelobes",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="spare from --max-negative-fraction the regions whose negatives a bright source's pattern explains "
        "(a sector round it beyond --spoke-sigma at the region's radii); the spoke test still judges them",
    )
    p.add_argument(
        "--cut-pattern",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="before the region tests, remove the pixels a bright source's error pattern explains (S/N not above "
        "the depth of the negatives flanking them round the source) and judge the pieces; default off",
    )
    p.add_argument(
        "--edge-sigma",
        type=_fraction_or_none,
        default=None,
        help="after the region tests, grow each kept region (within one beam) to the contour at this many sigma "
        "on the image smoothed to the beam; 2 is the simulator's truth level (default none: off)",
    )
    p.add_argument(
        "--join-arcs",
        type=_fraction_or_none,
        default=None,
        help="before the size test, join pieces under --min-beams that lie along one arc (aligned, gaps <= 3 beams) "
        "with the gap above this many sigma on the image smoothed to the beam (thin relics; default none: off)",
    )
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    _dask_args(p).add_argument(
        "--block-cores",
        type=positive_int,
        default=8,
        help="tile cores per block side (a Dask task per block; default 8)",
    )
    p.set_defaults(func=cmd_segment)
