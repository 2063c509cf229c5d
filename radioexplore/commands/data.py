"""Data commands: fetch cutouts from a VO image service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radioexplore.commands.common import non_negative_int, positive_int


def cmd_fetch(args: argparse.Namespace) -> int:
    from radioexplore.io.fetch import FetchConfig, FetchError, fetch_cutouts, read_positions

    config = FetchConfig(
        service=args.service,
        protocol=args.protocol,
        size_deg=args.size / 60.0,
        max_per_position=args.max_per_position,
        retries=args.retries,
        backoff_s=args.backoff,
        timeout_s=args.timeout,
    )
    try:
        positions = read_positions(args.positions)
        report = fetch_cutouts(positions, args.out, config, progress=not args.quiet)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"ingest them with: radioexplore ingest --stamps {args.out} --run RUN")
    return 1 if report.failed else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the data sub-commands."""
    p = sub.add_parser(
        "fetch",
        help="download FITS cutouts for a list of positions from a VO image service (SIA / SIA2)",
        description="Query a Simple Image Access service at every position and save the FITS images it "
        "lists into a folder, with retries, a cache and resumption (re-run the same command after an "
        "interruption: what is done is kept, what failed is retried).",
    )
    p.add_argument("positions", type=Path, help="CSV with columns ra,dec[,name] (degrees) or a VOTable")
    p.add_argument("--service", required=True, help="base URL of the SIA query endpoint")
    p.add_argument("--out", required=True, type=Path, help="folder for the cutouts and manifest.jsonl")
    p.add_argument("--protocol", choices=("sia", "sia2"), default="sia", help="SIA 1.0 (default) or SIA 2.0")
    p.add_argument("--size", type=float, default=3.0, help="cutout size in arcmin (SIA SIZE; SIA2 circle diameter)")
    p.add_argument("--max-per-position", type=positive_int, default=1, help="images kept per position (default 1)")
    p.add_argument(
        "--retries", type=non_negative_int, default=3, help="extra attempts after a failed query or download"
    )
    p.add_argument("--backoff", type=float, default=1.0, help="seconds before the first retry, doubled each time")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one request")
    p.set_defaults(func=cmd_fetch)
