"""The ``radioexplore`` command line: one sub-command per pipeline stage.

Each sub-command reads and writes a run directory (see shared/DESIGN.md); run
``radioexplore COMMAND --help`` for its options.
"""

from __future__ import annotations

import argparse
import logging
import sys

from radioexplore.commands import COMMAND_MODULES
from radioexplore.rundir import RunDirError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radioexplore", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except RunDirError as exc:  # a run that lacks or contradicts an artefact: say which stage to run
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
