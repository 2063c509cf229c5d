"""A user's mistake on the command line is one ``error:`` line naming the bad value, a non-zero exit, no traceback.

Also: ``-q`` prints no INFO line (nor faiss's loader chatter), and the app's "Find similar" upload
reports a bad file in one line and reads ``.fits.gz``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from radioexplore.cli import error_line, main
from radioexplore.run.rundir import RunDir
from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def copy_run(tiny_run, tmp_path_factory) -> RunDir:
    """A copy of the tiny complete run that these tests may write into."""
    run = RunDir(tmp_path_factory.mktemp("clierr") / "run")
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*"))
    return run


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """A file (to write under), a folder with no run, a file that is no checkpoint, a path that does not exist."""
    base = tmp_path_factory.mktemp("places")
    (base / "a_file").write_text("not a folder")
    (base / "empty_dir").mkdir()
    (base / "junk.pt").write_bytes(b"this is not a torch checkpoint\n" * 4)
    return {"file": base / "a_file", "empty": base / "empty_dir", "junk": base / "junk.pt", "missing": base / "nowhere"}


# (case id, arguments with {run} / {file} / {empty} / {junk} / {missing} filled in, text the error line must name)
CASES = [
    ("embed a missing run", ["embed", "--run", "{missing}"], ["{missing}", "does not exist", "ingest", "demo"]),
    ("neighbours of a missing run", ["neighbours", "--run", "{missing}", "--tile", "0"], ["{missing}", "demo"]),
    ("a run without tiles", ["neighbours", "--run", "{empty}", "--tile", "0"], ["{empty}", "no tiles", "ingest"]),
    ("--run is a file", ["neighbours", "--run", "{file}", "--tile", "0"], ["{file}", "not a run directory"]),
    ("neighbours -k -3", ["neighbours", "--run", "{run}", "--tile", "0", "-k", "-3"], ["-k", "-3", ">= 1"]),
    ("neighbours -k 0", ["neighbours", "--run", "{run}", "--tile", "0", "-k", "0"], ["-k", "0 is too small"]),
    ("neighbours -k x", ["neighbours", "--run", "{run}", "--tile", "0", "-k", "x"], ["-k", "'x'", "whole number"]),
    ("similar -k -5", ["similar", "--run", "{run}", "--tiles", "0", "-k", "-5"], ["-k", "-5", ">= 1"]),
    ("similar -k 0", ["similar", "--run", "{run}", "--tiles", "0", "-k", "0"], ["-k", "0 is too small"]),
    ("rerank --queue -5", ["rerank", "--run", "{run}", "--queue", "-5"], ["--queue", "-5"]),
    ("rerank --queue 0", ["rerank", "--run", "{run}", "--queue", "0"], ["--queue", "0 is too small"]),
    (
        "export --top 0",
        ["export", "--run", "{run}", "--top", "0", "--format", "csv", "--out", "{empty}/x.csv"],
        ["--top"],
    ),
    ("map --sample-size 0", ["map", "--run", "{run}", "--sample-size", "0"], ["--sample-size", "0 is too small"]),
    ("embed --batch-size 0", ["embed", "--run", "{run}", "--batch-size", "0"], ["--batch-size", "0 is too small"]),
    ("ingest --workers 0", ["ingest", "x.fits", "--run", "{empty}", "--dask", "--workers", "0"], ["--workers"]),
    (
        "export under a file",
        ["export", "--run", "{run}", "--top", "3", "--format", "csv", "--out", "{file}/x.csv"],
        ["{file}", "is a file, not a folder"],
    ),
    (
        "embed --checkpoint junk",
        ["embed", "--run", "{run}", "--checkpoint", "{junk}"],
        ["{junk}", "not a torch checkpoint", "radioexplore pretrain", "demo"],
    ),
    (
        "embed --checkpoint missing",
        ["embed", "--run", "{run}", "--checkpoint", "{missing}.pt"],
        ["{missing}.pt", "no such checkpoint", "demo"],
    ),
    ("labels of a missing run", ["labels", "show", "--run", "{missing}"], ["{missing}", "not a run directory"]),
    ("map --name nosuch", ["map", "--run", "{run}", "--name", "nosuch"], ["'nosuch'", "present: vit"]),
    ("unknown option", ["neighbours", "--run", "{run}", "--tile", "0", "--bogus"], ["--bogus", "--help"]),
]


def _fill(text: str, run: RunDir, places: dict) -> str:
    return text.format(run=run.root, **places)


@pytest.mark.parametrize("args,names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_user_mistake_is_one_error_line_naming_the_bad_value(copy_run, places, args, names):
    before = sorted(p.name for p in copy_run.root.rglob("*"))
    proc = run_cli(*[_fill(a, copy_run, places) for a in args], check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for name in names:
        assert _fill(name, copy_run, places) in lines[0]
    assert sorted(p.name for p in copy_run.root.rglob("*")) == before  # a refused command leaves the run alone


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder(copy_run, tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    proc = run_cli(
        "export", "--run", copy_run.root, "--top", "3", "--format", "csv", "--out", folder / "x.csv", check=False
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip()
        == f"error: {folder / 'x.csv'}: permission denied; choose a path you may use, or change its permissions"
    )


def test_os_errors_name_the_path_asked_for_not_a_temporary_file():
    tmp = PermissionError(13, "Permission denied", "/data/out/.cands.csv.k2j4x9.tmp")
    assert (
        error_line(tmp)
        == "error: /data/out/cands.csv: permission denied; choose a path you may use, or change its permissions"
    )
    assert error_line(NotADirectoryError(20, "Not a directory", "/data/f/x.csv")).startswith(
        "error: /data/f/x.csv: a part of that path is a file, not a folder"
    )
    assert error_line(ValueError("tile 9 does not exist\n in run R")) == "error: tile 9 does not exist in run R"


def test_a_bug_still_shows_its_traceback(monkeypatch, copy_run):
    from radioexplore.commands import space

    monkeypatch.setenv("DASK_LOGGING__DISTRIBUTED", "warning")  # what main sets; undone after the test

    def broken(args):
        raise KeyError("a bug, not a user's mistake")

    monkeypatch.setattr(space, "cmd_neighbours", broken)
    with pytest.raises(KeyError):
        main(["-q", "neighbours", "--run", str(copy_run.root), "--tile", "0"])
    # a user error too, with -v: the traceback is what -v is for
    with pytest.raises(ValueError):
        main(["-v", "map", "--run", str(copy_run.root), "--method", "pca", "--name", "no/such"])


def test_a_third_party_value_error_is_one_line_that_points_to_verbose(monkeypatch, copy_run, capsys):
    from radioexplore.commands import space

    monkeypatch.setenv("DASK_LOGGING__DISTRIBUTED", "warning")
    monkeypatch.setattr(space, "cmd_neighbours", lambda args: np.zeros(3).reshape(2, 2))
    assert main(["-q", "neighbours", "--run", str(copy_run.root), "--tile", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot reshape array of size 3") and err.endswith("(rerun with -v for the traceback)")
    assert main(["-q", "map", "--run", str(copy_run.root), "--name", "no/such"]) == 2
    err = capsys.readouterr().err.strip()  # raised by radioexplore itself: written for the user, no pointer
    assert err.startswith("error: artefact name 'no/such'") and "-v" not in err and len(err.splitlines()) == 1


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m radioexplore ARGS`` without the ``-q`` that ``run_cli`` adds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "radioexplore", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT, check=True)


def test_quiet_means_no_info_lines_and_no_progress_bars(copy_run):
    hits = run_cli("neighbours", "--run", copy_run.root, "--tile", "0", "-k", "3")  # loads faiss
    assert [h["tile_id"] for h in json.loads(hits.stdout)] and hits.stderr == ""
    embedded = run_cli("embed", "--run", copy_run.root, "--name", "quiet", "--batch-size", "32")
    assert "INFO" not in embedded.stderr and "tile/s" not in embedded.stderr and "%|" not in embedded.stderr
    assert (copy_run.root / "embeddings" / "quiet.npy").is_file()


def test_default_shows_our_info_but_not_faiss_loader_lines(copy_run):
    proc = _cli("index", "--run", copy_run.root)
    assert "INFO radioexplore.space.index: indexed" in proc.stderr
    assert "faiss" not in proc.stderr.lower().replace(".faiss", "")  # no loader lines, only our index file name
    assert "avx2" not in proc.stderr.lower() and "ModuleNotFoundError" not in proc.stderr


# -- the app's "Find similar" upload ---------------------------------------------------------


@pytest.fixture
def search_view(copy_run):
    import holoviews as hv

    from app.state import ExplorerState
    from app.views.search import SearchView

    hv.extension("bokeh")
    return SearchView(state=ExplorerState(copy_run, who="tester"), k=4)


@pytest.fixture(scope="module")
def cutout(small_survey) -> np.ndarray:
    return fits.getdata(small_survey / "field_000.fits")[0, 0, 100:228, 100:228].astype(np.float32)


def _fits_bytes(*hdus) -> bytes:
    buf = io.BytesIO()
    fits.HDUList(list(hdus)).writeto(buf)
    return buf.getvalue()


def test_upload_reads_fits_gz_like_the_plain_file(search_view, cutout):
    plain = _fits_bytes(fits.PrimaryHDU(cutout))
    search_view.from_upload("cut.fits", plain)
    expected = list(search_view.hits["tile_id"])
    assert len(expected) == 4 and search_view.message.startswith("4 tiles most like cut.fits")
    search_view.from_upload("cut.fits.gz", gzip.compress(plain))
    assert list(search_view.hits["tile_id"]) == expected
    assert search_view.message.startswith("4 tiles most like cut.fits.gz")
    assert "upload.fits" not in search_view.message  # the temporary file's name never shows


def test_upload_with_a_400_character_name_works_and_is_shortened(search_view, cutout):
    name = "a." * 198 + "fits"
    search_view.from_upload(name, _fits_bytes(fits.PrimaryHDU(cutout)))
    assert len(search_view.hits) == 4 and name not in search_view.message and "a.a.a.a" in search_view.message


def _truncated_tile_compressed(cutout: np.ndarray) -> bytes:
    data = _fits_bytes(fits.PrimaryHDU(), fits.CompImageHDU(cutout))
    return data[: len(data) // 2 + 100]


BAD_UPLOADS = {
    "random bytes": ("noise.fits", lambda c: np.random.default_rng(3).bytes(5000), "not a readable FITS"),
    "empty file": ("empty.fits", lambda c: b"", "empty file (0 bytes)"),
    "truncated tile-compressed": ("comp.fits", _truncated_tile_compressed, "comp.fits"),
    "truncated gzip": ("cut.fits.gz", lambda c: gzip.compress(_fits_bytes(fits.PrimaryHDU(c)))[:300], "truncated"),
    "gzip magic, no gzip": ("cut.fits.gz", lambda c: b"\x1f\x8bnot gzip at all", "not a valid gzip file"),
    "no finite pixels": ("nan.fits", lambda c: _fits_bytes(fits.PrimaryHDU(np.full_like(c, np.nan))), "no finite"),
}


@pytest.mark.parametrize("name,make,reason", BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
def test_a_bad_upload_says_why_in_one_line_and_keeps_the_hits(search_view, cutout, name, make, reason):
    search_view.from_upload("good.fits", _fits_bytes(fits.PrimaryHDU(cutout)))
    hits = list(search_view.hits["tile_id"])
    search_view.from_upload(name, make(cutout))
    message = search_view.message
    assert message.startswith(f"Could not use {name}: ") and reason in message and "\n" not in message
    assert list(search_view.hits["tile_id"]) == hits


def test_upload_message_is_rendered_as_text(search_view):
    search_view.from_upload("<img src=x onerror=alert(1)>.fits", b"junk")
    shown = search_view._results().objects[0].object
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;.fits" in shown
