"""pipelines/realdata_runs.py: the real-image runs that join pre-training, and the labelled FIRST run."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "pipelines" / "realdata_runs.py"


def _script():
    spec = importlib.util.spec_from_file_location("realdata_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_realdata(root: Path, small_survey: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 12
    arrays = {"label_names": np.array(["FRI", "FRII"])}
    for survey in ("first", "nvss"):
        arrays[f"x_{survey}"] = rng.integers(0, 255, (n, 40, 40), dtype=np.uint8)
        arrays[f"y_{survey}"] = np.arange(n) % 2
        arrays[f"is_test_{survey}"] = np.arange(n) >= n - 3
    root.mkdir()
    np.savez(root / "frdeep.npz", **arrays)
    (root / "scorpio").mkdir()
    shutil.copy(sorted(small_survey.glob("field_*.fits"))[0], root / "scorpio" / "one.fits")
    return root


def test_training_split_without_labels_and_a_labelled_first_run(tmp_path, small_survey):
    realdata = _fake_realdata(tmp_path / "realdata", small_survey)
    out = tmp_path / "real"
    assert _script().main(["--realdata", str(realdata), "--out", str(out), "--labelled"]) == 0

    train = pd.read_parquet(out / "frdeep_train" / "tiles.parquet")
    assert len(train) == 2 * 9  # the 3 test-split stamps of each survey are left out
    assert "label" not in train or train["label"].isna().all()  # pre-training never sees labels
    assert len(pd.read_parquet(out / "scorpio" / "tiles.parquet")) > 0

    first = pd.read_parquet(out / "frdeep_first" / "tiles.parquet")
    assert len(first) == 12 and first["label"].value_counts().to_dict() == {"FRI": 6, "FRII": 6}


def test_missing_realdata_is_an_error_that_names_the_folder(tmp_path, capsys):
    assert _script().main(["--realdata", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "nowhere" in capsys.readouterr().err
