"""A run directory never contradicts itself: stages killed mid-replace are caught, and re-running recovers.

Each kill runs the stage as a ``python -m radioexplore``-like subprocess whose ``os.replace`` sends
itself SIGKILL just before (or just after) the rename onto the named artefact, so the kill lands
exactly while that artefact is being replaced. The later commands run in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from radioexplore.run.atomic import atomic_path
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]

KILLER = textwrap.dedent(
    """
    import os, signal, sys

    name, when = sys.argv[1], sys.argv[2]
    _replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.basename(os.fspath(dst)) != name:
            return _replace(src, dst, *args, **kwargs)
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        _replace(src, dst, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    from radioexplore.cli import main

    sys.exit(main(["-q", *sys.argv[3:]]))
    """
)


def killed(tmp_path: Path, artefact: str, when: str, *args: object) -> subprocess.CompletedProcess:
    """Run ``radioexplore ARGS`` and SIGKILL it ``when`` ('before'/'after') it renames onto ``artefact``."""
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run(
        [sys.executable, str(script), artefact, when, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert proc.returncode == -9, f"the stage was not killed at {artefact}:\n{proc.stderr}"
    return proc


def leftovers(run: RunDir) -> list[str]:
    return sorted(p.name for p in run.root.rglob(".*") if p.name.endswith((".tmp", ".old")))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, small_survey) -> RunDir:
    """64 tiles of 128 px, embedded at 32 px, indexed and ranked (no map: the checks are the same)."""
    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.ranking.rank import rank_run
    from radioexplore.space.index import index_run

    run = RunDir(tmp_path_factory.mktemp("consistency") / "base")
    ingest(sorted(small_survey.glob("field_*.fits")), run, IngestConfig(tile_px=128), progress=False)
    embed_run(run, EmbedConfig(name="vit", input_px=32, batch_size=64), progress=False)
    index_run(run, "vit")
    rank_run(run, "vit")
    return run


@pytest.fixture
def run(base_run, tmp_path) -> RunDir:
    out = RunDir(tmp_path / "run")
    shutil.copytree(base_run.root, out.root)
    return out


def refused(cli_main, *args: object) -> str:
    code, _, err = cli_main(*args, check=False)
    assert code == 2, f"radioexplore {args} accepted an inconsistent run"
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_kill_between_tiles_zarr_and_tiles_parquet_is_refused_until_ingest_is_rerun(
    run, small_survey, tmp_path, cli_main, caplog
):
    files = sorted(small_survey.glob("field_*.fits"))
    r = run.root
    killed(tmp_path, "tiles.parquet", "before", "ingest", *files, "--run", r, "--tile", "256")
    assert __import__("zarr").open_array(str(run.tile_pixels), mode="r").shape[:1] == (16,)
    assert len(run.read_tiles()) == 64 and any(n.startswith(".tiles.parquet.") for n in leftovers(run))
    ingest_cmd = f"radioexplore ingest FITS... --run {r}"
    for args in (
        ("neighbours", "--run", r, "--tile", "3"),
        ("export", "--run", r, "--top", "3", "--format", "csv", "--out", tmp_path / "x.csv"),
        ("embed", "--run", r, "--input-px", "32"),
        ("index", "--run", r),
        ("rank", "--run", r),
        ("similar", "--run", r, "--tiles", "3"),
    ):
        err = refused(cli_main, *args)
        assert "tiles.zarr and tiles.parquet come from 16 tiles against 64 rows" in err and ingest_cmd in err
    assert not (tmp_path / "x.csv").exists()

    code, _, _ = cli_main("ingest", *files, "--run", r, "--tile", "256")
    assert code == 0 and "removed leftovers of an interrupted write of" in caplog.text
    assert leftovers(run) == [] and len(run.read_tiles()) == 16
    err = refused(cli_main, "neighbours", "--run", r, "--name", "vit", "--tile", "3")
    assert "no embeddings named 'vit'" in err  # moved aside with the old tiles
    cli_main("embed", "--run", r, "--input-px", "32", "--name", "vit")
    cli_main("index", "--run", r, "--name", "vit")
    _, out, _ = cli_main("neighbours", "--run", r, "--name", "vit", "--tile", "12", "-k", "3")
    assert all(0 <= h["tile_id"] < 16 for h in json.loads(out)) and len(json.loads(out)) == 3


def test_a_kill_after_embeddings_are_replaced_is_refused_until_embed_and_index_rerun(run, tmp_path, cli_main):
    r = run.root
    killed(tmp_path, "vit.npy", "after", "embed", "--run", r, "--name", "vit", "--input-px", "16")
    index_err = f"index/vit.faiss was built from an older embedding: run `radioexplore index --run {r} --name vit`"
    embed_err = "embeddings/vit.npy does not match its record in run.toml (an interrupted embed)"
    err = refused(cli_main, "neighbours", "--run", r, "--tile", "3")
    assert embed_err in err and f"radioexplore embed --run {r} --name vit" in err and index_err in err
    err = refused(cli_main, "export", "--run", r, "--top", "3", "--format", "csv", "--out", tmp_path / "x.csv")
    assert embed_err in err and "scores/vit.parquet was built from an older embedding" in err
    for stage in ("index", "rank", "map"):
        assert embed_err in refused(cli_main, stage, "--run", r)
    with pytest.raises(RunDirError, match="interrupted embed"):
        run.check_consistent()

    code, _, _ = cli_main("embed", "--run", r, "--name", "vit", "--input-px", "16")
    assert code == 0 and leftovers(run) == []
    assert index_err in refused(cli_main, "neighbours", "--run", r, "--tile", "3")
    cli_main("index", "--run", r)
    cli_main("neighbours", "--run", r, "--tile", "3")
    err = refused(cli_main, "export", "--run", r, "--top", "3", "--format", "csv", "--out", tmp_path / "x.csv")
    assert f"run `radioexplore rank --run {r} --name vit`" in err
    cli_main("rank", "--run", r)
    cli_main("export", "--run", r, "--top", "3", "--format", "csv", "--out", tmp_path / "x.csv")
    assert run.consistency_problems() == [] and len((tmp_path / "x.csv").read_text().splitlines()) == 4


def test_a_stale_index_and_a_killed_index_are_refused_until_index_reruns(run, tmp_path, cli_main, caplog):
    r = run.root
    cli_main("embed", "--run", r, "--name", "vit", "--input-px", "16")  # a new embedding, the index not rebuilt
    index_err = f"index/vit.faiss was built from an older embedding: run `radioexplore index --run {r} --name vit`"
    assert index_err in refused(cli_main, "neighbours", "--run", r, "--tile", "3")
    killed(tmp_path, "vit.faiss", "before", "index", "--run", r)
    assert any(n.startswith(".vit.faiss.") for n in leftovers(run))
    assert index_err in refused(cli_main, "neighbours", "--run", r, "--tile", "3")
    assert index_err in refused(cli_main, "similar", "--run", r, "--tiles", "3")
    code, _, _ = cli_main("index", "--run", r)
    assert code == 0 and "removed leftovers" in caplog.text and leftovers(run) == []
    _, out, _ = cli_main("neighbours", "--run", r, "--tile", "3", "-k", "4")
    assert len(json.loads(out)) == 4


def test_reingesting_with_another_tile_moves_stale_artefacts_aside_and_keeps_labels(
    run, small_survey, tmp_path, cli_main, caplog
):
    from radioexplore.run.labels.store import LabelStore

    r = run.root
    cli_main("label", "--run", r, "--tile", "5", "--labels", "peculiar", "--who", "ada")
    files = sorted(small_survey.glob("field_*.fits"))
    code, _, _ = cli_main("ingest", *files, "--run", r, "--tile", "256")
    assert code == 0 and "refers to the previous tiling (64 tiles of 128 px; now 16 of 256 px)" in caplog.text
    for folder in ("embeddings", "index", "scores"):
        assert not (r / folder).exists()
    (stale,) = (r / "stale").iterdir()
    assert (stale / "embeddings" / "vit.npy").is_file() and (stale / "index" / "vit.faiss").is_file()
    assert (stale / "scores" / "vit.parquet").is_file() and (stale / "run.toml").is_file()
    assert LabelStore.for_run(run).labels_of(5)["labels"] == ("PECULIAR",)
    assert run.missing()[0][0] == "embed" and run.consistency_problems() == []


def test_export_refuses_to_overwrite_the_run_a_directory_or_an_artefact(run, tmp_path, cli_main):
    r = run.root
    cli_main("label", "--run", r, "--tile", "5", "--labels", "peculiar", "--who", "ada")
    before = sorted(p.name for p in r.iterdir())
    (tmp_path / "folder").mkdir()
    for out in (r, tmp_path / "folder", r / "labels.sqlite", r / "tiles.zarr", r / "embeddings" / "x.csv"):
        err = refused(cli_main, "export", "--run", r, "--top", "3", "--format", "csv", "--out", out)
        assert f"--out {out}" in err
        err = refused(cli_main, "labels", "export", "--run", r, "--out", out)
        assert f"--out {out}" in err
    assert sorted(p.name for p in r.iterdir()) == before and (tmp_path / "folder").is_dir()
    cli_main("export", "--run", r, "--top", "3", "--format", "csv", "--out", r / "exports" / "top.csv")
    cli_main("labels", "export", "--run", r, "--out", r / "exports" / "labels.csv")
    assert (r / "exports" / "top.csv").is_file() and (r / "exports" / "labels.csv").is_file()
    assert (r / "labels.sqlite").is_file() and (r / "tiles.zarr").is_dir()


def test_atomic_path_replaces_a_directory_only_when_told(tmp_path):
    target = tmp_path / "store"
    (target / "keep").mkdir(parents=True)
    with pytest.raises(RunDirError, match="is a directory; refusing to replace it"):
        with atomic_path(target) as tmp:
            tmp.write_text("x")
    assert (target / "keep").is_dir() and leftovers(RunDir(tmp_path)) == []
    with atomic_path(target, replace_dir=True) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("x")
    assert (target / "new").is_file() and not (target / "keep").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


def test_the_app_refuses_an_inconsistent_run_with_the_same_message(run):
    from app.state import ExplorerState

    np.save(run.embeddings("vit"), np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(RunDirError, match=r"embeddings/vit.npy has 3 rows for 64 tiles: run `radioexplore embed"):
        ExplorerState(run)
