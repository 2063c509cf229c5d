"""The commands of README.md's "The loop" section, run as written on a copy of the tiny run."""

import re
import shlex
import shutil

import pandas as pd

from radioexplore.ranking.active_run import read_active
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir
from tests.conftest import ROOT


def documented_loop() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## The loop", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"<!-- test: loop -->\s*```bash\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_documented_loop_runs_and_leaves_labels_ranking_and_candidates(tiny_run, tmp_path, monkeypatch, cli_main):
    shutil.copytree(tiny_run.root, tmp_path / "runs" / "mine", ignore=shutil.ignore_patterns("labels.sqlite*"))
    monkeypatch.chdir(tmp_path)
    commands = documented_loop()
    assert [c.split()[1] for c in commands] == ["label", "label", "rerank", "similar", "export", "export", "labels"]
    outputs = []
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "radioexplore"
        outputs.append(cli_main(*words[1:])[1])

    run = RunDir(tmp_path / "runs" / "mine")
    events = LabelStore.for_run(run).events()
    assert list(events["tile_id"]) == [12, 3] and events["tags"].iloc[0] == ("candidate XRG",)
    ranking = read_active(run, "vit")
    assert ranking["labelled"].sum() == 2
    tiles = run.read_tiles()
    here = tiles.loc[12]
    touching = tiles[
        (tiles["field"] == here["field"])
        & ((tiles["x0"] - here["x0"]).abs() <= here["size"])
        & ((tiles["y0"] - here["y0"]).abs() <= here["size"])
        & (tiles.index != 12)
    ].index
    assert len(touching) and (ranking.loc[touching, "touches_liked"] == 12).all()
    assert "next to review:" in outputs[2]
    assert (tmp_path / "candidates.xml").read_text().count("<TR>") == 50
    assert (tmp_path / "peculiar.reg").read_text().count("box(") + (tmp_path / "peculiar.reg").read_text().count(
        "polygon("
    ) == 1
    assert len(pd.read_csv(tmp_path / "labels.csv")) == 2
