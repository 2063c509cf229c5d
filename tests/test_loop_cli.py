"""The loop commands end to end: label, undo, export/import labels, rank --top-k, rerank, similar, export."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir


def test_label_rerank_and_export_from_the_command_line(tiny_run, tmp_path, cli):
    run = RunDir(tmp_path / "run")
    shutil.copytree(tiny_run.root, run.root)
    r = str(run.root)
    out = cli("label", "--run", r, "--tile", "3", "--labels", "peculiar,extended", "--interest", "5", "--who", "ada")
    assert out.stdout.startswith("event 1: tile 3 EXTENDED;PECULIAR interest 5")
    bad = cli("label", "--run", r, "--tile", "3", "--labels", "spiral", check=False)
    assert bad.returncode == 2 and "unknown label 'spiral'" in bad.stderr
    # a labels file made elsewhere: one good row per tile, one refused
    rows = [
        {"tile_id": t, "labels": "EXTENDED" if t % 3 == 0 else "COMPACT", "interest": 4 if t % 3 == 0 else 1}
        for t in range(4, 40)
    ]
    rows.append({"tile_id": 999, "labels": "COMPACT", "interest": 1})
    pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
    out = cli("labels", "import", "--run", r, tmp_path / "in.csv", "--who", "bob")
    assert "imported 36 event(s)" in out.stdout and "refused line 38: tile 999 does not exist" in out.stdout
    cli("labels", "undo", "--run", r, "--event", "2")
    assert LabelStore.for_run(run).labels_of(4) is None
    cli("labels", "export", "--run", r, "--out", tmp_path / "events.csv")
    events = pd.read_csv(tmp_path / "events.csv")
    assert len(events) == 38 and events.loc[1, "active"] == False  # noqa: E712
    assert "PECULIAR" in cli("labels", "show", "--run", r, "--tile", "3").stdout

    out = cli("rank", "--run", r, "--top-k", "5")
    assert run.stage_config("rank", "vit")["top_k"] == 5
    out = cli("rerank", "--run", r, "--queue", "4")
    queue = [int(t) for t in out.stdout.split("next to review:")[1].split()]
    assert len(queue) == 4 and not set(queue) & ({3} | set(range(5, 40)))
    assert all(f"  tile {t}: " in out.stdout for t in queue)  # each queued tile says why it is there
    ranking = pd.read_parquet(run.active_scores("vit"))
    assert ranking["labelled"].sum() == 36
    assert run.stage_config("rerank", "vit")["spread"] == 0.8
    bad = cli("rerank", "--run", r, "--spread", "2", check=False)
    assert bad.returncode == 2 and "spread must lie in [0, 1]" in bad.stderr
    # any other setting of the re-ranker, saved with the run's rerank settings (the app re-ranks with them)
    cli("rerank", "--run", r, "--set", "list_hedge=false", "--set", "spread_reach=source", "--set", "shape_weight=1")
    saved = run.stage_config("rerank", "vit")
    assert saved["list_hedge"] is False and saved["spread_reach"] == "source"
    assert saved["shape_weight"] == 1 and isinstance(saved["shape_weight"], float)
    bad = cli("rerank", "--run", r, "--set", "hedge=off", check=False)
    assert bad.returncode == 2 and "--set 'hedge=off': expected KEY=VALUE with KEY one of" in bad.stderr
    bad = cli("rerank", "--run", r, "--set", "spread_reach=sideways", check=False)
    assert bad.returncode == 2 and "spread_reach must be one of" in bad.stderr

    hits = json.loads(cli("similar", "--run", r, "--tiles", "3,5", "-k", "4").stdout)
    assert len(hits) == 4 and not {h["tile_id"] for h in hits} & {3, 5}
    cli("export", "--run", r, "--top", "6", "--ranking", "active", "--format", "csv", "--out", tmp_path / "top.csv")
    top = pd.read_csv(tmp_path / "top.csv")
    assert list(top["active_rank"]) == [1, 2, 3, 4, 5, 6]
    cli("export", "--run", r, "--label", "PECULIAR", "--format", "votable", "--out", tmp_path / "pec.xml")
    assert (tmp_path / "pec.xml").read_text().count("<TR>") == 1
    none = cli("export", "--run", r, "--label", "FILAMENT", "--format", "csv", "--out", tmp_path / "x.csv", check=False)
    assert none.returncode == 2 and "no tiles selected" in none.stderr and not (tmp_path / "x.csv").exists()
