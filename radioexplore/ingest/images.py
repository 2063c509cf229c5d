"""Ingest wide-field FITS images into a run: tile geometry, per-field scaling, per-tile metadata.

Writes ``tiles.parquet`` (one row per crop), ``tiles.zarr`` (normalised pixels) and
``ingest_report.json`` (what was read, what was not and why) into the run directory. Files that
cannot be read are reported by name with the reason and the rest ingest; tiles on blanked
borders are kept with a flag, never dropped (README, "Science defaults"). Pixels are read
box by box from a memory map, so images larger than memory ingest.

Per tile: robust noise (:func:`radioexplore.ingest.noise.masked_rms` by default), DQF (field table, else
the header's ``DQF``), and a source count from a PyBDSF-style catalogue or, without one, from our
own detector (:mod:`radioexplore.ingest.detect`); the ``n_sources_from`` column says which.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from radioexplore.ingest.detect import DetectConfig, count_in_box
from radioexplore.ingest.fields import field_dqf, field_name, read_field_table
from radioexplore.ingest.noise import robust_rms
from radioexplore.ingest.report import IngestReport, nothing_ingested, write_outputs
from radioexplore.ingest.scaling import make_scaler
from radioexplore.ingest.vetting import open_images
from radioexplore.io.catalog import CatalogError, count_in_tiles, read_catalog
from radioexplore.io.fits import FitsImage
from radioexplore.run.atomic import atomic_path
from radioexplore.run.fanout import describe, map_tasks
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import CHUNK_TILES, create_tile_store, open_tile_store
from radioexplore.run.tiletable.rows import tile_row, tiles_frame
from radioexplore.run.tiling import TileBox, tile_grid

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """How images become tiles; defaults follow Lastufka et al. 2024 (seed 000)."""

    tile_px: int = 256  # seed 000, sec. 2.1: 256 px crops
    scaling: str = "contrast"  # seed 000, sec. 2.2: per-field contrast stretch
    scaling_params: dict = field(default_factory=dict)  # e.g. {"low": 2, "high": 98}
    noise: str = "masked"  # per-tile rms: "masked" (source-masked, clipped MAD), "local", "mad", "sigma_clip"
    catalog: str | None = None  # PyBDSF-style catalogue for per-tile source counts
    exclude_multi: bool = False  # drop S_Code 'M' sources, as MGCLS does
    field_table: str | None = None  # CSV with columns field (or file), dqf; overrides header DQF
    survey: str = ""  # survey name written into every row
    min_finite_fraction: float = 0.001  # tiles with fewer finite pixels are flagged 'blank'
    detect: bool = True  # count sources with our detector where no catalogue can be used
    detector: DetectConfig = field(default_factory=DetectConfig)


def _catalogue_counts(
    catalog: pd.DataFrame | None, image: FitsImage, boxes: list[TileBox], config: IngestConfig, report: IngestReport
) -> np.ndarray | None:
    if catalog is None:
        return None
    try:
        return count_in_tiles(catalog, image, boxes, config.exclude_multi)
    except CatalogError as exc:
        fallback = "counting sources with our detector instead" if config.detect else "source counts left empty"
        report.warnings.append(f"{image.path.name}: {str(exc).split(': ', 1)[-1]}; {fallback}")
        return None


def beam_area_px(image: FitsImage) -> float | None:
    """The restoring beam's area in pixels, when the header gives the beam and the pixel scale."""
    if image.beam is None or not image.pixel_arcsec:
        return None
    return image.beam.area_pixels(image.pixel_arcsec)


@dataclass(frozen=True)
class FieldTask:
    """One field's share of an ingest: its image, its tiles' boxes and the id of its first tile."""

    image: FitsImage
    boxes: list[TileBox]
    first_tile: int


@dataclass
class FieldResult:
    """What one field's task hands back: its rows, its scaling state, warnings, and edge tiles.

    ``edges`` are ``(first tile id, pixels)`` for the tiles in store chunks the field shares with
    a neighbouring field; the caller writes those, so that no two tasks ever write the same chunk.
    """

    name: str
    tiles: pd.DataFrame
    scaling_state: dict
    warnings: list[str]
    edges: list[tuple[int, np.ndarray]]


def ingest_field(
    task: FieldTask,
    store_path: str,
    scaler,
    config: IngestConfig,
    catalog: pd.DataFrame | None = None,
    dqf_table: dict[str, int] | None = None,
) -> FieldResult:
    """Tile, scale and describe one field: the unit of work of an ingest, in-process or on a Dask worker.

    Fits the field's scaling on a pixel sample, measures every tile (noise, DQF, source count,
    flag), writes the store chunks lying wholly inside the field to the tile store at
    ``store_path`` and returns the rest (see :class:`FieldResult`).
    """
    image, boxes = task.image, task.boxes
    notes = IngestReport()
    name = field_name(image)
    state = scaler.fit(image.sample())
    dqf = field_dqf(image, dqf_table or {}, notes)
    counts = _catalogue_counts(catalog, image, boxes, config, notes)
    source = "catalogue" if counts is not None else ("detector" if config.detect else "")
    area = beam_area_px(image)
    beam_px = np.sqrt(area / 1.1331) if area else 5.0
    margin = int(np.ceil(config.detector.margin_beams * beam_px)) if source == "detector" else 0
    centres = np.array([b.centre for b in boxes])
    ra, dec = image.pixel_to_world(centres[:, 0], centres[:, 1])
    store = open_tile_store(store_path, writable=True)
    rows: list[dict] = []
    edges: list[tuple[int, np.ndarray]] = []
    batch: list[np.ndarray] = []
    for j, box in enumerate(boxes):
        tile_id = task.first_tile + j
        padded = image.read_box(box.x0 - margin, box.y0 - margin, box.size + 2 * margin)
        raw = padded[margin : margin + box.size, margin : margin + box.size] if margin else padded
        finite = np.isfinite(raw)
        frac = float(finite.mean())
        noise = robust_rms(raw, config.noise) if frac > 0 else np.nan
        if counts is not None:
            n_src = int(counts[j])
        elif source == "detector":
            n_src = count_in_box(padded, margin, box.size, noise, area, config.detector) if frac > 0 else 0
        else:
            n_src = None
        batch.append(scaler.apply(raw, state).astype(np.float16))
        rows.append(
            tile_row(
                tile_id=tile_id,
                field=name,
                survey=config.survey,
                file=str(image.path.resolve()),
                box=(box.x0, box.y0, box.size),
                ra=float(ra[j]),
                dec=float(dec[j]),
                noise_rms=noise,
                dqf=dqf,
                n_sources=n_src,
                n_sources_from=source,
                pixels=raw,
                finite_fraction=frac,
                min_finite_fraction=config.min_finite_fraction,
                bunit=image.bunit,
            )
        )
        # flush at every chunk boundary: a whole chunk is this field's alone, a part of one is an edge
        if (tile_id + 1) % CHUNK_TILES == 0 or j == len(boxes) - 1:
            first = tile_id + 1 - len(batch)
            pixels = np.stack(batch)
            if len(batch) == CHUNK_TILES:
                store[first : tile_id + 1] = pixels
            else:
                edges.append((first, pixels))
            batch = []
    return FieldResult(name, pd.DataFrame(rows), state, notes.warnings, edges)


def ingest(
    paths: list[str | Path],
    run: RunDir,
    config: IngestConfig = IngestConfig(),
    progress: bool = True,
    client: Client | None = None,
) -> IngestReport:
    """Tile, scale and describe ``paths`` into ``run``; returns the report (also written to the run).

    Each field is one call of :func:`ingest_field`: in this process, or one Dask task per field
    when ``client`` is given (see :mod:`radioexplore.run.fanout`); the artefacts are the same.
    """
    report = IngestReport()
    images = open_images(paths, report, config.tile_px)
    if not images:
        raise nothing_ingested(report)
    scaler = make_scaler(config.scaling, **config.scaling_params)
    catalog = read_catalog(config.catalog) if config.catalog else None
    dqf_table = read_field_table(config.field_table) if config.field_table else {}

    tasks: list[FieldTask] = []
    n_total = 0
    for im in images:
        boxes = tile_grid(im.nx, im.ny, config.tile_px)
        # absolute paths: a worker may run in another directory
        tasks.append(FieldTask(replace(im, path=im.path.resolve()), boxes, n_total))
        n_total += len(boxes)
    run.root.mkdir(parents=True, exist_ok=True)
    with atomic_path(run.tile_pixels, replace_dir=True) as tmp_store:
        store = create_tile_store(tmp_store, n_total, scaler.channels, config.tile_px)
        results: list[FieldResult | None] = [None] * len(tasks)

        def collect(i: int, result: FieldResult) -> None:
            # only this process writes the chunks fields share, one at a time, as each field arrives
            for first, pixels in result.edges:
                store[first : first + len(pixels)] = pixels
            result.edges = []
            results[i] = result

        map_tasks(
            ingest_field,
            tasks,
            dict(store_path=str(tmp_store), scaler=scaler, config=config, catalog=catalog, dqf_table=dqf_table),
            client=client,
            desc="ingest fields",
            unit="tile",
            weights=[len(t.boxes) for t in tasks],
            progress=progress,
            collect=collect,
        )
    field_states = {}
    for image, result in zip(images, results, strict=True):
        report.warnings.extend(result.warnings)
        report.ingested.append(str(image.path))
        field_states[result.name] = result.scaling_state

    tiles = tiles_frame(pd.concat([r.tiles for r in results], ignore_index=True))
    write_outputs(
        run,
        tiles,
        report,
        dict(
            asdict(config),
            catalog=str(Path(config.catalog).resolve()) if config.catalog else None,
            field_table=str(Path(config.field_table).resolve()) if config.field_table else None,
            files=[str(Path(f).resolve()) for f in report.ingested],
            failed=report.failed,
            n_tiles=len(tiles),
            channels=scaler.channels,
            n_sources_from=sorted(set(tiles["n_sources_from"]) - {""}),
            field_scaling=field_states,
            **describe(client),
        ),
    )
    return report


def boxes_of(tiles: pd.DataFrame) -> list[TileBox]:
    """The pixel boxes of a tiles table's rows."""
    return [TileBox(int(x), int(y), int(s)) for x, y, s in zip(tiles["x0"], tiles["y0"], tiles["size"], strict=True)]
