"""Fan-out of per-field ingest and per-block embedding over Dask distributed, or a plain loop.

A survey of 10^5-10^7 tiles is tiled and embedded on many processes or machines; a demo on a
laptop in one. Both run the same task functions (:func:`radioexplore.ingest.images.ingest_field`,
:func:`radioexplore.embed.embedding.embed_block`): :func:`map_tasks` calls them in this process when no
client is given, else submits one Dask task per item and gathers the results as they complete.

Where the data goes (docs/scale.md):

- Ingest: one task per field. A worker writes the chunks of ``tiles.zarr`` that lie wholly inside
  its field (chunks are 16 tiles, :data:`radioexplore.run.tilestore.CHUNK_TILES`), so no two workers
  ever write the same chunk; the few tiles in chunks that a field shares with its neighbours come
  back to the client with the field's metadata, and the client writes them. The store is written
  under a temporary name and renamed into the run only when every task has succeeded, as in the
  single-process path (:func:`radioexplore.run.atomic.atomic_path`).
- Embedding: one task per block of tiles; the block's embeddings (a few hundred floats per tile)
  come back to the client, which writes ``embeddings/<name>.npy`` atomically.

Workers read the FITS images and write the tile store by path, so on a multi-machine cluster
(``--scheduler tcp://HOST:PORT``) the images and the run directory must be on a file system every
worker sees under the same path, and the workers need radioexplore installed. A ``LocalCluster``
(the default for ``--dask``) inherits this process's environment and ``sys.path``.

Dask starts each worker with one BLAS/OpenMP thread (``OMP_NUM_THREADS=1``); parallelism comes from
the number of workers times their threads (``--workers``, ``--threads-per-worker``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaskConfig:
    """Where the tasks run: a LocalCluster of ``workers`` processes, or the scheduler at ``scheduler``."""

    workers: int = 2  # local worker processes; ignored when a scheduler address is given
    threads_per_worker: int = 1  # tasks each local worker runs at once (each single-threaded)
    scheduler: str | None = None  # e.g. tcp://10.0.0.5:8786; None starts a LocalCluster
    processes: bool = True  # local workers in processes (True) or threads of this process
    dashboard: bool = False  # serve the Dask dashboard of a LocalCluster on a free port

    def __post_init__(self) -> None:
        if self.scheduler is None and self.workers < 1:
            raise ValueError(f"DaskConfig.workers must be at least 1 (got {self.workers}); use --workers N")
        if self.threads_per_worker < 1:
            raise ValueError(f"DaskConfig.threads_per_worker must be at least 1 (got {self.threads_per_worker})")


@contextlib.contextmanager
def dask_client(config: DaskConfig = DaskConfig()) -> Iterator[Client]:
    """A Dask client: connected to ``config.scheduler``, or to a LocalCluster started (and closed) here."""
    from distributed import Client, LocalCluster

    if config.scheduler:
        try:
            client = Client(config.scheduler, timeout="30s")
        except OSError as exc:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {config.scheduler} ({exc}); check --scheduler, "
                "or leave it out to start local workers"
            ) from exc
        with client:
            log.info("connected to the Dask scheduler at %s (%d workers)", config.scheduler, n_workers(client))
            yield client
        return
    # worker processes import this checkout's package even when it is not installed
    env = {"env": {"PYTHONPATH": os.pathsep.join(_import_path())}} if config.processes else {}
    cluster = LocalCluster(
        n_workers=config.workers,
        threads_per_worker=config.threads_per_worker,
        processes=config.processes,
        dashboard_address=":0" if config.dashboard else None,
        **env,
    )
    with cluster, Client(cluster) as client:
        where = f", dashboard {client.dashboard_link}" if config.dashboard else ""
        log.info("started a local Dask cluster of %d worker(s)%s", config.workers, where)
        yield client


def n_workers(client: Client) -> int:
    return len(client.scheduler_info(n_workers=-1).get("workers", {}))


def describe(client: Client | None) -> dict[str, Any]:
    """How a stage ran, for run.toml: ``{"executor": "single process"}`` or the Dask scheduler and workers."""
    if client is None:
        return {"executor": "single process"}
    return {"executor": "dask", "scheduler": str(client.scheduler.address), "workers": n_workers(client)}


def map_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[Any],
    common: dict[str, Any] | None = None,
    client: Client | None = None,
    desc: str = "tasks",
    unit: str = "task",
    weights: Sequence[int] | None = None,
    progress: bool = True,
    collect: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``[fn(task, **common) for task in tasks]``, in this process or as one Dask task per item.

    ``common`` holds the arguments every task shares (a model, a catalogue): on a cluster they are
    scattered to every worker once instead of travelling with each task. The progress bar counts
    ``weights`` (e.g. tiles per field) as tasks complete. The results come back in the order of
    ``tasks``; the first task to fail raises its exception here and the rest are cancelled. With
    ``collect``, each result is handed to ``collect(i, result)`` as it arrives and not kept (the
    list returned then holds None), so the client never holds all results at once.
    """
    common = dict(common or {})
    weights = list(weights) if weights is not None else [1] * len(tasks)
    out: list[Any] = [None] * len(tasks)

    def take(i: int, result: Any) -> None:
        if collect is None:
            out[i] = result
        else:
            collect(i, result)

    with tqdm(total=sum(weights), desc=desc, unit=unit, disable=not progress) as bar:
        if client is None:
            for i, task in enumerate(tasks):
                take(i, fn(task, **common))
                bar.update(weights[i])
            return out
        from distributed import as_completed

        # scatter([v]): a dict or list value travels whole, not item by item
        shared = {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in common.items()}
        futures = [client.submit(fn, task, **shared, pure=False) for task in tasks]
        where = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                i = where[future.key]
                take(i, future.result())
                future.release()
                bar.update(weights[i])
        except BaseException:
            client.cancel(futures)
            raise
    return out


def _import_path() -> list[str]:
    """This process's import path, with the folder holding the radioexplore package first."""
    import radioexplore

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(radioexplore.__file__)))
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != package_parent]
    return [package_parent, *rest]
