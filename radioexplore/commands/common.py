"""Arguments and look-ups shared by the sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from radioexplore.rundir import RunDir


def run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, type=Path, help="run directory (created if absent)")


def name_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=None, help="embedding set name (default: the run's default embedding)")


def embedding_name(run: RunDir, name: str | None) -> str:
    """``name`` if given, else the run's default embedding; exits with a hint when there is none."""
    if name:
        return name
    default = run.default_embedding()
    if default is None:
        raise SystemExit(f"error: {run.root} has no embeddings yet; run `radioexplore embed --run {run.root}` first")
    return default
