"""A damaged labels.sqlite in a complete run: every command that reads labels and the app refuse it with
the one-line message (no sqlite3 traceback), and `labels restore` makes the run usable again."""

from __future__ import annotations

import shutil

import holoviews as hv

from app.dashboard import build_dashboard
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir


def test_every_command_and_the_app_refuse_a_damaged_store_until_it_is_restored(tiny_run, tmp_path, cli_main):
    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, run.root, ignore=shutil.ignore_patterns("labels.sqlite*", "backups"))
    LabelStore.for_run(run, who="ada").add_many(
        [{"tile_id": t, "labels": "PECULIAR", "interest": 5 if t % 2 else 2} for t in range(6)]
    )
    LabelStore.for_run(run)  # opened after a change: backed up
    data = run.labels_db.read_bytes()
    run.labels_db.write_bytes(data[: len(data) // 2 + 100])  # truncated mid-page

    out = tmp_path / "out"
    out.mkdir()
    for command in (
        ["labels", "show"],
        ["label", "--tile", "1", "--labels", "COMPACT"],
        ["labels", "undo", "--event", "1"],
        ["labels", "import", str(tmp_path / "none.csv")],
        ["rerank"],
        ["export", "--label", "PECULIAR", "--format", "csv", "--out", out / "peculiar.csv"],
        ["export", "--top", "5", "--format", "csv", "--out", out / "top.csv"],
        ["rank", "--top-k", "2"],
    ):
        code, _, err = cli_main(*command, "--run", run.root, check=False)
        lines = err.strip().splitlines()
        assert code != 0 and len(lines) == 1, (command, err)
        assert str(run.labels_db) in lines[0] and f"labels restore --run {run.root}" in lines[0], (command, err)
    assert not list(out.iterdir())

    hv.extension("bokeh")
    page = build_dashboard(run)
    alert = page.main[0]
    assert alert.alert_type == "danger" and str(run.labels_db) in alert.object and "labels restore" in alert.object

    code, stdout, _ = cli_main("labels", "restore", "--run", run.root)
    assert "(6 events" in stdout and "moved the damaged store aside" in stdout
    cli_main("export", "--run", run.root, "--label", "PECULIAR", "--format", "csv", "--out", out / "peculiar.csv")
    assert len(out.joinpath("peculiar.csv").read_text().splitlines()) == 7
    assert [t.name for t in build_dashboard(run).main[0]][:2] == ["Explore", "Review queue"]
