"""Ingest wide-field FITS images into a run: tile geometry, per-field scaling, per-tile metadata.

Writes ``tiles.parquet`` (one row per crop), ``tiles.zarr`` (normalised pixels) and
``ingest_report.json`` (what was read, what was not and why) into the run directory. Files that
cannot be read are reported by name with the reason and the rest ingest; tiles on blanked
borders are kept with a flag, never dropped (shared/DESIGN.md, science defaults).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from radioexplore.catalog import count_in_tiles, read_catalog
from radioexplore.fitsio import FitsImage, FitsReadError, read_image
from radioexplore.noise import robust_rms
from radioexplore.rundir import RunDir, atomic_path, write_parquet
from radioexplore.scaling import make_scaler
from radioexplore.tilestore import create_tile_store
from radioexplore.tiling import TileBox, tile_grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """How images become tiles; defaults follow Lastufka et al. 2024 (seed 000)."""

    tile_px: int = 256  # seed 000, sec. 2.1: 256 px crops
    scaling: str = "contrast"  # seed 000, sec. 2.2: per-field contrast stretch
    scaling_params: dict = field(default_factory=dict)  # e.g. {"low": 2, "high": 98}
    noise: str = "mad"  # robust per-tile rms: "mad" or "sigma_clip"
    catalog: str | None = None  # PyBDSF-style catalogue for per-tile source counts
    exclude_multi: bool = False  # drop S_Code 'M' sources, as MGCLS does
    field_table: str | None = None  # CSV with columns field, dqf (overrides header DQF)
    survey: str = ""  # survey name written into every row
    min_finite_fraction: float = 0.001  # tiles with fewer finite pixels are flagged 'blank'


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
    """Nothing could be ingested; the message lists every file and why it failed."""


def open_images(paths: list[str | Path], report: IngestReport) -> list[FitsImage]:
    """Open every path as an image; failures go into the report by name and reason."""
    images = []
    for p in paths:
        try:
            image = read_image(p)
        except FitsReadError as exc:
            report.failed[str(p)] = str(exc).split(": ", 1)[-1]
            log.error("%s", exc)
            continue
        finite = image.sample(max_pixels=250_000)
        if finite.size == 0:
            report.failed[str(p)] = "no finite pixels (the image is all NaN or blank)"
            log.error("%s: no finite pixels; skipped", p)
            continue
        report.warnings.extend(image.warnings)
        images.append(image)
    report.warnings.extend(shared_footprints(images))
    return images


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
    return image.path.stem


def _field_dqf(config: IngestConfig) -> dict[str, int]:
    if not config.field_table:
        return {}
    table = pd.read_csv(config.field_table)
    missing = {"field", "dqf"} - set(table.columns)
    if missing:
        raise ValueError(f"{config.field_table}: field table needs columns field, dqf; missing {sorted(missing)}")
    return dict(zip(table["field"].astype(str), table["dqf"].astype(int), strict=True))


def ingest(
    paths: list[str | Path], run: RunDir, config: IngestConfig = IngestConfig(), progress: bool = True
) -> IngestReport:
    """Tile, scale and describe ``paths`` into ``run``; returns the report (also written to the run)."""
    report = IngestReport()
    images = open_images(paths, report)
    if not images:
        raise IngestError("no image could be ingested:\n" + "\n".join(f"  {k}: {v}" for k, v in report.failed.items()))
    scaler = make_scaler(config.scaling, **config.scaling_params)
    catalog = read_catalog(config.catalog) if config.catalog else None
    dqf_table = _field_dqf(config)

    grids = [tile_grid(im.nx, im.ny, config.tile_px) for im in images]
    n_total = sum(len(g) for g in grids)
    run.root.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    field_states: dict[str, dict] = {}
    with atomic_path(run.tile_pixels) as tmp_store:
        store = create_tile_store(tmp_store, n_total, scaler.channels, config.tile_px)
        bar = tqdm(total=n_total, desc="ingest tiles", unit="tile", disable=not progress)
        tile_id = 0
        for image, boxes in zip(images, grids, strict=True):
            name = field_name(image)
            state = scaler.fit(image.sample())
            field_states[name] = state
            dqf = dqf_table.get(name, image.header.get("DQF"))
            counts = count_in_tiles(catalog, image, boxes, config.exclude_multi) if catalog is not None else None
            centres = np.array([b.centre for b in boxes])
            ra, dec = image.pixel_to_world(centres[:, 0], centres[:, 1])
            batch = []
            for j, box in enumerate(boxes):
                raw = image.read_box(box.x0, box.y0, box.size)
                finite = np.isfinite(raw)
                frac = float(finite.mean())
                batch.append(scaler.apply(raw, state).astype(np.float16))
                rows.append(
                    dict(
                        tile_id=tile_id + j,
                        field=name,
                        survey=config.survey,
                        file=str(image.path),
                        x0=box.x0,
                        y0=box.y0,
                        size=box.size,
                        ra=float(ra[j]),
                        dec=float(dec[j]),
                        noise_rms=robust_rms(raw[finite], config.noise) if frac > 0 else np.nan,
                        dqf=dqf,
                        n_sources=int(counts[j]) if counts is not None else None,
                        finite_fraction=frac,
                        flag=_flag(raw, finite, frac, config),
                        bunit=image.bunit,
                    )
                )
                if len(batch) == 16 or j == len(boxes) - 1:
                    store[tile_id + j + 1 - len(batch) : tile_id + j + 1] = np.stack(batch)
                    batch = []
                bar.update(1)
            tile_id += len(boxes)
            report.ingested.append(str(image.path))
        bar.close()

    tiles = tiles_frame(rows)
    write_parquet(tiles, run.tiles_table)
    report.n_tiles = len(tiles)
    with atomic_path(run.ingest_report) as tmp:
        tmp.write_text(json.dumps(asdict(report), indent=1))
    run.record(
        "ingest",
        dict(
            asdict(config),
            files=report.ingested,
            failed=report.failed,
            n_tiles=report.n_tiles,
            channels=scaler.channels,
            field_scaling=field_states,
        ),
    )
    log.info(report.summary())
    return report


def _flag(raw: np.ndarray, finite: np.ndarray, frac: float, config: IngestConfig) -> str:
    if frac < config.min_finite_fraction or np.nanstd(raw) == 0:
        return "blank"
    return "ok" if frac == 1.0 else "partial"


def tiles_frame(rows: list[dict]) -> pd.DataFrame:
    """The tiles table with the column types of the contract (nullable ints for DQF and counts)."""
    tiles = pd.DataFrame(rows)
    tiles["dqf"] = pd.array(pd.to_numeric(tiles["dqf"], errors="coerce"), dtype="Int64")
    tiles["n_sources"] = pd.array(pd.to_numeric(tiles["n_sources"], errors="coerce"), dtype="Int64")
    for col in ("field", "survey", "file", "flag", "bunit"):
        tiles[col] = tiles[col].astype(str)
    return tiles


def boxes_of(tiles: pd.DataFrame) -> list[TileBox]:
    """The pixel boxes of a tiles table's rows."""
    return [TileBox(int(x), int(y), int(s)) for x, y, s in zip(tiles["x0"], tiles["y0"], tiles["size"], strict=True)]


def attach_truth(run: RunDir, sim_dir: str | Path) -> pd.DataFrame:
    """Add the simulator's truth columns (``truth_*``) to the run's tiles table."""
    from radioexplore.simulate import tile_truth

    tiles = run.read_tiles()
    tiles = tiles.drop(columns=[c for c in tiles.columns if c.startswith("truth_")])
    tiles = pd.concat([tiles, tile_truth(sim_dir, tiles)], axis=1)
    write_parquet(tiles, run.tiles_table)
    run.record("truth", {"simulation": str(Path(sim_dir).resolve())})
    return tiles
