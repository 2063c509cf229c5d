"""Shared fixtures: a small simulated survey, a tiny complete run directory, the app's state on it, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radioexplore.assets import realdata_dir
from radioexplore.run.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
#: The real observations: $RADIOEXPLORE_REALDATA, else ../shared/realdata beside the checkout. Only the
#: tests look there (the library never guesses a path outside the repository); tests skip when absent.
REALDATA = realdata_dir() or ROOT.parent / "shared" / "realdata"


def run_cli(
    *args: str, check: bool = True, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m radioexplore ARGS`` from this checkout; returns the completed process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "radioexplore", "-q", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"radioexplore {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="session")
def cli():
    return run_cli


def ingest_with_truth(survey: Path, root: Path, tile_px: int) -> RunDir:
    """``survey``'s fields ingested into a run at ``root`` in ``tile_px`` tiles, with its catalogue and truth."""
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.simulation.run_truth import attach_truth

    run = RunDir(root)
    files = sorted(survey.glob("field_*.fits"))
    ingest(files, run, IngestConfig(tile_px=tile_px, catalog=str(survey / "catalogue.csv")), progress=False)
    attach_truth(run, survey)
    return run


@pytest.fixture(scope="session")
def small_survey(tmp_path_factory) -> Path:
    """Four simulated 512 px fields with truth and catalogue (seed 7)."""
    from radioexplore.simulation import SimulationConfig, simulate_survey

    out = tmp_path_factory.mktemp("survey")
    simulate_survey(out, SimulationConfig(fields=4, size_px=512, seed=7), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_survey) -> RunDir:
    """A complete run over ``small_survey``: ingest (with truth), embed, index, map, rank."""
    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.ranking.rank import rank_run
    from radioexplore.space.index import index_run
    from radioexplore.space.maps import MapConfig, map_run

    run = ingest_with_truth(small_survey, tmp_path_factory.mktemp("run") / "tiny", tile_px=128)
    embed_run(run, EmbedConfig(name="vit", batch_size=16), progress=False)
    index_run(run, "vit")
    map_run(run, "vit", MapConfig(n_neighbors=5))
    rank_run(run, "vit")
    run.record("embed", run.stage_config("embed", "vit"), key="vit", default_embedding="vit")
    return run


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path) -> RunDir:
    """A copy of ``tiny_run`` per test without its label store, so labels do not leak between tests."""
    import shutil

    dest = tmp_path / "run"
    shutil.copytree(tiny_run.root, dest, ignore=shutil.ignore_patterns("labels.sqlite*"))
    return RunDir(dest)


@pytest.fixture
def run(tiny_run_copy) -> RunDir:
    """The run an app test works on and may write labels into: ``tiny_run_copy`` (a test file may define its own)."""
    return tiny_run_copy


@pytest.fixture
def state(run):
    """The app's ``ExplorerState`` over ``run`` for user ``tester``, with HoloViews' bokeh backend loaded."""
    import holoviews as hv

    from app.state import ExplorerState

    hv.extension("bokeh")
    return ExplorerState(run, who="tester")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def cli_main(capsys):
    """Run ``radioexplore ARGS`` in this process (no interpreter start-up): returns (status, stdout, stderr).

    A ``SystemExit`` raised for a usage error gives status 2 with its message on stderr.
    """
    from radioexplore.cli import main

    def run(*args: str, check: bool = True) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(["-q", *map(str, args)])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
            if not isinstance(exc.code, int) and exc.code is not None:
                print(exc.code, file=sys.stderr)
        out, err = capsys.readouterr()
        if check and code != 0:
            raise AssertionError(f"radioexplore {' '.join(map(str, args))} failed ({code}):\n{out}\n{err}")
        return code, out, err

    return run
