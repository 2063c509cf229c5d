"""The run directory: the one owner of artefact paths and of ``run.toml``, where each stage records what it did.

Every stage reads what earlier stages wrote into a run directory and writes its own artefacts
at the paths named here (through :mod:`radioexplore.run.atomic`), so the app can say which
stage made what from which inputs (:mod:`radioexplore.run.consistency`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from radioexplore.run import consistency
from radioexplore.run.atomic import atomic_path
from radioexplore.run.errors import RunDirError
from radioexplore.run.generation import DOWNSTREAM_DIRS
from radioexplore.run.provenance import (
    SCHEMA_VERSION,
    array_checksum,
    now,
    read_parquet_meta,
    software_versions,
    tomlable,
)


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

    def missing(self, embedding: str | None = None) -> list[tuple[str, str]]:
        """Stages whose artefacts are absent, each with its command (:func:`radioexplore.run.consistency.missing`)."""
        return consistency.missing(self, embedding)

    def consistency_problems(self, embedding: str | None = None) -> list[consistency.Problem]:
        """Artefacts that disagree with their inputs (:func:`radioexplore.run.consistency.consistency_problems`)."""
        return consistency.consistency_problems(self, embedding)

    def check_consistent(self, embedding: str | None = None, stages: Iterable[str] | None = None) -> None:
        """RunDirError naming each stage to re-run (:func:`radioexplore.run.consistency.check_consistent`)."""
        consistency.check_consistent(self, embedding, stages)

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
        meta.setdefault("created", now())
        meta["versions"] = software_versions()
        entry = dict(tomlable(config))
        entry["written"] = now()
        stages = meta.setdefault("stages", {})
        if key is None:
            stages[stage] = entry
        else:
            stages.setdefault(stage, {})[key] = entry
        meta.update(tomlable(top))
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.run_toml) as tmp:
            tmp.write_bytes(tomli_w.dumps(meta).encode())

    def stage_config(self, stage: str, key: str | None = None) -> dict[str, Any]:
        entry = self.read_meta().get("stages", {}).get(stage, {})
        return entry.get(key, {}) if key is not None else entry


# -- helpers ----------------------------------------------------------------------------------
def _checked_name(name: str) -> str:
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"artefact name {name!r} must be non-empty, not start with '.', and hold no slash")
    return name
