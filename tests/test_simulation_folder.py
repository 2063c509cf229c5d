"""The simulation folder contract (issue 19): SimulationDir names every file the simulator writes."""

from __future__ import annotations

import pandas as pd

from radioexplore.run.rundir import RunDir
from radioexplore.simulation import SimulationConfig, simulate_survey
from radioexplore.simulation.folder import SimulationDir


def test_simulate_writes_what_simulation_dir_names(tmp_path) -> None:
    paths = simulate_survey(tmp_path, SimulationConfig(fields=2, size_px=256, seed=3, naxis=2), progress=False)
    sim = SimulationDir(tmp_path)
    assert paths == sim.outputs()
    assert all(p.exists() for p in paths.values())
    assert sim.config.is_file() and sim.diffuse_dir.is_dir()
    fields = pd.read_csv(sim.fields)
    assert sim.images() == [sim.image(f) for f in fields["file"]]
    assert all(sim.diffuse(name).is_file() for name in fields["field"])
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {p.name for p in paths.values()} | {sim.config.name} | {p.name for p in sim.images()}


def test_model_paths_lie_in_the_model_folder(tmp_path) -> None:
    run = RunDir(tmp_path)
    n = "dino_s0"
    folder = run.model_dir(n)
    got = [run.model_checkpoint(n), run.model_backbone(n), run.model_log(n), run.model_recipe(n)]
    assert [p.parent for p in got] == [folder] * 4
    assert [p.name for p in got] == ["checkpoint.pt", "backbone.pt", "log.jsonl", "recipe.toml"]
