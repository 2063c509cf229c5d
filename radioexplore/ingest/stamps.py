"""Cutout (postage-stamp) collections: one tile per file, FITS with or without WCS, or PNG / JPEG.

Labelled radio-galaxy sets such as MiraBest, FR-DEEP and Radio Galaxy Zoo ship as folders of
image files; VO services (``radioexplore fetch``) and survey cutout servers return FITS cutouts
(Jy/beam, noise, NaN borders, 64-512 px). Each file becomes one tile:

- by default (no tile size given) every stamp is resampled to one common size, the collection's
  median side (:func:`radioexplore.ingest.stamp_files.common_tile_px`): a collection of
  one size keeps its native pixels, and no stamp is padded into a frame of zeros that shrinks
  the object in the network's view (issue 21: a 150 px collection padded to 256 px gave 26.0%
  FR I / FR II error, 18.3% at its own size); ``embed`` then shows the whole tile to the network
  at its training input (``radioexplore.embed.embedding.run_embedding_px``);
- ``pad`` (the default when a tile size is given): a stamp larger than the tile is centre-cropped,
  a smaller one is padded with blank (NaN, shown as 0 after scaling) pixels; the pixel scale is kept;
- ``resample``: every stamp is resized so that its longer side fills the tile (the shorter one
  padded), keeping the whole stamp;
- ``crop``: a stamp larger than the tile is centre-cropped, a smaller one is enlarged until its
  shorter side fills the tile and then centre-cropped: no padding, no shrinking.

The choice is recorded in run.toml; ``orig_width``, ``orig_height`` (pixels), ``zoom`` (tile
pixels per stamp pixel) and the source box ``x0, y0, size`` (stamp pixels) go into tiles.parquet.

Scaling is per stamp: each stamp is its own "field" (the per-field scaling of seed 000, sec. 2.2,
applied to the only field there is), fitted on its finite pixels only (NaN borders play no part
and become 0, the floor, flagged ``partial``). FITS stamps get ``sigmaclip`` by default: the
background sigma-clipped at 3 sigma, pixels below 3 sigma of it set to 0 and the rest min-max
scaled, which is how FR-DEEP and the public FIRST collections were prepared, so that raw cutouts
look like the stamps the shipped checkpoints saw (``benchmarks/stamps_scaling.py`` measures it
against min-max and asinh in noise units). Pictures (PNG, JPEG) get ``minmax``, the per-cutout
normalisation of seed 001 (Cecconello et al.): they are display-scaled already, usually with the
noise clipped away. PNG and JPEG rows are flipped so that row 0 is the bottom, as in FITS, and
the tile shows the picture the right way up in the app. Labels come from a CSV (``file,label``)
or a regular expression with one group applied to each file's path relative to the folder.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from radioexplore.ingest.detect import DetectConfig, count_in_box
from radioexplore.ingest.noise import robust_rms
from radioexplore.ingest.report import IngestError, IngestReport, nothing_ingested, write_outputs
from radioexplore.ingest.scaling import make_scaler
from radioexplore.ingest.stamp_files import Stamp, StampError, common_tile_px, find_stamps, read_stamp
from radioexplore.ingest.stamp_fit import STAMP_FITS, fit_stamp, stamp_box
from radioexplore.ingest.stamp_labels import stamp_labels
from radioexplore.io.sky import sky_of_pixels
from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import CHUNK_TILES, create_tile_store
from radioexplore.run.tiletable.rows import tile_row, tiles_frame
from radioexplore.run.tiletable.schema import STAMPS_MODE

log = logging.getLogger(__name__)

#: Default scalings when none is given: FITS stamps in Jy/beam, and pictures (already display-scaled).
FITS_STAMP_SCALING = "sigmaclip"
PICTURE_STAMP_SCALING = "minmax"


@dataclass(frozen=True)
class StampConfig:
    """How a folder of stamps becomes tiles."""

    tile_px: int | None = None  # None: the collection's median stamp side (see the module docstring)
    fit: str | None = None  # pad | resample | crop; None: resample to the common size, or pad to a given tile_px
    scaling: str | None = None  # per stamp; None: sigmaclip for FITS stamps, minmax for pictures
    scaling_params: dict = field(default_factory=dict)
    noise: str = "masked"
    labels: str | None = None  # CSV with columns file,label
    label_pattern: str | None = None  # regex with one group, searched in the relative path
    survey: str = ""
    min_finite_fraction: float = 0.001
    detect: bool = True  # count sources with our detector (FITS stamps with a measurable noise; not pictures)
    detector: DetectConfig = field(default_factory=DetectConfig)


def ingest_stamps(
    folder: str | Path, run: RunDir, config: StampConfig = StampConfig(), progress: bool = True
) -> IngestReport:
    """One tile per stamp file of ``folder`` into ``run``; returns the report (also written to the run)."""
    folder = Path(folder)
    files = find_stamps(folder)
    if not files:
        raise IngestError(f"{folder}: holds no FITS, PNG or JPEG stamps")
    if config.fit is not None and config.fit not in STAMP_FITS:
        raise ValueError(f"stamp fit must be one of {', '.join(STAMP_FITS)}; got {config.fit!r}")
    report = IngestReport()
    labels = stamp_labels(files, folder, config.labels, config.label_pattern, report)
    tile_from = "given" if config.tile_px else "median stamp side"
    tile_px = config.tile_px or common_tile_px(files)
    fit = config.fit or ("pad" if config.tile_px else "resample")
    fits_scaling = config.scaling or FITS_STAMP_SCALING
    picture_scaling = config.scaling or PICTURE_STAMP_SCALING
    scalers = {
        "fits": make_scaler(fits_scaling, **config.scaling_params),
        "picture": make_scaler(picture_scaling, **config.scaling_params),
    }
    if scalers["fits"].channels != scalers["picture"].channels:
        raise ValueError(f"scaling {fits_scaling!r} has {scalers['fits'].channels} channels; give it for pictures too")
    config = replace(config, tile_px=tile_px, fit=fit, scaling=fits_scaling)
    run.root.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    stems = pd.Series([f.stem for f in files])
    duplicated = set(stems[stems.duplicated()])
    with atomic_path(run.tile_pixels, replace_dir=True) as tmp_store:
        store = create_tile_store(tmp_store, len(files), scalers["fits"].channels, tile_px)
        batch: list[np.ndarray] = []
        for path, label in tqdm(
            list(zip(files, labels, strict=True)), desc="ingest stamps", unit="stamp", disable=not progress
        ):
            try:
                stamp = read_stamp(path)
            except StampError as exc:
                report.failed[str(path)] = str(exc).split(": ", 1)[-1]
                continue
            finite_all = stamp.pixels[np.isfinite(stamp.pixels)]
            if finite_all.size == 0:
                report.failed[str(path)] = "no finite pixels (the stamp is all NaN or blank); nothing to ingest"
                continue
            tile, (x0, y0, side), zoom = fit_stamp(stamp.pixels, tile_px, fit)
            scaler = scalers[stamp.kind]
            state = scaler.fit(finite_all)
            batch.append(scaler.apply(tile, state).astype(np.float16))
            rows.append(_stamp_row(len(rows), stamp, folder, tile, (x0, y0, side), zoom, label, config, duplicated))
            report.ingested.append(str(path))
            if len(batch) == CHUNK_TILES:  # whole chunks: no read-modify-write of the store
                store[len(rows) - len(batch) : len(rows)] = np.stack(batch)
                batch = []
        if batch:
            store[len(rows) - len(batch) : len(rows)] = np.stack(batch)
        if not rows:
            raise nothing_ingested(report, "stamp")
        if len(rows) < len(files):
            store.resize((len(rows), *store.shape[1:]))
    tiles = tiles_frame(rows)
    write_outputs(
        run,
        tiles,
        report,
        dict(
            asdict(config),
            labels=str(Path(config.labels).resolve()) if config.labels else None,
            mode=STAMPS_MODE,
            folder=str(folder.resolve()),
            stamp_fit=fit,
            tile_px_from=tile_from,
            picture_scaling=picture_scaling,
            scaling_scope="per stamp (each stamp is its own field)",
            files=len(report.ingested),
            failed=report.failed,
            n_tiles=len(tiles),
            channels=scalers["fits"].channels,
            labels_from="csv" if config.labels else ("pattern" if config.label_pattern else "none"),
            n_sources_from=sorted(set(tiles["n_sources_from"]) - {""}),
        ),
    )
    return report


def _stamp_row(
    tile_id: int,
    stamp: Stamp,
    folder: Path,
    tile: np.ndarray,
    box: tuple[int, int, int],
    zoom: float,
    label: str | None,
    config: StampConfig,
    duplicated: set[str],
) -> dict:
    x0, y0, side = box
    h, w = stamp.pixels.shape
    ra = dec = np.nan
    if stamp.wcs is not None:
        c = (x0 + (side - 1) / 2.0, y0 + (side - 1) / 2.0)
        ra, dec = (float(v[0]) for v in sky_of_pixels(stamp.wcs, np.array([c[0]]), np.array([c[1]])))
    frac = float(np.isfinite(tile).mean())
    noise = robust_rms(stamp.pixels, config.noise)
    n_src, source = None, ""
    if config.detect and stamp.kind == "fits" and np.isfinite(noise) and noise > 0:
        # sources in what the tile shows, read with a margin so that islands on its edge are whole
        beam_px = np.sqrt(stamp.beam_area_px / 1.1331) if stamp.beam_area_px else 5.0
        m = int(np.ceil(config.detector.margin_beams * beam_px))
        padded = stamp_box(stamp.pixels, x0 - m, y0 - m, side + 2 * m)
        n_src, source = count_in_box(padded, m, side, noise, stamp.beam_area_px, config.detector), "detector"
    rel = stamp.path.relative_to(folder).as_posix()
    return tile_row(
        tile_id=tile_id,
        field=rel if stamp.path.stem in duplicated else stamp.path.stem,
        survey=config.survey,
        file=str(stamp.path.resolve()),
        box=(int(x0), int(y0), int(side)),
        ra=ra,
        dec=dec,
        noise_rms=noise,
        dqf=None,
        n_sources=n_src,
        n_sources_from=source,
        pixels=tile,
        finite_fraction=frac,
        min_finite_fraction=config.min_finite_fraction,
        bunit=stamp.bunit,
        orig_width=int(w),
        orig_height=int(h),
        zoom=float(zoom),
        label=label,
    )
