"""The demo pipeline: simulate a survey, then ingest, embed, index, map and rank it in one go."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from radioexplore.embed.embedding import EmbedConfig, embed_run
from radioexplore.ingest.images import IngestConfig, ingest
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.rank import rank_run
from radioexplore.run.rundir import RunDir
from radioexplore.simulation import SimulationConfig, simulate_survey
from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.run_truth import attach_truth
from radioexplore.space.index import IndexConfig, index_run
from radioexplore.space.maps import MapConfig, map_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """A demo survey small enough for a 2-core laptop in a few minutes."""

    fields: int = 16
    size_px: int = 2048
    seed: int = 0
    tile_px: int = 256
    embedding: str = "vit"
    checkpoint: str | None = None


def build_demo(run: RunDir, config: DemoConfig = DemoConfig(), progress: bool = True) -> dict[str, float]:
    """Build a complete demo run; returns seconds spent per stage."""
    timings: dict[str, float] = {}
    sim_dir = run.root / "simulated"

    def stage(name: str, fn) -> None:
        t0 = time.perf_counter()
        log.info("demo: %s ...", name)
        fn()
        timings[name] = time.perf_counter() - t0
        log.info("demo: %s done in %.1f s", name, timings[name])

    sim = SimulationConfig(fields=config.fields, size_px=config.size_px, seed=config.seed)
    paths: dict[str, Path] = {}
    stage("simulate", lambda: paths.update(simulate_survey(sim_dir, sim, progress)))
    fits_files = SimulationDir(sim_dir).images()
    ingest_cfg = IngestConfig(tile_px=config.tile_px, catalog=str(paths["catalogue"]), survey="simulated MeerKAT")

    def do_ingest() -> None:
        ingest(fits_files, run, ingest_cfg, progress)
        attach_truth(run, sim_dir)

    stage("ingest", do_ingest)
    embed_cfg = EmbedConfig(name=config.embedding, checkpoint=config.checkpoint)
    stage("embed", lambda: embed_run(run, embed_cfg, progress))
    stage("index", lambda: index_run(run, config.embedding, IndexConfig()))
    stage("map", lambda: map_run(run, config.embedding, MapConfig()))
    stage("rank", lambda: rank_run(run, config.embedding, RankConfig()))
    run.record("demo", dict(asdict(config), seconds=timings), default_embedding=config.embedding)
    return timings
