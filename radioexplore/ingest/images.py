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

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from radioexplore.ingest.detect import DetectConfig, count_in_box
from radioexplore.ingest.noise import mad_rms, robust_rms
from radioexplore.ingest.scaling import make_scaler
from radioexplore.io.bunit import jy_per_beam_scale
from radioexplore.io.catalog import CatalogError, count_in_tiles, read_catalog
from radioexplore.io.fits import FitsImage, read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.run.fanout import describe, map_tasks
from radioexplore.run.rundir import RunDir, atomic_path
from radioexplore.run.tilestore import CHUNK_TILES, create_tile_store, open_tile_store
from radioexplore.run.tiling import TileBox, tile_grid

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

#: A field-wide robust rms above this many Jy/beam is not a radio image's noise (the brightest
#: sources in the sky are a few hundred Jy): the image's BSCALE, BZERO or BUNIT is wrong.
MAX_NOISE_JY = 1e3

#: Columns every tiles table has, for wide-field and stamp runs alike (docs/architecture.md).
CONTRACT_COLUMNS = (
    "tile_id",
    "field",
    "survey",
    "file",
    "x0",
    "y0",
    "size",
    "ra",
    "dec",
    "noise_rms",
    "dqf",
    "n_sources",
    "finite_fraction",
    "flag",
    "bunit",
)


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


@dataclass
class IngestReport:
    """What an ingest did: files read, files refused with the reason, warnings, tile count."""

    ingested: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    n_tiles: int = 0

    def summary(self) -> str:
        lines = [f"ingested {len(self.ingested)} file(s) into {self.n_tiles} tiles"]
        lines += [f"  FAILED {name}: {why}" for name, why in self.failed.items()]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class IngestError(RuntimeError):
    """Nothing could be ingested; ``report`` (when given) names every file and why it failed."""

    def __init__(self, message: str, report: IngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


def nothing_ingested(report: IngestReport, what: str = "image") -> IngestError:
    """The one-line error for an ingest where every file failed; the report lists them."""
    return IngestError(
        f"no {what} could be ingested: all {len(report.failed)} file(s) failed (reasons listed above)", report
    )


def open_images(paths: list[str | Path], report: IngestReport, tile_px: int | None = None) -> list[FitsImage]:
    """Open every path as an image; failures go into the report by name and reason, the rest are returned.

    Besides what :func:`radioexplore.io.fits.read_image` refuses, each image is vetted by
    :func:`vet_image` (units, shape against ``tile_px``, finite and plausible pixel values).
    """
    images = []
    for p in paths:
        try:
            image = read_image(p)
            notes = vet_image(image, tile_px)
        except FitsReadError as exc:
            report.failed[str(p)] = str(exc).split(": ", 1)[-1] if str(exc).startswith(f"{Path(p)}: ") else str(exc)
            log.error("%s", exc)
            continue
        except Exception as exc:  # astropy's decompressors raise TypeError, OSError, zlib errors on damaged data
            report.failed[str(p)] = (
                f"its pixels cannot be read ({type(exc).__name__}: {exc}); re-download or re-export it"
            )
            log.error("%s: pixels cannot be read (%s)", p, exc)
            continue
        report.warnings.extend(image.warnings + notes)
        images.append(image)
    report.warnings.extend(shared_footprints(images))
    return images


def unit_problem(image: FitsImage) -> str | None:
    """Why ``image``'s BUNIT cannot be taken as Jy/beam, or None (an empty BUNIT is taken as Jy/beam)."""
    if not image.bunit or jy_per_beam_scale(image.bunit) is not None:
        return None
    if image.bunit.strip().upper() in ("K", "MK", "KELVIN"):
        return (
            f"BUNIT {image.bunit!r} is a brightness temperature; noise_rms is in Jy/beam, so convert the image "
            "to Jy/beam (with its beam and frequency) before ingesting"
        )
    return (
        f"BUNIT {image.bunit!r} is not Jy/beam, mJy/beam or uJy/beam; noise_rms is in Jy/beam, so convert the "
        "image or correct BUNIT"
    )


def vet_image(image: FitsImage, tile_px: int | None = None) -> list[str]:
    """Warnings for an image that can be ingested; raises FitsReadError (with the reason) for one that cannot.

    Refused: a unit that is not Jy/beam (or milli, micro), an image narrower than half a tile (its
    tiles would be mostly padding), no finite pixel, constant pixels, a non-finite or absurd noise.
    """
    name = image.path.name
    problem = unit_problem(image)
    if problem:
        raise FitsReadError(f"{image.path}: {problem}")
    notes = [] if image.bunit else [f"{name}: no BUNIT in the header; its pixels are taken to be in Jy/beam"]
    if tile_px is not None:
        short = min(image.nx, image.ny)
        if 2 * short < tile_px:
            raise FitsReadError(
                f"{image.path}: the image is {image.nx} x {image.ny} px, less than half a {tile_px} px tile "
                "across, so its tiles would be mostly padding; ingest it with --stamps or a smaller --tile"
            )
        if short < tile_px:
            notes.append(f"{name}: {image.nx} x {image.ny} px is narrower than a {tile_px} px tile; tiles are padded")
    finite = image.sample(max_pixels=250_000)
    if finite.size == 0:
        raise FitsReadError(f"{image.path}: no finite pixels (the image is all NaN or blank); nothing to ingest")
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        raise FitsReadError(f"{image.path}: every finite pixel is {low:g}: a constant image has no noise to measure")
    rms = mad_rms(finite)
    if rms == 0:  # more than half the pixels share one value (zero padding): measure the rest
        rms = mad_rms(finite[finite != np.median(finite)])
    if not np.isfinite(rms) or rms > MAX_NOISE_JY:
        raise FitsReadError(
            f"{image.path}: robust rms {rms:.3g} Jy/beam is absurd for a radio image (> {MAX_NOISE_JY:g}); "
            "check BSCALE, BZERO and BUNIT"
        )
    return notes


def shared_footprints(images: list[FitsImage]) -> list[str]:
    """Warnings for files that claim the same sky (identical WCS and shape) with different pixels."""
    groups: dict[tuple, list[FitsImage]] = defaultdict(list)
    for im in images:
        if im.wcs is None:
            continue
        w = im.wcs.wcs
        key = (
            im.shape,
            tuple(np.round(w.crval, 9)),
            tuple(np.round(w.crpix, 6)),
            tuple(np.round(w.cdelt, 12)),
            tuple(w.ctype),
        )
        groups[key].append(im)
    out = []
    for group in groups.values():
        if len(group) > 1:
            names = ", ".join(im.path.name for im in group)
            out.append(
                f"{len(group)} files claim the same sky footprint (identical WCS and shape): {names}; "
                "at most one of them can have a correct WCS, so their RA/Dec are suspect"
            )
    return out


def field_name(image: FitsImage) -> str:
    """A field's name: its file name without the extension (``.fits``, ``.fits.gz``, ...)."""
    name = image.path.name
    for suffix in (".gz", ".bz2", ".fz"):
        name = name.removesuffix(suffix)
    return Path(name).stem


def read_field_table(path: str | Path) -> dict[str, int]:
    """DQF per field from a CSV with columns ``field`` (or ``file``) and ``dqf``.

    Keys are field names (file stems) and file names, so a table may name fields either way.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, comment="#", skipinitialspace=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read the field table as CSV ({exc})") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    keys = [c for c in ("field", "file") if c in table.columns]
    if "dqf" not in table.columns or not keys:
        raise ValueError(
            f"{path}: a field table needs a dqf column and a field or file column; found {list(table.columns)}"
        )
    dqf = pd.to_numeric(table["dqf"], errors="coerce")
    bad = table.index[dqf.isna() | ~dqf.isin([0, 1, 2, 3])]
    if len(bad):
        raise ValueError(
            f"{path}: row {int(bad[0]) + 2}: dqf must be 0, 1, 2 or 3 (MGCLS convention); got {table['dqf'].iloc[bad[0]]!r}"
        )
    out: dict[str, int] = {}
    for key in keys:
        for name, value in zip(table[key].astype(str).str.strip(), dqf.astype(int), strict=True):
            out[name] = value
            out[Path(name).name] = value
            out[Path(name).stem] = value
    return out


def _dqf(image: FitsImage, table: dict[str, int], report: IngestReport) -> int | None:
    name = field_name(image)
    for key in (name, image.path.name):
        if key in table:
            return table[key]
    value = image.header.get("DQF")
    if table:
        report.warnings.append(f"{image.path.name}: not in the field table; DQF from its header ({value})")
    if value is None:
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        report.warnings.append(f"{image.path.name}: header DQF {value!r} is not 0-3; left empty")
        return None
    if value not in (0, 1, 2, 3):
        report.warnings.append(f"{image.path.name}: header DQF {value} is not 0-3; left empty")
        return None
    return value


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
    dqf = _dqf(image, dqf_table or {}, notes)
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
            dict(
                tile_id=tile_id,
                field=name,
                survey=config.survey,
                file=str(image.path.resolve()),
                x0=box.x0,
                y0=box.y0,
                size=box.size,
                ra=float(ra[j]),
                dec=float(dec[j]),
                noise_rms=noise,
                dqf=dqf,
                n_sources=n_src,
                n_sources_from=source,
                finite_fraction=frac,
                flag=tile_flag(raw, finite, frac, config.min_finite_fraction),
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


def write_outputs(run: RunDir, tiles: pd.DataFrame, report: IngestReport, record: dict) -> None:
    """Commit the tiles table with the tile store just swapped in, write the ingest report, record the stage.

    :meth:`RunDir.commit_tiles` stamps both with one new generation and moves the artefacts built
    from the previous tiles aside.
    """
    generation = run.commit_tiles(tiles)
    report.n_tiles = len(tiles)
    with atomic_path(run.ingest_report) as tmp:
        tmp.write_text(json.dumps(asdict(report), indent=1))
    run.record("ingest", dict(record, tiles_generation=generation))
    log.info(report.summary())


def tile_flag(raw: np.ndarray, finite: np.ndarray, frac: float, min_finite_fraction: float) -> str:
    """'blank' (almost no finite pixels, or constant), 'partial' (some blanked pixels) or 'ok'."""
    if frac < min_finite_fraction or np.nanstd(raw) == 0:
        return "blank"
    return "ok" if frac == 1.0 else "partial"


def tiles_frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """The tiles table with the column types of the contract (nullable ints for DQF and counts)."""
    tiles = pd.DataFrame(rows)
    missing = [c for c in CONTRACT_COLUMNS if c not in tiles.columns]
    if missing:
        raise ValueError(f"tiles table lacks contract columns {missing}")
    tiles["dqf"] = pd.array(pd.to_numeric(tiles["dqf"], errors="coerce"), dtype="Int64")
    tiles["n_sources"] = pd.array(pd.to_numeric(tiles["n_sources"], errors="coerce"), dtype="Int64")
    for col in ("field", "survey", "file", "flag", "bunit", "n_sources_from"):
        if col in tiles.columns:
            tiles[col] = tiles[col].astype(str)
    for col in ("noise_rms", "ra", "dec", "finite_fraction"):
        tiles[col] = tiles[col].astype(float)
    return tiles


def boxes_of(tiles: pd.DataFrame) -> list[TileBox]:
    """The pixel boxes of a tiles table's rows."""
    return [TileBox(int(x), int(y), int(s)) for x, y, s in zip(tiles["x0"], tiles["y0"], tiles["size"], strict=True)]
