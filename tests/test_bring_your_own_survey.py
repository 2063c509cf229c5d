"""The commands of README.md's "Bring your own survey", run as written on simulated MGCLS-style files."""

import glob
import re
import shlex
import shutil

import pandas as pd
from astropy.io import fits

from radioexplore.run.rundir import RunDir
from radioexplore.simulation import SimulationConfig, simulate_survey, tile_truth
from tests.conftest import ROOT

DOC = ROOT / "README.md"


def documented_commands() -> list[str]:
    """The lines of the bash blocks marked ``<!-- test: run -->`` in the README's "Bring your own survey"."""
    section = DOC.read_text().split("## Bring your own survey", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"<!-- test: run -->\s*```bash\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_documented_commands_run_on_simulated_mgcls_style_files(tmp_path, monkeypatch, cli_main):
    sim = tmp_path / "sim"
    simulate_survey(sim, SimulationConfig(fields=2, size_px=512, seed=3), progress=False)
    # the layout the document describes; MGCLS images carry no DQF keyword, the field table has it
    images = tmp_path / "mysurvey" / "images"
    images.mkdir(parents=True)
    for path in sorted(sim.glob("field_*.fits")):
        with fits.open(path) as hdul:
            del hdul[0].header["DQF"]
            hdul.writeto(images / path.name)
    shutil.copy(sim / "pybdsf_srl.fits", tmp_path / "mysurvey" / "pybdsf_srl.fits")
    fields = pd.read_csv(sim / "fields.csv")
    fields["dqf"] = [3, 1]  # differ from the simulation's, so the table is seen to be used
    fields[["field", "dqf"]].to_csv(tmp_path / "mysurvey" / "fields.csv", index=False)

    commands = documented_commands()
    assert [c.split()[1] for c in commands] == ["ingest", "embed", "index", "map", "rank"]
    monkeypatch.chdir(tmp_path)  # the commands use paths relative to where the user stands
    for command in commands:
        words = shlex.split(command)  # as the shell would: quotes, then glob patterns
        assert words[0] == "radioexplore"
        args = [a for w in words[1:] for a in (sorted(glob.glob(w)) if "*" in w else [w])]
        cli_main(*args)

    run = RunDir(tmp_path / "runs" / "mysurvey")
    assert run.missing() == []
    tiles = run.read_tiles()
    assert len(tiles) == 2 * 4 and (tiles["survey"] == "my survey").all()
    assert list(tiles.groupby("field")["dqf"].first()) == [3, 1]
    truth = tile_truth(sim, tiles)
    assert (tiles["n_sources"] == truth["truth_n_sources"]).all()  # PyBDSF list without its 'M' sources
    assert (tiles["n_sources_from"] == "catalogue").all()
