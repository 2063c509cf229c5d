"""What every benchmark prints first (machine, load, versions), and the helpers they share.

Benchmarks are scripts run by hand (``python benchmarks/NAME.py``); this module puts the checkout
on ``sys.path`` so they import the radioexplore package of the checkout they live in.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGES = ("torch", "numpy", "faiss-cpu", "umap-learn", "openTSNE", "scikit-learn", "dask", "distributed", "zarr")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def load() -> str:
    """The 1-minute load average with the core count, e.g. ``load 2.3 / 2 cores``: other work on the machine."""
    return f"load {os.getloadavg()[0]:.1f} / {os.cpu_count()} cores"


def header(title: str) -> None:
    """Print the benchmark's title, the machine, its load and the versions that shape the figures."""
    versions = []
    for pkg in PACKAGES:
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            continue
    print(f"# {title}")
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')}; {cpu_model()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB; {load()}"
    )
    print(f"# Python {platform.python_version()}; " + ", ".join(versions), flush=True)


def low_rank_embeddings(n: int, dim: int, latent: int = 16, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Clustered embeddings of low intrinsic dimension (``latent``) mixed into ``dim`` dimensions, float32.

    Self-supervised embeddings of survey tiles have an intrinsic dimension far below their width;
    i.i.d. noise in all ``dim`` directions (radioexplore.simulation.synthetic) is the hard case for an
    approximate index, this is the realistic one.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, (clusters, latent)).astype(np.float32)
    mixing = (rng.normal(size=(latent, dim)) / np.sqrt(latent)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(start + 100_000, n)
        z = centres[rng.integers(clusters, size=stop - start)] + rng.standard_normal((stop - start, latent), np.float32)
        out[start:stop] = z @ mixing + 0.05 * rng.standard_normal((stop - start, dim), np.float32)
    return out


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float, int]:
    """Run ``cmd`` as a child process; returns (wall seconds, peak resident memory in GiB, exit status).

    The peak is the child's own ``ru_maxrss`` (from ``wait4``), so each stage's figure is its own.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss / 2**20, proc.returncode


def peak_rss_gib() -> float:
    """This process's peak resident memory so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def parse_surveys(text: str) -> list[tuple[int, float]]:
    """``"1:3,2:4"`` -> [(1, 3.0), (2, 4.0)]: survey seed and artefact strength."""
    out = []
    for part in text.split(","):
        seed, _, strength = part.strip().partition(":")
        try:
            out.append((int(seed), float(strength)))
        except ValueError:
            raise SystemExit(f"--surveys: {part!r} is not SEED:STRENGTH (e.g. 1:4)") from None
    return out


def add_active_arg(p) -> None:
    """``--active KEY=VALUE`` (repeatable, into ``args.active_set``): any ActiveConfig field, applied last."""
    p.add_argument(
        "--active",
        dest="active_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other ActiveConfig field, applied last (repeatable; VALUE as in TOML), e.g. --active list_hedge=false",
    )


def with_active(p, config, items: list[str]):
    """``config`` with the ``--active`` items applied; a bad item ends the script with the parser's error."""
    from radioexplore.settings import with_items

    try:
        return with_items(config, items, "--active")
    except ValueError as exc:
        p.error(str(exc))
