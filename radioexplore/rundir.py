"""The run directory: the one owner of artefact paths, atomic writes and ``run.toml`` provenance.

Every stage reads what earlier stages wrote into a run directory and writes its own artefacts
through this module, so a crash never leaves half a file that looks whole (write to a temporary
name, then rename) and the app can say which stage made what from which inputs.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

SCHEMA_VERSION = 1

#: The stages of a complete run, in order, with the command that makes each one.
STAGE_COMMANDS = {
    "ingest": "radioexplore ingest FITS... --run {run}",
    "embed": "radioexplore embed --run {run}",
    "index": "radioexplore index --run {run}",
    "map": "radioexplore map --run {run}",
    "rank": "radioexplore rank --run {run}",
}


class RunDirError(RuntimeError):
    """A run directory lacks an artefact or holds one that does not fit the contract."""


@dataclass(frozen=True)
class RunDir:
    """Paths of every artefact in one run directory (see shared/DESIGN.md, "The run directory")."""

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
    def ingest_report(self) -> Path:
        return self.root / "ingest_report.json"

    @property
    def objects(self) -> Path:
        """One row per extended object of the field images (``radioexplore objects``)."""
        return self.root / "objects.parquet"

    def model_dir(self, name: str) -> Path:
        return self.root / "models" / _checked_name(name)

    def embeddings(self, name: str) -> Path:
        return self.root / "embeddings" / f"{_checked_name(name)}.npy"

    def index(self, name: str) -> Path:
        return self.root / "index" / f"{_checked_name(name)}.faiss"

    def map(self, name: str, method: str = "umap") -> Path:
        return self.root / "maps" / f"{_checked_name(name)}.{_checked_name(method)}.parquet"

    def scores(self, name: str) -> Path:
        return self.root / "scores" / f"{_checked_name(name)}.parquet"

    def active_scores(self, name: str) -> Path:
        """The ranking blended with predicted interest (active learning), rewritten at each re-rank."""
        return self.root / "scores" / "active" / f"{_checked_name(name)}.parquet"

    def exports_dir(self) -> Path:
        return self.root / "exports"

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
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old")
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


def write_parquet(df: pd.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)


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
