"""Cutout (postage-stamp) collections: one tile per file, FITS with or without WCS, or PNG / JPEG.

Labelled radio-galaxy sets such as MiraBest, FR-DEEP and Radio Galaxy Zoo ship as folders of
image files; VO services (``radioexplore fetch``) and survey cutout servers return FITS cutouts
(Jy/beam, noise, NaN borders, 64-512 px). Each file becomes one tile:

- by default (no tile size given) every stamp is resampled to one common size, the collection's
  median side (at most :data:`MAX_AUTO_TILE`, at least :data:`MIN_AUTO_TILE`): a collection of
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
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from radioexplore.ingest.detect import DetectConfig, count_in_box
from radioexplore.ingest.images import (
    IngestError,
    IngestReport,
    nothing_ingested,
    tile_flag,
    tiles_frame,
    unit_problem,
    write_outputs,
)
from radioexplore.ingest.noise import robust_rms
from radioexplore.ingest.scaling import make_scaler
from radioexplore.io.fits import read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.io.sky import sky_of_pixels
from radioexplore.run.rundir import RunDir, atomic_path
from radioexplore.run.tilestore import CHUNK_TILES, create_tile_store

log = logging.getLogger(__name__)

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
STAMP_FITS = ("pad", "resample", "crop")
#: Bounds of the common tile size chosen from a collection's median stamp side. 256 px is the
#: largest side the network sees (``radioexplore.embed.embedding.MAX_EMBED_PX``): larger tiles would be
#: shrunk to it anyway.
MAX_AUTO_TILE = 256
MIN_AUTO_TILE = 32
#: Default scalings when none is given: FITS stamps in Jy/beam, and pictures (already display-scaled).
FITS_STAMP_SCALING = "sigmaclip"
PICTURE_STAMP_SCALING = "minmax"


class StampError(ValueError):
    """A stamp file or a labels table that cannot be used; the message names the file."""


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


@dataclass
class Stamp:
    """One stamp's pixels (row 0 at the bottom, NaN where blank) and what its file says about them."""

    path: Path
    pixels: np.ndarray
    wcs: object | None
    bunit: str
    beam_area_px: float | None
    kind: str  # "fits" or "picture"


def find_stamps(folder: str | Path) -> list[Path]:
    """FITS, PNG and JPEG files under ``folder`` (recursively), in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StampError(f"{folder}: not a folder of stamps")
    suffixes = FITS_SUFFIXES + PICTURE_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))


def read_stamp(path: str | Path) -> Stamp:
    """Read one stamp; FITS through :func:`radioexplore.io.fits.read_image` (2-4 axes, BSCALE, WCS),
    pictures through Pillow (converted to grey levels, flipped so that row 0 is the bottom)."""
    path = Path(path)
    if path.name.lower().endswith(FITS_SUFFIXES):
        try:
            image = read_image(path)
            problem = unit_problem(image)
            if problem:
                raise FitsReadError(f"{path}: {problem}")
            pixels = image.read()
        except FitsReadError as exc:
            raise StampError(str(exc)) from exc
        except Exception as exc:  # astropy's decompressors raise TypeError, OSError, zlib errors on damaged data
            raise StampError(f"{path}: its pixels cannot be read ({type(exc).__name__}: {exc})") from exc
        area = image.beam.area_pixels(image.pixel_arcsec) if image.beam and image.pixel_arcsec else None
        return Stamp(path, pixels, image.wcs, image.bunit, area, "fits")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
                pixels = np.asarray(im, dtype=np.float32)
            else:
                pixels = np.asarray(im.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise StampError(f"{path}: not a readable picture ({exc})") from exc
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise StampError(f"{path}: picture of shape {pixels.shape} is not a 2-D image")
    return Stamp(path, np.ascontiguousarray(pixels[::-1]), None, "", None, "picture")


def stamp_side(path: Path) -> int | None:
    """The longer side of a stamp in pixels, read from its header alone; None if it cannot be read."""
    try:
        if path.name.lower().endswith(FITS_SUFFIXES):
            image = read_image(path)
            return max(int(image.nx), int(image.ny))
        from PIL import Image

        with Image.open(path) as im:
            return max(im.size)
    except Exception:  # an unreadable stamp is reported by the ingest loop, not here
        return None


def common_tile_px(files: list[Path]) -> int:
    """The tile side a collection is resampled to: its median stamp side within
    [:data:`MIN_AUTO_TILE`, :data:`MAX_AUTO_TILE`] (256 if no stamp can be read)."""
    sides = [s for s in (stamp_side(f) for f in files) if s]
    if not sides:
        return MAX_AUTO_TILE
    return int(min(max(round(float(np.median(sides))), MIN_AUTO_TILE), MAX_AUTO_TILE))


def fit_stamp(pixels: np.ndarray, tile_px: int, how: str = "pad") -> tuple[np.ndarray, tuple[int, int, int], float]:
    """Fit a stamp to a ``tile_px`` square; returns the tile, the source box ``(x0, y0, size)`` in
    stamp pixels (it may reach past the stamp, where the tile is blank) and the zoom factor."""
    if how not in STAMP_FITS:
        raise ValueError(f"stamp fit must be one of {', '.join(STAMP_FITS)}; got {how!r}")
    h, w = pixels.shape
    if how == "pad" or (how == "crop" and min(h, w) >= tile_px):
        side = tile_px
    elif how == "resample":
        side = max(h, w)
    else:  # crop a stamp smaller than the tile: enlarge its shorter side to the tile
        side = min(h, w)
    x0, y0 = (w - side) // 2, (h - side) // 2
    square = _box(pixels, x0, y0, side)
    if side == tile_px:
        return square, (x0, y0, side), 1.0
    return resize(square, tile_px), (x0, y0, side), tile_px / side


def _box(pixels: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``pixels[y0:y0+side, x0:x0+side]`` with NaN where the box leaves the array."""
    h, w = pixels.shape
    out = np.full((side, side), np.nan, dtype=np.float32)
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xb > xa and yb > ya:
        out[ya - y0 : yb - y0, xa - x0 : xb - x0] = pixels[ya:yb, xa:xb]
    return out


def resize(square: np.ndarray, size: int) -> np.ndarray:
    """Resize a square array to ``size`` x ``size``: antialiased bilinear (Pillow), NaN-aware."""
    from PIL import Image

    finite = np.isfinite(square)
    values = Image.fromarray(np.where(finite, square, 0.0).astype(np.float32), mode="F")
    weight = Image.fromarray(finite.astype(np.float32), mode="F")
    v = np.asarray(values.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    wt = np.asarray(weight.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = v / wt
    out[wt < 0.5] = np.nan
    return out


def read_labels_csv(path: str | Path) -> dict[str, str]:
    """``file -> label`` from a CSV with columns ``file`` and ``label``."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except Exception as exc:
        raise StampError(f"{path}: cannot read the labels table as CSV ({exc})") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    if not {"file", "label"} <= set(table.columns):
        raise StampError(f"{path}: a labels table needs columns file,label; found {', '.join(table.columns)}")
    empty = table.index[table["file"].str.strip() == ""]
    if len(empty):
        raise StampError(f"{path}: row {int(empty[0]) + 2} has no file name")
    return dict(zip(table["file"].str.strip(), table["label"].str.strip(), strict=True))


def stamp_labels(
    files: list[Path], folder: Path, labels_csv: str | None, pattern: str | None, report: IngestReport
) -> list[str | None]:
    """A label per stamp (None where there is none), from a CSV or a file-name pattern."""
    if labels_csv and pattern:
        raise StampError("give either a labels CSV or a label pattern, not both")
    rel = [f.relative_to(folder).as_posix() for f in files]
    if pattern:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise StampError(f"label pattern {pattern!r} is not a regular expression ({exc})") from exc
        if regex.groups < 1:
            raise StampError(f"label pattern {pattern!r} needs one group, e.g. '^(FRI|FRII)_' , to capture the label")
        out = []
        for r in rel:
            m = regex.search(r)
            out.append(m.group(1) if m else None)
        missing = [r for r, lab in zip(rel, out, strict=True) if lab is None]
        if missing:
            report.warnings.append(
                f"label pattern {pattern!r} matched no label in {len(missing)} file(s), e.g. {missing[0]}"
            )
        return out
    if not labels_csv:
        return [None] * len(files)
    table = read_labels_csv(labels_csv)
    out, used = [], set()
    for f, r in zip(files, rel, strict=True):
        key = next((k for k in (r, f.name, f.stem) if k in table), None)
        out.append(table[key] if key is not None else None)
        used.add(key)
    unused = [k for k in table if k not in used]
    if unused:
        report.warnings.append(f"{labels_csv}: {len(unused)} label(s) name no stamp in the folder, e.g. {unused[0]}")
    unlabelled = [r for r, lab in zip(rel, out, strict=True) if lab is None]
    if unlabelled:
        report.warnings.append(f"{len(unlabelled)} stamp(s) have no label in {labels_csv}, e.g. {unlabelled[0]}")
    return out


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
    tiles["label"] = pd.array(tiles["label"], dtype="string")
    write_outputs(
        run,
        tiles,
        report,
        dict(
            asdict(config),
            labels=str(Path(config.labels).resolve()) if config.labels else None,
            mode="stamps",
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
    finite = np.isfinite(tile)
    frac = float(finite.mean())
    noise = robust_rms(stamp.pixels, config.noise)
    n_src, source = None, ""
    if config.detect and stamp.kind == "fits" and np.isfinite(noise) and noise > 0:
        # sources in what the tile shows, read with a margin so that islands on its edge are whole
        beam_px = np.sqrt(stamp.beam_area_px / 1.1331) if stamp.beam_area_px else 5.0
        m = int(np.ceil(config.detector.margin_beams * beam_px))
        padded = _box(stamp.pixels, x0 - m, y0 - m, side + 2 * m)
        n_src, source = count_in_box(padded, m, side, noise, stamp.beam_area_px, config.detector), "detector"
    rel = stamp.path.relative_to(folder).as_posix()
    return dict(
        tile_id=tile_id,
        field=rel if stamp.path.stem in duplicated else stamp.path.stem,
        survey=config.survey,
        file=str(stamp.path.resolve()),
        x0=int(x0),
        y0=int(y0),
        size=int(side),
        ra=ra,
        dec=dec,
        noise_rms=noise,
        dqf=None,
        n_sources=n_src,
        n_sources_from=source,
        finite_fraction=frac,
        flag=tile_flag(tile, finite, frac, config.min_finite_fraction),
        bunit=stamp.bunit,
        orig_width=int(w),
        orig_height=int(h),
        zoom=float(zoom),
        label=label,
    )
