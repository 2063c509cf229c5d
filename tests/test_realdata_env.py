"""The real-data folder is named, never guessed: ``$RADIOEXPLORE_REALDATA`` or an explicit argument (issue 19)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from radioexplore.assets import REALDATA_ENV, realdata_dir

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def _pipeline(name: str):
    spec = importlib.util.spec_from_file_location(name, PIPELINES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_realdata_dir_is_the_environment_variable_or_none(monkeypatch, tmp_path):
    monkeypatch.delenv(REALDATA_ENV, raising=False)
    assert realdata_dir() is None
    monkeypatch.setenv(REALDATA_ENV, str(tmp_path))
    assert realdata_dir() == tmp_path


def test_bare_frdeep_without_the_variable_says_what_to_pass(monkeypatch, cli_main):
    monkeypatch.delenv(REALDATA_ENV, raising=False)
    code, _, err = cli_main("evaluate", "--frdeep", check=False)
    assert code == 2
    assert err.strip().count("\n") == 0 and "--frdeep" in err and REALDATA_ENV in err


def test_bare_frdeep_reads_the_folder_the_variable_names(monkeypatch, tmp_path, cli_main):
    monkeypatch.setenv(REALDATA_ENV, str(tmp_path))
    code, _, err = cli_main("evaluate", "--frdeep", check=False)
    assert code == 2 and f"{tmp_path / 'frdeep.npz'}: no such file" in err


def test_pipelines_without_realdata_fail_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(REALDATA_ENV, raising=False)
    for name in ("realdata_runs", "frdeep_free_stamps"):
        assert _pipeline(name).main(["--out", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and "--realdata" in err and REALDATA_ENV in err
        assert not (tmp_path / name).exists()
