"""The run directory: the one owner of artefact paths, atomic writes and ``run.toml`` provenance.

Every stage reads what earlier stages wrote into a run directory and writes its own artefacts
through this module, so a crash never leaves half a file that looks whole (write to a temporary
name, then rename) and the app can say which stage made what from which inputs.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import tomllib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Key of the JSON provenance radioexplore writes into a parquet file's schema metadata.
PARQUET_META_KEY = b"radioexplore"
#: Attribute of tiles.zarr naming the ingest generation that wrote it.
STORE_GENERATION_ATTR = "radioexplore_generation"
#: Artefact folders built from the tiles, moved aside (into ``stale/<time>/``) when the tiles are re-made.
DOWNSTREAM_DIRS = ("embeddings", "index", "maps", "scores", "evaluation", "segments")
#: The stages whose artefacts ``RunDir.check_consistent`` checks, in pipeline order.
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


class RunDirError(RuntimeError):
    """A run directory lacks an artefact or holds one that does not fit the contract."""


@dataclass(frozen=True)
class Problem:
    """One artefact that does not agree with what it was built from, and the stage that re-makes it."""

    stage: str
    artefact: str
    reason: str
    command: str

    def __str__(self) -> str:
        return f"{self.artefact} {self.reason}: run `{self.command}`"


@dataclass(frozen=True)
class RunDir:
    """Paths of every artefact in one run directory (docs/architecture.md, "The run directory")."""

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root).expanduser().resolve())

    # -- artefact paths -------------------------------------------------------------------
    @property
    def run_toml(self) -> Path:
        return self.root / "run.toml"

    @property
    def tiles_table(self) -> Path:
        return self.root / "tiles.parquet"

    @property
    def tile_pixels(self) -> Path:
        return self.root / "tiles.zarr"

    @property
    def labels_db(self) -> Path:
        return self.root / "labels.sqlite"

    @property
    def label_backups(self) -> Path:
        """Rolling backups of labels.sqlite (radioexplore.run.labels.backups.BackupPolicy says when)."""
        return self.root / "backups"

    @property
    def ingest_report(self) -> Path:
        return self.root / "ingest_report.json"

    @property
    def objects(self) -> Path:
        """One row per extended object of the field images (``radioexplore objects``)."""
        return self.root / "objects.parquet"

    def object_embeddings(self, name: str = "vit") -> Path:
        """One embedding row per row of ``objects.parquet``, from the objects' stamps (``objects --embed``)."""
        return self.root / "objects" / f"{_checked_name(name)}.npy"

    @property
    def artefact_features(self) -> Path:
        """The artefact axis's features per tile, cached by ``rank`` with the tiles' provenance."""
        return self.root / "artefacts.parquet"

    def model_dir(self, name: str) -> Path:
        """The folder of one pre-trained model (``radioexplore pretrain``): checkpoint, backbone, log, recipe."""
        return self.root / "models" / _checked_name(name)

    def model_checkpoint(self, name: str) -> Path:
        """The resumable training state (student, teacher, optimiser, step) of model ``name``."""
        return self.model_dir(name) / "checkpoint.pt"

    def model_backbone(self, name: str) -> Path:
        """The finished backbone of model ``name``, the file ``embed --checkpoint`` loads."""
        return self.model_dir(name) / "backbone.pt"

    def model_log(self, name: str) -> Path:
        """The per-epoch training log of model ``name``, one JSON object a line."""
        return self.model_dir(name) / "log.jsonl"

    def model_recipe(self, name: str) -> Path:
        """The recipe model ``name`` was trained with, as TOML."""
        return self.model_dir(name) / "recipe.toml"

    def embeddings(self, name: str) -> Path:
        return self.root / "embeddings" / f"{_checked_name(name)}.npy"

    def index(self, name: str) -> Path:
        return self.root / "index" / f"{_checked_name(name)}.faiss"

    def map(self, name: str, method: str = "umap") -> Path:
        return self.root / "maps" / f"{_checked_name(name)}.{_checked_name(method)}.parquet"

    def scores(self, name: str) -> Path:
        return self.root / "scores" / f"{_checked_name(name)}.parquet"

    def rank_scaling(self, name: str) -> Path:
        """The per-field standardisation ``rank`` fitted to ``embeddings/<name>``, kept for the re-ranker."""
        return self.root / "scores" / f"{_checked_name(name)}.scaling.npz"

    def active_scores(self, name: str) -> Path:
        """The ranking blended with predicted interest (active learning), rewritten at each re-rank."""
        return self.root / "scores" / "active" / f"{_checked_name(name)}.parquet"

    @property
    def segments_dir(self) -> Path:
        """Diffuse-emission segmentation (``radioexplore segment``, seed 004): maps, per-tile and per-cluster tables."""
        return self.root / "segments"

    def segment_map(self, field: str) -> Path:
        """Probability (0-1, float32) of diffuse emission on ``field``'s own pixel grid, with its celestial WCS."""
        return self.segments_dir / f"{_checked_name(field)}.fits"

    @property
    def segment_tiles(self) -> Path:
        """Per tile: ``tile_id``, ``diffuse_mean`` (mean probability), ``diffuse_area`` (fraction above the threshold)."""
        return self.segments_dir / "tiles.parquet"

    @property
    def segment_clusters(self) -> Path:
        """Per cluster of the user's table: name, ra, dec, r_pix, R (detection ratio), detected, threshold."""
        return self.segments_dir / "clusters.parquet"

    @property
    def segment_meta(self) -> Path:
        """The model, thresholds and provenance (``built_from``) of the segmentation."""
        return self.segments_dir / "segment.json"

    def read_segment_tiles(self) -> pd.DataFrame:
        path = self.segment_tiles
        if not path.is_file():
            raise RunDirError(f"{path} does not exist: run `radioexplore segment --run {self.root}`")
        return pd.read_parquet(path)

    def exports_dir(self) -> Path:
        return self.root / "exports"

    def context_dir(self) -> Path:
        """Cache of cutouts and catalogue answers from other surveys (radioexplore.io.context)."""
        return self.root / "context"

    # -- what is there --------------------------------------------------------------------
    def embedding_names(self) -> list[str]:
        """Names of the embedding sets present, in a stable order."""
        folder = self.root / "embeddings"
        return sorted(p.stem for p in folder.glob("*.npy")) if folder.is_dir() else []

    def map_methods(self, name: str) -> list[str]:
        folder = self.root / "maps"
        prefix = f"{name}."
        if not folder.is_dir():
            return []
        return sorted(p.name[len(prefix) : -len(".parquet")] for p in folder.glob(f"{name}.*.parquet"))

    def missing(self, embedding: str | None = None) -> list[tuple[str, str]]:
        """Stages whose artefacts are absent, each with the command that makes it.

        Returns a list of ``(stage, command)``; empty when the run is complete enough for the app.
        """
        out: list[tuple[str, str]] = []
        cmd = {k: v.format(run=self.root) for k, v in STAGE_COMMANDS.items()}
        if not self.root.is_dir():
            return [("run directory", f"radioexplore demo --run {self.root}")]
        if not (self.tiles_table.is_file() and self.tile_pixels.exists()):
            out.append(("ingest", cmd["ingest"]))
        names = [embedding] if embedding else self.embedding_names()
        if not names or not all(self.embeddings(n).is_file() for n in names):
            out.append(("embed", cmd["embed"]))
            names = []
        for n in names:
            if not self.index(n).is_file():
                out.append(("index", cmd["index"] + f" --name {n}"))
            if not self.map_methods(n):
                out.append(("map", cmd["map"] + f" --name {n}"))
            if not self.scores(n).is_file():
                out.append(("rank", cmd["rank"] + f" --name {n}"))
        return out

    def owned_paths(self) -> list[Path]:
        """The files and folders of the run that only its stages may write (``exports/`` is the user's)."""
        names = ["run.toml", "tiles.parquet", "tiles.zarr", "labels.sqlite", "ingest_report.json", "stale"]
        return [self.root / n for n in (*names, *DOWNSTREAM_DIRS, "models")]

    def check_output_path(self, out: str | os.PathLike[str]) -> Path:
        """``out`` resolved, if a command may write a file there; RunDirError naming it otherwise.

        Refused: an existing directory (the run itself included) and any artefact the run owns,
        so an export never replaces the run, its labels or its tiles.
        """
        path = Path(out).expanduser().resolve()
        if path == self.root:
            raise RunDirError(f"--out {out} is the run directory itself; name a file to write, e.g. {out}/exports/x")
        if path.is_dir():
            raise RunDirError(f"--out {out} is an existing directory; name a file to write inside it")
        for owned in self.owned_paths():
            if path == owned or owned in path.parents:
                raise RunDirError(
                    f"--out {out} {'is' if path == owned else 'lies inside'} {owned.relative_to(self.root)}, "
                    f"an artefact of the run {self.root}; "
                    f"write elsewhere, e.g. {self.exports_dir()}/"
                )
        return path

    # -- consistency ----------------------------------------------------------------------
    def tiles_meta(self) -> dict[str, Any]:
        """The provenance stamped into tiles.parquet at ingest (generation, n_tiles, tile_px); {} for old runs."""
        return read_parquet_meta(self.tiles_table) if self.tiles_table.is_file() else {}

    def store_generation(self) -> str | None:
        """The ingest generation recorded in tiles.zarr (None when absent or unreadable)."""
        import zarr

        try:
            return zarr.open_array(str(self.tile_pixels), mode="r").attrs.get(STORE_GENERATION_ATTR)
        except Exception:  # a half-written store reads as no generation, so the check refuses it
            return None

    def embedding_checksum(self, name: str) -> str:
        """A short checksum of ``embeddings/<name>.npy``: its generation, recorded by the stages built on it."""
        return array_checksum(self.embeddings(name))

    def provenance(self, embedding: str | None = None) -> dict[str, Any]:
        """What an artefact built now is built from: the tiles' generation and size, and the embedding's checksum.

        Stages record this (as ``built_from``) with their run.toml entry; :meth:`consistency_problems`
        compares it with the run as it is.
        """
        meta = self.tiles_meta()
        out = {k: meta[k] for k in ("tiles_generation", "n_tiles", "tile_px") if k in meta}
        if embedding is not None and self.embeddings(embedding).is_file():
            out["embedding_checksum"] = self.embedding_checksum(embedding)
        return out

    def commit_tiles(self, tiles: pd.DataFrame) -> str:
        """Commit a new tiles.parquet to go with the tiles.zarr just swapped in; returns the new generation.

        Both files get the same fresh generation (the store first, the table last), so a reader
        that finds them disagreeing knows an ingest was interrupted. Embeddings, index, maps and
        scores built from the previous tiles move to ``stale/<time>/``; labels.sqlite stays, with
        a warning when the tiling changed (labels name tile ids).
        """
        import zarr

        store = zarr.open_array(str(self.tile_pixels), mode="r+")
        if store.shape[0] != len(tiles):
            raise RunDirError(f"{self.tile_pixels} holds {store.shape[0]} tiles but the table has {len(tiles)} rows")
        old = self.tiles_meta()
        old_rows = _parquet_rows(self.tiles_table) if self.tiles_table.is_file() else None
        generation = uuid.uuid4().hex[:12]
        store.attrs[STORE_GENERATION_ATTR] = generation
        meta = {"tiles_generation": generation, "n_tiles": len(tiles), "tile_px": int(store.shape[-1])}
        write_parquet(tiles, self.tiles_table, meta=meta)
        moved = self.retire_downstream()
        if moved:
            log.warning(
                "moved artefacts of the previous tiles to %s: %s", moved[0].parent, ", ".join(p.name for p in moved)
            )
        old_px = old.get("tile_px", self.stage_config("ingest").get("tile_px"))
        changed = old_rows is not None and (
            old_rows != len(tiles) or (old_px is not None and old_px != meta["tile_px"])
        )
        if changed and self.labels_db.is_file():
            log.warning(
                "%s refers to the previous tiling (%s tiles of %s px; now %d of %d px): its tile ids no longer "
                "name the same tiles",
                self.labels_db,
                old_rows,
                old_px if old_px is not None else "?",
                len(tiles),
                meta["tile_px"],
            )
        return generation

    def retire_downstream(self) -> list[Path]:
        """Move every artefact built from the tiles into ``stale/<time>/`` (never labels); returns the new paths."""
        present = [self.root / d for d in DOWNSTREAM_DIRS if (self.root / d).exists()]
        if not present:
            return []
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = self.root / "stale" / stamp
        n = 1
        while dest.exists():
            n += 1
            dest = self.root / "stale" / f"{stamp}-{n}"
        dest.mkdir(parents=True)
        if self.run_toml.is_file():
            shutil.copy2(self.run_toml, dest / "run.toml")
        moved = []
        for path in present:
            os.replace(path, dest / path.name)
            moved.append(dest / path.name)
        return moved

    def consistency_problems(self, embedding: str | None = None) -> list[Problem]:
        """Artefacts present that disagree with what they were built from, each with the stage to re-run.

        Checks tiles.zarr against tiles.parquet, then for ``embedding`` (default: every one present)
        the embeddings against the tiles and their own record, and the index, maps, scores and active
        scores against the embedding they were built from. Absent artefacts are not problems here
        (see :meth:`missing`).
        """
        if not self.root.is_dir():
            return []
        cmd = {k: v.format(run=self.root) for k, v in STAGE_COMMANDS.items()}
        out: list[Problem] = []
        have_table, have_store = self.tiles_table.is_file(), self.tile_pixels.exists()
        if not have_table:
            reason = "is here without tiles.parquet (an interrupted ingest)"
            return [Problem("ingest", "tiles.zarr", reason, cmd["ingest"])] if have_store else []
        meta = self.tiles_meta()
        table_gen = meta.get("tiles_generation")
        n_tiles = _parquet_rows(self.tiles_table)
        if have_store:  # a run made of a table and embeddings alone (no pixels) is fine
            try:
                import zarr

                n_store = zarr.open_array(str(self.tile_pixels), mode="r").shape[0]
            except Exception as exc:
                return [Problem("ingest", "tiles.zarr", f"cannot be read ({exc})", cmd["ingest"])]
            # a table rewritten by other tools loses its generation: then only the counts can be compared
            if n_store != n_tiles or (table_gen is not None and self.store_generation() != table_gen):
                why = f"{n_store} tiles against {n_tiles} rows" if n_store != n_tiles else "different ingests"
                reason = f"and tiles.parquet come from {why} (an interrupted ingest)"
                return [Problem("ingest", "tiles.zarr", reason, cmd["ingest"])]
        names = [embedding] if embedding else self.embedding_names()
        for name in names:
            if self.embeddings(name).is_file():
                out += self._embedding_problems(name, table_gen, n_tiles, cmd)
        return out

    def _embedding_problems(self, name: str, tiles_gen: str | None, n_tiles: int, cmd: dict[str, str]) -> list[Problem]:
        out: list[Problem] = []
        rel = f"embeddings/{name}.npy"
        rows = np.load(self.embeddings(name), mmap_mode="r").shape[0]
        checksum = self.embedding_checksum(name)
        embed_cmd = f"{cmd['embed']} --name {name}"
        built = self.stage_config("embed", name).get("built_from", {})
        if rows != n_tiles:
            out.append(Problem("embed", rel, f"has {rows} rows for {n_tiles} tiles", embed_cmd))
        elif tiles_gen is not None and built.get("tiles_generation", tiles_gen) != tiles_gen:
            out.append(Problem("embed", rel, "was built from an older ingest", embed_cmd))
        elif built.get("embedding_checksum", checksum) != checksum:
            out.append(Problem("embed", rel, "does not match its record in run.toml (an interrupted embed)", embed_cmd))
        derived = [("index", f"index/{name}.faiss", self.index(name), name)]
        derived += [
            ("map", f"maps/{name}.{m}.parquet", self.map(name, m), f"{name}.{m}") for m in self.map_methods(name)
        ]
        derived += [("rank", f"scores/{name}.parquet", self.scores(name), name)]
        derived += [("rerank", f"scores/active/{name}.parquet", self.active_scores(name), name)]
        for stage, artefact, path, key in derived:
            if not path.is_file():
                continue
            built = self.stage_config(stage, key).get("built_from")
            command = f"{cmd[stage]} --name {name}" + (f" --method {key.split('.', 1)[1]}" if stage == "map" else "")
            if built is None:
                n = self.stage_config(stage, key).get("n")
                if n is not None and n != rows:
                    out.append(Problem(stage, artefact, f"was built from {n} embeddings, not {rows}", command))
            elif built.get("embedding_checksum") != checksum:
                out.append(Problem(stage, artefact, "was built from an older embedding", command))
        return out

    def check_consistent(self, embedding: str | None = None, stages: Iterable[str] | None = None) -> None:
        """Raise RunDirError (one line, naming each stage to re-run) when the run contradicts itself.

        ``stages`` limits the check to the artefacts a caller reads (e.g. ``("ingest", "embed", "index")``
        for a neighbour search); default: all of :data:`CHECKED_STAGES`.
        """
        wanted = set(CHECKED_STAGES if stages is None else stages)
        problems = [p for p in self.consistency_problems(embedding) if p.stage in wanted]
        if problems:
            raise RunDirError("; ".join(map(str, problems)))

    # -- reading --------------------------------------------------------------------------
    def read_tiles(self, columns: list[str] | None = None) -> pd.DataFrame:
        if not self.tiles_table.is_file():
            raise RunDirError(
                f"{self.tiles_table} does not exist: run `radioexplore ingest FITS... --run {self.root}` first"
            )
        return pd.read_parquet(self.tiles_table, columns=columns)

    def read_embeddings(self, name: str, mmap: bool = True) -> np.ndarray:
        path = self.embeddings(name)
        if not path.is_file():
            have = ", ".join(self.embedding_names()) or "none"
            raise RunDirError(
                f"no embeddings named {name!r} in {self.root} (present: {have}); "
                f"run `radioexplore embed --run {self.root} --name {name}`"
            )
        return np.load(path, mmap_mode="r" if mmap else None)

    def read_map(self, name: str, method: str = "umap") -> pd.DataFrame:
        path = self.map(name, method)
        if not path.is_file():
            raise RunDirError(
                f"{path} does not exist: run `radioexplore map --run {self.root} --name {name} --method {method}`"
            )
        return pd.read_parquet(path)

    def read_scores(self, name: str) -> pd.DataFrame:
        path = self.scores(name)
        if not path.is_file():
            raise RunDirError(f"{path} does not exist: run `radioexplore rank --run {self.root} --name {name}`")
        return pd.read_parquet(path)

    def default_embedding(self) -> str | None:
        """The embedding the app opens first: the one named in run.toml, else the first present."""
        names = self.embedding_names()
        preferred = self.read_meta().get("default_embedding")
        if preferred in names:
            return preferred
        return names[0] if names else None

    # -- provenance -----------------------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        if not self.run_toml.is_file():
            return {}
        with open(self.run_toml, "rb") as fh:
            return tomllib.load(fh)

    def record(self, stage: str, config: dict[str, Any], key: str | None = None, **top: Any) -> None:
        """Record a stage's configuration in run.toml (under ``stages.<stage>[.<key>]``).

        ``top`` sets top-level keys too (for example ``default_embedding``).
        """
        meta = self.read_meta()
        meta.setdefault("schema_version", SCHEMA_VERSION)
        meta.setdefault("created", _now())
        meta["versions"] = software_versions()
        entry = dict(_tomlable(config))
        entry["written"] = _now()
        stages = meta.setdefault("stages", {})
        if key is None:
            stages[stage] = entry
        else:
            stages.setdefault(stage, {})[key] = entry
        meta.update(_tomlable(top))
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.run_toml) as tmp:
            tmp.write_bytes(tomli_w.dumps(meta).encode())

    def stage_config(self, stage: str, key: str | None = None) -> dict[str, Any]:
        entry = self.read_meta().get("stages", {}).get(stage, {})
        return entry.get(key, {}) if key is not None else entry


# -- atomic writes ----------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(target: Path, replace_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    An existing directory at ``target`` is replaced only with ``replace_dir=True``, which only the
    writers of a run's own directory artefacts (tiles.zarr) pass; otherwise RunDirError, before any
    work. Leftovers of an earlier writer of ``target`` that was killed are removed first (and logged).
    """
    target = Path(target)
    if target.is_dir() and not target.is_symlink() and not replace_dir:
        raise RunDirError(f"{target} is a directory; refusing to replace it: name a file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    removed = clean_leftovers(target)
    if removed:
        log.warning("removed leftovers of an interrupted write of %s: %s", target, ", ".join(p.name for p in removed))
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            if not replace_dir:
                raise RunDirError(f"{target} is a directory; refusing to replace it: name a file to write")
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def clean_leftovers(target: Path) -> list[Path]:
    """Remove what a killed writer of ``target`` left beside it (``.NAME.PID.*.tmp``, ``.NAME[.PID].old``).

    Leftovers of a process still alive (another writer at work) are kept. Returns what was removed.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}."
    removed = []
    for path in target.parent.iterdir():
        rest = path.name[len(prefix) :] if path.name.startswith(prefix) else None
        if rest is None or not (rest.endswith(".tmp") or rest.endswith("old")):
            continue
        pid = rest.split(".", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_parquet(df: pd.DataFrame, target: Path, meta: dict[str, Any] | None = None) -> None:
    """Write ``df`` atomically; ``meta`` (JSON-able) goes into the file's schema metadata (see read_parquet_meta)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if meta:
        extra = {PARQUET_META_KEY: json.dumps(_tomlable(meta)).encode()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def read_parquet_meta(path: Path) -> dict[str, Any]:
    """The radioexplore provenance in a parquet file's footer ({} when it has none)."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(PARQUET_META_KEY)
    return json.loads(raw) if raw else {}


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def array_checksum(path: Path) -> str:
    """A 16-hex-digit checksum of a .npy array: all of it up to 64 MB, else its shape and 4096 spread rows."""
    arr = np.load(path, mmap_mode="r")
    h = hashlib.blake2b(digest_size=8)
    h.update(repr((arr.shape, arr.dtype.str)).encode())
    if arr.nbytes <= 64 << 20 or arr.ndim == 0:
        h.update(np.ascontiguousarray(arr).tobytes())
    else:
        rows = np.unique(np.linspace(0, arr.shape[0] - 1, 4096).astype(np.int64))
        h.update(np.ascontiguousarray(arr[rows]).tobytes())
    return h.hexdigest()


def write_npy(array: np.ndarray, target: Path) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))


# -- helpers ----------------------------------------------------------------------------------
def _checked_name(name: str) -> str:
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"artefact name {name!r} must be non-empty, not start with '.', and hold no slash")
    return name


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _tomlable(value: Any) -> Any:
    """Turn dataclass dumps into TOML-safe values (no None, paths as strings, numpy scalars as Python)."""
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_tomlable(v) for v in value if v is not None]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def software_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour shapes the artefacts."""
    import importlib.metadata as md

    out = {}
    for pkg in ("radioexplore", "numpy", "astropy", "torch", "faiss-cpu", "umap-learn", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out
