"""Simulated-survey sub-commands: ``simulate`` (FITS images, truth, a preview grid) and ``demo`` (every stage)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from radioexplore.commands.common import positive_int, run_arg
from radioexplore.run.rundir import RunDir


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
    """Register ``simulate`` and ``demo``."""
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

    p = sub.add_parser("demo", help="simulate a survey and run every stage on it")
    run_arg(p)
    p.add_argument("--fields", type=positive_int, default=16)
    p.add_argument("--size", type=positive_int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--checkpoint", type=Path, help="backbone checkpoint, or a shipped one by name (demo, real); default: demo"
    )
    p.set_defaults(func=cmd_demo)
