"""Which stages of a run are missing or disagree with what they were built from, and the command to fix each.

The app and every command that reads artefacts ask this before trusting them, so an interrupted
or out-of-order stage is named with the command that re-makes it instead of giving wrong answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from radioexplore.run.errors import RunDirError
from radioexplore.run.generation import store_generation
from radioexplore.run.provenance import parquet_rows

if TYPE_CHECKING:
    from radioexplore.run.rundir import RunDir

#: The stages whose artefacts :func:`check_consistent` checks, in pipeline order.
CHECKED_STAGES = ("ingest", "embed", "index", "map", "rank", "rerank")

#: The stages of a complete run, in order, with the command that makes each one.
STAGE_COMMANDS = {
    "ingest": "radioexplore ingest FITS... --run {run}",
    "embed": "radioexplore embed --run {run}",
    "index": "radioexplore index --run {run}",
    "map": "radioexplore map --run {run}",
    "rank": "radioexplore rank --run {run}",
    "rerank": "radioexplore rerank --run {run}",
}


@dataclass(frozen=True)
class Problem:
    """One artefact that does not agree with what it was built from, and the stage that re-makes it."""

    stage: str
    artefact: str
    reason: str
    command: str

    def __str__(self) -> str:
        return f"{self.artefact} {self.reason}: run `{self.command}`"


def _commands(run: RunDir) -> dict[str, str]:
    return {k: v.format(run=run.root) for k, v in STAGE_COMMANDS.items()}


def missing(run: RunDir, embedding: str | None = None) -> list[tuple[str, str]]:
    """Stages whose artefacts are absent, each with the command that makes it.

    Returns a list of ``(stage, command)``; empty when the run is complete enough for the app.
    """
    out: list[tuple[str, str]] = []
    cmd = _commands(run)
    if not run.root.is_dir():
        return [("run directory", f"radioexplore demo --run {run.root}")]
    if not (run.tiles_table.is_file() and run.tile_pixels.exists()):
        out.append(("ingest", cmd["ingest"]))
    names = [embedding] if embedding else run.embedding_names()
    if not names or not all(run.embeddings(n).is_file() for n in names):
        out.append(("embed", cmd["embed"]))
        names = []
    for n in names:
        if not run.index(n).is_file():
            out.append(("index", cmd["index"] + f" --name {n}"))
        if not run.map_methods(n):
            out.append(("map", cmd["map"] + f" --name {n}"))
        if not run.scores(n).is_file():
            out.append(("rank", cmd["rank"] + f" --name {n}"))
    return out


def consistency_problems(run: RunDir, embedding: str | None = None) -> list[Problem]:
    """Artefacts present that disagree with what they were built from, each with the stage to re-run.

    Checks tiles.zarr against tiles.parquet, then for ``embedding`` (default: every one present)
    the embeddings against the tiles and their own record, and the index, maps, scores and active
    scores against the embedding they were built from. Absent artefacts are not problems here
    (see :func:`missing`).
    """
    if not run.root.is_dir():
        return []
    cmd = _commands(run)
    out: list[Problem] = []
    have_table, have_store = run.tiles_table.is_file(), run.tile_pixels.exists()
    if not have_table:
        reason = "is here without tiles.parquet (an interrupted ingest)"
        return [Problem("ingest", "tiles.zarr", reason, cmd["ingest"])] if have_store else []
    table_gen = run.tiles_meta().get("tiles_generation")
    n_tiles = parquet_rows(run.tiles_table)
    if have_store:  # a run made of a table and embeddings alone (no pixels) is fine
        try:
            import zarr

            n_store = zarr.open_array(str(run.tile_pixels), mode="r").shape[0]
        except Exception as exc:
            return [Problem("ingest", "tiles.zarr", f"cannot be read ({exc})", cmd["ingest"])]
        # a table rewritten by other tools loses its generation: then only the counts can be compared
        if n_store != n_tiles or (table_gen is not None and store_generation(run) != table_gen):
            why = f"{n_store} tiles against {n_tiles} rows" if n_store != n_tiles else "different ingests"
            reason = f"and tiles.parquet come from {why} (an interrupted ingest)"
            return [Problem("ingest", "tiles.zarr", reason, cmd["ingest"])]
    names = [embedding] if embedding else run.embedding_names()
    for name in names:
        if run.embeddings(name).is_file():
            out += _embedding_problems(run, name, table_gen, n_tiles, cmd)
    return out


def _embedding_problems(
    run: RunDir, name: str, tiles_gen: str | None, n_tiles: int, cmd: dict[str, str]
) -> list[Problem]:
    out: list[Problem] = []
    rel = f"embeddings/{name}.npy"
    rows = np.load(run.embeddings(name), mmap_mode="r").shape[0]
    checksum = run.embedding_checksum(name)
    embed_cmd = f"{cmd['embed']} --name {name}"
    built = run.stage_config("embed", name).get("built_from", {})
    if rows != n_tiles:
        out.append(Problem("embed", rel, f"has {rows} rows for {n_tiles} tiles", embed_cmd))
    elif tiles_gen is not None and built.get("tiles_generation", tiles_gen) != tiles_gen:
        out.append(Problem("embed", rel, "was built from an older ingest", embed_cmd))
    elif built.get("embedding_checksum", checksum) != checksum:
        out.append(Problem("embed", rel, "does not match its record in run.toml (an interrupted embed)", embed_cmd))
    derived = [("index", f"index/{name}.faiss", run.index(name), name)]
    derived += [("map", f"maps/{name}.{m}.parquet", run.map(name, m), f"{name}.{m}") for m in run.map_methods(name)]
    derived += [("rank", f"scores/{name}.parquet", run.scores(name), name)]
    derived += [("rerank", f"scores/active/{name}.parquet", run.active_scores(name), name)]
    for stage, artefact, path, key in derived:
        if not path.is_file():
            continue
        built = run.stage_config(stage, key).get("built_from")
        command = f"{cmd[stage]} --name {name}" + (f" --method {key.split('.', 1)[1]}" if stage == "map" else "")
        if built is None:
            n = run.stage_config(stage, key).get("n")
            if n is not None and n != rows:
                out.append(Problem(stage, artefact, f"was built from {n} embeddings, not {rows}", command))
        elif built.get("embedding_checksum") != checksum:
            out.append(Problem(stage, artefact, "was built from an older embedding", command))
    return out


def check_consistent(run: RunDir, embedding: str | None = None, stages: Iterable[str] | None = None) -> None:
    """Raise RunDirError (one line, naming each stage to re-run) when the run contradicts itself.

    ``stages`` limits the check to the artefacts a caller reads (e.g. ``("ingest", "embed", "index")``
    for a neighbour search); default: all of :data:`CHECKED_STAGES`.
    """
    wanted = set(CHECKED_STAGES if stages is None else stages)
    problems = [p for p in consistency_problems(run, embedding) if p.stage in wanted]
    if problems:
        raise RunDirError("; ".join(map(str, problems)))
