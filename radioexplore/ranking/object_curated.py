"""A curated pre-training set: a run's extended objects as source-centred stamps, written as a stamps run.

Seed 001 (Cecconello et al.) compares pre-training on uncurated tiles with a curated set of crops
centred on extended sources, each 2.5x the source's box. The objects of a run (``radioexplore
objects``: islands above 3 sigma with a 5 sigma peak, larger than a few beam areas, seed 000's
PyBDSF thresholds) already carry that box (``stamp_x0``, ``stamp_y0``, ``stamp_size``); here each is cut
from its field image, resampled to one size and scaled on its own as FITS stamps are (the per-stamp
sigma clip that ``objects --embed`` also applies, so the network trains on what it will embed), and
written as a new run in stamps mode (``tiles.zarr`` + ``tiles.parquet``), so that ``pretrain --run
CURATED`` and ``--also-run CURATED`` read it unchanged. Objects whose own artefact score marks them
as calibration patterns (troughs as deep as their crests: real emission is positive) are left out by
default; ``max_stamps`` keeps the most extended objects (largest area in beams), so a curated set can
match an uncurated one image for image. run.toml records the source run and every object id taken.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from radioexplore.ingest.report import IngestReport, nothing_ingested, write_outputs
from radioexplore.ingest.scaling import make_scaler
from radioexplore.ingest.stamps import FITS_STAMP_SCALING
from radioexplore.io.fits import read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.ranking.object_stamps import cut_stamps
from radioexplore.ranking.objects import LIKELY_ARTEFACT
from radioexplore.run.atomic import atomic_path
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import create_tile_store
from radioexplore.run.tiletable.rows import tile_row, tiles_frame
from radioexplore.run.tiletable.schema import STAMPS_MODE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurateConfig:
    """Which objects become stamps and how; recorded in the curated run's run.toml (``stages.ingest``)."""

    stamp_px: int = 128  # every stamp resampled to this side (the objects' boxes span 40-800 px)
    min_beams: float = 0.0  # keep objects of at least this many beam areas (0: every object of the table)
    max_stamps: int | None = None  # keep at most this many, the most extended first (None: all)
    keep_artefacts: bool = False  # also objects whose own artefact score reaches LIKELY_ARTEFACT
    scaling: str = FITS_STAMP_SCALING  # per stamp, as objects --embed scales them
    min_finite_fraction: float = 0.001

    def __post_init__(self) -> None:
        if self.stamp_px < 16:
            raise ValueError(f"stamp_px must be at least 16, not {self.stamp_px}")
        if self.min_beams < 0:
            raise ValueError(f"min_beams must be >= 0, not {self.min_beams}")
        if self.max_stamps is not None and self.max_stamps < 1:
            raise ValueError(f"max_stamps must be positive (or None for all), not {self.max_stamps}")


def select_objects(objects: pd.DataFrame, config: CurateConfig) -> pd.DataFrame:
    """The rows of ``objects`` that become stamps: large enough, not likely artefacts, at most
    ``max_stamps`` of the largest (area in beams, ties by ``object_id``); in field then object order."""
    keep = objects["area_beams"].to_numpy(dtype=float) >= config.min_beams
    if not config.keep_artefacts and "artefact_score" in objects:
        keep &= ~(np.nan_to_num(objects["artefact_score"].to_numpy(dtype=float)) >= LIKELY_ARTEFACT)
    chosen = objects[keep]
    if config.max_stamps is not None and len(chosen) > config.max_stamps:
        chosen = chosen.sort_values(["area_beams", "object_id"], ascending=[False, True]).head(config.max_stamps)
    return chosen.sort_values("object_id")


def curate_run(source: RunDir, out: RunDir, config: CurateConfig = CurateConfig()) -> IngestReport:
    """Write the objects of ``source`` (its ``objects.parquet``) as source-centred stamps into the new
    stamps run ``out``; returns the report (also written to ``out``)."""
    if not source.objects.is_file():
        raise RunDirError(f"{source.objects} does not exist: run `radioexplore objects --run {source.root}` first")
    if out.root.resolve() == source.root.resolve():
        raise ValueError(f"the curated run must be a new directory, not the source run {source.root}")
    objects = pd.read_parquet(source.objects)
    chosen = select_objects(objects, config)
    if chosen.empty:
        raise ValueError(
            f"{source.objects}: none of its {len(objects)} objects is kept (min_beams {config.min_beams}); "
            "lower min_beams"
        )
    tiles = source.read_tiles(columns=["field", "file", "survey", "bunit"]).drop_duplicates("field")
    fields = tiles.set_index("field")
    scaler = make_scaler(config.scaling)
    report = IngestReport()
    rows: list[dict] = []
    taken: list[int] = []
    out.root.mkdir(parents=True, exist_ok=True)
    with atomic_path(out.tile_pixels, replace_dir=True) as tmp_store:
        store = create_tile_store(tmp_store, len(chosen), scaler.channels, config.stamp_px)
        for field, part in chosen.groupby("field", sort=False):
            if field not in fields.index:
                raise RunDirError(f"{source.objects} names field {field!r}, absent from {source.tiles_table}")
            meta = fields.loc[field]
            try:
                raw = cut_stamps(read_image(meta["file"]), part, config.stamp_px)
            except FitsReadError as exc:
                report.failed[str(meta["file"])] = str(exc)
                continue
            scaled = np.zeros((len(part), scaler.channels, config.stamp_px, config.stamp_px), np.float16)
            for i, (stamp, obj) in enumerate(zip(raw, part.itertuples(index=False), strict=True)):
                finite = stamp[np.isfinite(stamp)]
                if finite.size >= 16:
                    scaled[i] = np.nan_to_num(scaler.apply(stamp, scaler.fit(finite)), nan=0.0)
                rows.append(_stamp_row(len(rows), obj, meta, stamp, config))
                taken.append(int(obj.object_id))
            store[len(rows) - len(part) : len(rows)] = scaled
            report.ingested.append(str(meta["file"]))
        if not rows:
            raise nothing_ingested(report, "field image")
        if len(rows) < len(chosen):
            store.resize((len(rows), *store.shape[1:]))
    write_outputs(
        out,
        tiles_frame(rows),
        report,
        dict(
            asdict(config),
            mode=STAMPS_MODE,
            curated_from=str(source.root.resolve()),
            objects_table=str(source.objects.resolve()),
            objects_config=source.stage_config("objects"),
            n_objects_in_table=len(objects),
            object_ids=taken,
            smallest_area_beams=float(chosen["area_beams"].min()),
            scaling_scope="per stamp (each stamp is its own field)",
            n_tiles=len(rows),
            sources="seed 001 (Cecconello et al.): curated crops centred on extended sources, 2.5x the source's box",
        ),
    )
    return report


def _stamp_row(tile_id: int, obj, meta: pd.Series, stamp: np.ndarray, config: CurateConfig) -> dict:
    side = int(obj.stamp_size)
    frac = float(np.isfinite(stamp).mean())
    return tile_row(
        tile_id=tile_id,
        field=str(obj.field),
        survey=str(meta["survey"]),
        file=str(meta["file"]),
        box=(int(obj.stamp_x0), int(obj.stamp_y0), side),
        ra=float(obj.ra),
        dec=float(obj.dec),
        noise_rms=float(obj.noise_rms),
        dqf=None,
        n_sources=None,
        n_sources_from="",
        pixels=stamp,
        finite_fraction=frac,
        min_finite_fraction=config.min_finite_fraction,
        bunit=str(meta["bunit"]),
        orig_width=side,
        orig_height=side,
        zoom=config.stamp_px / side,
        label=None,
    )
