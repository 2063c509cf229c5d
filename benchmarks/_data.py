"""Data for the loop benchmarks: a run with truth columns, a freshly simulated one, or planted embeddings.

Shared by ``peculiar_recall.py`` and ``active_learning.py`` (run by hand, not by the tests).
The truth columns are those of a simulated run: ``truth_peculiar`` (orc, xrg, grg),
``truth_extended`` (every extended kind, peculiar included) and ``truth_kinds``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class BenchData:
    """Embedding sets by name and the truth of each tile."""

    source: str
    embeddings: dict[str, np.ndarray]
    peculiar: np.ndarray
    extended: np.ndarray  # extended or diffuse, peculiar included (seed 002's "complex" = extended & ~peculiar)
    flag: np.ndarray | None = None  # each tile's flag (ok, partial, blank), for the exclusion rank_run makes
    field: np.ndarray | None = None  # each tile's field: the groups of RankConfig.standardise = "field"
    geometry: pd.DataFrame | None = None  # each tile's field, x0, y0 and size: which tiles touch

    def adjacency(self):
        """Touching tiles (:func:`radioexplore.run.tiling.tile_adjacency`); None without tile geometry."""
        if self.geometry is None:
            return None
        from radioexplore.run.tiling import tile_adjacency

        g = self.geometry
        return tile_adjacency(g["field"].astype(str).to_numpy(), g["x0"], g["y0"], g["size"])

    def exclude(self, flags: tuple[str, ...]) -> np.ndarray | None:
        """Tiles whose flag is one of ``flags``: left out of the ranking, as rank_run does (None: no flags)."""
        if self.flag is None or not flags:
            return None
        return np.isin(self.flag, flags)


def add_data_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", type=Path, help="an existing run whose tiles.parquet has truth columns")
    src.add_argument("--simulate", type=Path, help="simulate a survey, ingest and embed it into this folder")
    src.add_argument("--synthetic", action="store_true", help="planted synthetic embeddings (no images)")
    p.add_argument("--embedding", action="append", help="embedding set(s) of the run (default: all)")
    p.add_argument("--fields", type=int, default=16, help="--simulate: number of fields")
    p.add_argument("--size", type=int, default=2048, help="--simulate: field size in pixels")
    p.add_argument("--tile", type=int, default=128, help="--simulate: tile size in pixels")
    p.add_argument("--checkpoint", help="--simulate: backbone checkpoint (default: the shipped one, else random)")
    p.add_argument("--n", type=int, default=20_000, help="--synthetic: number of tiles")
    p.add_argument("--seed", type=int, default=0)


def load(args: argparse.Namespace) -> BenchData:
    if args.synthetic:
        from radioexplore.simulation.planted import PlantedConfig, planted_embeddings

        emb, tiles = planted_embeddings(PlantedConfig(n=args.n, seed=args.seed))
        return BenchData(
            f"planted synthetic embeddings (n={args.n}, seed {args.seed})", {"planted": emb}, *_truth(tiles)
        )
    if args.simulate:
        run = simulate_run(args)
    else:
        from radioexplore.run.rundir import RunDir

        run = RunDir(args.run)
    tiles = run.read_tiles()
    names = args.embedding or run.embedding_names()
    if not names:
        raise SystemExit(f"{run.root} has no embeddings; run `radioexplore embed --run {run.root}`")
    flag = tiles["flag"].astype(str).to_numpy() if "flag" in tiles else None
    field = tiles["field"].astype(str).to_numpy() if "field" in tiles else None
    embeddings = {n: np.asarray(run.read_embeddings(n)) for n in names}
    geometry = tiles[["field", "x0", "y0", "size"]] if {"field", "x0", "y0", "size"} <= set(tiles.columns) else None
    return BenchData(str(run.root), embeddings, *_truth(tiles), flag, field, geometry)


def _truth(tiles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    missing = {"truth_peculiar", "truth_extended"} - set(tiles.columns)
    if missing:
        raise SystemExit(f"the tiles table lacks {sorted(missing)}: ingest a simulated survey with --truth")
    peculiar = tiles["truth_peculiar"].to_numpy(dtype=bool)
    if not peculiar.any():
        raise SystemExit(
            "no tile has truth_peculiar set: this simulator injects no peculiar objects (orc, xrg, grg) yet; "
            "use a simulator that does, or --synthetic"
        )
    return peculiar, tiles["truth_extended"].to_numpy(dtype=bool)


def simulate_run(args: argparse.Namespace):
    """Simulate, ingest (with truth), embed with the backbone and with pixel statistics, into ``args.simulate``."""
    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.embed.pixelstats import pixel_statistics_run
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.run.rundir import RunDir
    from radioexplore.simulation import SimulationConfig, simulate_survey
    from radioexplore.simulation.folder import SimulationDir
    from radioexplore.simulation.run_truth import attach_truth

    folder = Path(args.simulate)
    run = RunDir(folder / "run")
    if run.tiles_table.is_file() and run.embedding_names():
        print(f"re-using {run.root}")
        return run
    sim = folder / "sim"
    simulate_survey(sim, SimulationConfig(fields=args.fields, size_px=args.size, seed=args.seed), progress=True)
    ingest(SimulationDir(sim).images(), run, IngestConfig(tile_px=args.tile), progress=True)
    attach_truth(run, sim)
    embed_run(run, EmbedConfig(name="vit", checkpoint=args.checkpoint), progress=True)
    pixel_statistics_run(run)
    return run


def interest_oracle(peculiar: np.ndarray, extended: np.ndarray, seed: int = 0):
    """The simulated astronomer: 5 for peculiar tiles, 3 or 4 for extended ones, 1 for the rest."""
    rng = np.random.default_rng(seed)

    def judge(tile: int) -> tuple[int, list[str]]:
        if peculiar[tile]:
            return 5, ["PECULIAR", "EXTENDED"]
        if extended[tile]:
            return int(rng.integers(3, 5)), ["EXTENDED"]
        return 1, ["COMPACT"]

    return judge
