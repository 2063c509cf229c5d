"""Arguments and look-ups shared by the sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radioexplore.run.fanout import DaskConfig
from radioexplore.run.rundir import RunDir

if TYPE_CHECKING:
    from distributed import Client


def default_of(config: type, field: str) -> Any:
    """The default of ``field`` in the config dataclass ``config``: an option's default is read, not typed again.

    The config cites the seed behind each default; reading it here keeps ``--help`` and the library in step.
    """
    for f in dataclasses.fields(config):
        if f.name != field:
            continue
        if f.default is not dataclasses.MISSING:
            return f.default
        if f.default_factory is not dataclasses.MISSING:
            return f.default_factory()
        raise ValueError(f"{config.__name__}.{field} has no default; give the option a default of its own")
    raise ValueError(f"{config.__name__} has no field {field!r}; check the option's config field name")


def positive_int(text: str) -> int:
    """An argparse type for counts (``-k``, ``--top``, ``--workers``, ...): a whole number >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type for counts where 0 means none or all (``--retries``, ``--components``): a whole number >= 0."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one >= {low}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is too small; give a whole number >= {low}")
    return value


def require_tiles(run: RunDir) -> None:
    """Exit with the command to run when ``run`` does not exist or holds no ingested tiles."""
    make = f"`radioexplore ingest FITS... --run {run.root}` or `radioexplore demo --run {run.root}`"
    if not run.root.exists():
        raise SystemExit(f"error: run directory {run.root} does not exist; make one with {make}")
    if not run.root.is_dir():
        raise SystemExit(f"error: --run {run.root} is a file, not a run directory; give the run's folder")
    if not run.tiles_table.is_file():
        raise SystemExit(f"error: {run.root} has no tiles ({run.tiles_table.name} is missing); run {make} first")


def run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, type=Path, help="run directory (created if absent)")


def name_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=None, help="embedding set name (default: the run's default embedding)")


def embedding_name(run: RunDir, name: str | None) -> str:
    """``name`` if given, else the run's default embedding; exits with a hint when there is none (or no run)."""
    require_tiles(run)
    if name:
        return name
    default = run.default_embedding()
    if default is None:
        raise SystemExit(f"error: {run.root} has no embeddings yet; run `radioexplore embed --run {run.root}` first")
    return default


def dask_args(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The options that fan a stage out over Dask distributed (see radioexplore/run/fanout.py); returns the group."""
    g = p.add_argument_group(
        "Dask fan-out",
        "run the work as Dask tasks on local worker processes or on a cluster; the artefacts are the same "
        "as without --dask. On a cluster the inputs and the run directory must be on a file system every "
        "worker sees under the same path.",
    )
    g.add_argument("--dask", action="store_true", help="fan out over a local Dask cluster (or --scheduler)")
    g.add_argument(
        "--workers",
        type=positive_int,
        default=default_of(DaskConfig, "workers"),
        help="local worker processes (default %(default)s)",
    )
    g.add_argument(
        "--threads-per-worker",
        type=positive_int,
        default=default_of(DaskConfig, "threads_per_worker"),
        help="tasks each local worker runs at once (default %(default)s)",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --dask)",
    )
    g.add_argument("--dashboard", action="store_true", help="serve the Dask dashboard of the local cluster")
    return g


@contextlib.contextmanager
def dask_client_of(args: argparse.Namespace) -> Iterator[Client | None]:
    """The Dask client the options ask for, or None (this process) without --dask / --scheduler."""
    if not (args.dask or args.scheduler):
        yield None
        return
    from radioexplore.run.fanout import dask_client

    try:
        config = DaskConfig(
            workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            scheduler=args.scheduler,
            dashboard=args.dashboard,
        )
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    with dask_client(config) as client:
        yield client
