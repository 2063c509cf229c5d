"""Objects, not only tiles: extended islands of each field image, their shapes, stamps and peculiarity.

A tile cuts a ring or a radio galaxy wherever the grid falls; an object does not. From each whole
field image we find islands of emission above ``island_sigma`` times the local noise (positive
only: real emission is positive) holding a peak above ``peak_sigma`` (PyBDSF's 3 and 5 sigma, as
the MGCLS catalogues of seed 000, sec. 2.3), keep the extended ones (larger than a few beam areas)
and describe each by shape features in units that do not depend on the survey (beams, ratios,
S/N). An Isolation Forest over those features (seed 002, sec. 5.2: 200 trees) scores each object,
and a tile's object peculiarity is that of its most peculiar overlapping object.

Stamps are source-centred and sized to the object: Astronomaly cuts the island's box, seed 001's
curated set 2.5 times it; ``stamp_margin`` is that factor (:func:`cut_stamps`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from radioexplore.ingest.noise import masked_rms, mesh_background
from radioexplore.ranking.artefacts import noise_envelope
from radioexplore.ranking.object_shape import MORPHOLOGY_FEATURES, axis_ratio, morphology_features

log = logging.getLogger(__name__)

#: Shape features the forest sees: survey-independent (beams, ratios, S/N).
SHAPE_FEATURES = (
    "area_beams",  # island area / beam area
    "fill_ratio",  # island area / its bounding box
    "hole_fraction",  # (filled area - area) / filled area: a ring has a hole
    "peak_snr",  # brightest pixel / local rms
    "n_peaks",  # local maxima above peak_sigma, a beam apart
    "axis_ratio",  # major / minor axis from the second moments of the island's pixels
    "filled_beams",  # area with holes filled / beam area
    *MORPHOLOGY_FEATURES,  # ring with a hole, two crossed axes, size and surface brightness (object_shape)
)
#: Features given to the forest on a log scale: they span decades (sizes, S/N, counts).
LOG_FEATURES = frozenset(
    {"area_beams", "peak_snr", "n_peaks", "axis_ratio", "filled_beams", "extent_beams", "surface_snr"}
)
#: The artefact hint, kept beside the shape features but not given to the forest: calibration
#: errors carry troughs below -5 sigma, real emission does not (issue 24, item 1).
ARTEFACT_HINT = "negative_fraction"
#: The object's own artefact evidence, not given to the forest either (the forest measures shape
#: alone): the flux below -negative_sigma times the noise floor round the island over the island's
#: own flux beyond a beam of its peak. Sky emission is positive (about 0); an error
#: pattern's troughs are as deep as its crests (about 1 or more), also where the crests join the
#: bright source that made them. :func:`radioexplore.ranking.artefacts.object_artefact_score` maps it.
NEGATIVE_RATIO = "negative_ratio"
#: An object whose own artefact score reaches this is a likely artefact (as the tile's in
#: :mod:`radioexplore.ranking.peculiar`): the forest of the default ranking does not learn from it.
LIKELY_ARTEFACT = 0.5

#: What an object's ``score`` comes from (``ObjectConfig.score_from``).
SCORE_FROM = ("shape", "shape_embedding")

#: Columns of ``objects.parquet``, in order.
OBJECT_COLUMNS = (
    "object_id",
    "field",
    "tile_id",
    "tile_ids",
    "ra",
    "dec",
    "x",
    "y",
    "box_x0",
    "box_y0",
    "box_x1",
    "box_y1",
    "stamp_x0",
    "stamp_y0",
    "stamp_size",
    "size_arcsec",
    "flux_jy",
    "noise_rms",
    *SHAPE_FEATURES,
    ARTEFACT_HINT,
    NEGATIVE_RATIO,
    "shape_score",
    "artefact_score",
    "score",
    "rank",
)


@dataclass(frozen=True)
class ObjectConfig:
    """How objects are found, described and ranked; recorded in run.toml under ``stages.objects``."""

    island_sigma: float = 3.0  # seed 000, sec. 2.3 (PyBDSF): island threshold 3 sigma
    peak_sigma: float = 5.0  # seed 000, sec. 2.3 (PyBDSF): source threshold 5 sigma; also for n_peaks
    min_beams: float = 3.0  # issue 24, item 4: extended = larger than a few beam areas
    group_beams: float = 0.5  # islands closer than this many beam FWHM are one object (a broken ring)
    mesh_beams: float = 40.0  # side of the background and noise mesh, in beam FWHM: far larger than a ring
    negative_sigma: float = 5.0  # issue 24, item 1: calibration troughs below -5 sigma
    surround_beams: float = 2.0  # the island's surroundings reach this many beam FWHM beyond its box
    floor_block_beams: float = 12.0  # blocks of the field's noise floor (troughs are measured against it)
    stamp_margin: float = 2.5  # seed 001's curated set: stamp side 2.5x the box (Astronomaly: 1x)
    min_stamp_beams: float = 8.0  # a stamp is at least this many beam FWHM wide
    n_estimators: int = 200  # seed 002, sec. 5.2: 200 trees
    contamination: str = "auto"  # scikit-learn's: the score, not a threshold, ranks
    seed: int = 0
    # "shape": the forest over the shape features; "shape_embedding": over those and the first
    # embedding_components principal components of each stamp's embedding (ranking/object_embed.py)
    score_from: str = "shape"
    embedding_components: int = 8
    default_beam_fwhm_px: float = 5.0  # where the header gives no beam (as radioexplore.ingest.images assumes)

    def __post_init__(self) -> None:
        for name in ("island_sigma", "peak_sigma", "min_beams", "mesh_beams", "stamp_margin", "default_beam_fwhm_px"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ObjectConfig.{name} must be positive, not {getattr(self, name)}")
        if self.score_from not in SCORE_FROM:
            raise ValueError(f"ObjectConfig.score_from must be one of {', '.join(SCORE_FROM)}, not {self.score_from!r}")
        if self.peak_sigma < self.island_sigma:
            raise ValueError(f"peak_sigma ({self.peak_sigma}) must be at least island_sigma ({self.island_sigma})")


@dataclass(frozen=True)
class FieldObjects:
    """What :func:`find_objects` returns for one image: a frame of objects, the image's beam, and the
    island label image with each row's label (what :func:`overlapping_tiles` counts pixels in)."""

    table: pd.DataFrame
    beam_area_px: float
    labels: np.ndarray | None = None
    label_ids: np.ndarray | None = None


def beam_fwhm_px(beam_area: float) -> float:
    """Geometric-mean FWHM (pixels) of a Gaussian beam of ``beam_area`` pixels (area = 1.1331 FWHM^2)."""
    return float(np.sqrt(beam_area / 1.1331))


def noise_map(residual: np.ndarray, box: int) -> np.ndarray:
    """Local rms per pixel: :func:`radioexplore.ingest.noise.masked_rms` on a mesh of ``box`` px blocks,
    bilinearly interpolated between block centres (constant beyond the outer ones)."""
    ny, nx = residual.shape
    my, mx = max(1, round(ny / box)), max(1, round(nx / box))
    ey = np.linspace(0, ny, my + 1).astype(int)
    ex = np.linspace(0, nx, mx + 1).astype(int)
    grid = np.full((my, mx), np.nan)
    for i in range(my):
        for j in range(mx):
            block = residual[ey[i] : ey[i + 1], ex[j] : ex[j + 1]]
            if np.isfinite(block).sum() >= 0.1 * block.size:
                grid[i, j] = masked_rms(block)
    good = np.isfinite(grid) & (grid > 0)
    if not good.any():
        return np.full(residual.shape, np.nan, dtype=np.float32)
    grid[~good] = np.median(grid[good])
    wy = _interp_weights(ny, (ey[:-1] + ey[1:] - 1) / 2.0).astype(np.float32)
    wx = _interp_weights(nx, (ex[:-1] + ex[1:] - 1) / 2.0).astype(np.float32)
    return wy @ (grid.astype(np.float32) @ wx.T)  # float32 throughout: a field of 10^8 pixels stays 0.4 GB


def _interp_weights(n: int, centres: np.ndarray) -> np.ndarray:
    """[n, len(centres)] weights of linear interpolation between ``centres`` (constant beyond them)."""
    grid = np.arange(n, dtype=np.float64)
    eye = np.eye(len(centres))
    return np.stack([np.interp(grid, centres, eye[j]) for j in range(len(centres))], axis=1)


def find_objects(
    pixels: np.ndarray,
    beam_area_px: float | None,
    config: ObjectConfig = ObjectConfig(),
    pixel_arcsec: float | None = None,
) -> FieldObjects:
    """Extended islands of one whole image (2-D, image units, NaN where blanked), with their features.

    Returns one row per object with its pixel box (``box_x0``..``box_x1`` inclusive), the
    flux-weighted centroid ``x``, ``y`` (0-based pixels), the stamp box, ``size_arcsec`` (the box's
    longer side; NaN without ``pixel_arcsec``), ``flux_jy`` (sum over the island / beam area, for an
    image in Jy/beam), the local ``noise_rms``, the :data:`SHAPE_FEATURES` and the artefact hint.
    """
    data = np.asarray(pixels, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"find_objects wants a 2-D image, got shape {data.shape}")
    area = float(beam_area_px) if beam_area_px else 1.1331 * config.default_beam_fwhm_px**2
    fwhm = beam_fwhm_px(area)
    empty = FieldObjects(_frame([]), area)
    finite = np.isfinite(data)
    if finite.sum() < 16:
        return empty
    box = max(16, int(round(config.mesh_beams * fwhm)))
    residual = data - mesh_background(data, box)
    rms = noise_map(residual, box)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = np.where(finite & (rms > 0), residual / rms, 0.0).astype(np.float32)
    above = snr > config.island_sigma
    # islands a fraction of a beam apart are one object: label a slightly grown mask, keep the true pixels
    grow = int(round(config.group_beams * fwhm / 2))
    joined = ndimage.binary_dilation(above, iterations=grow) if grow > 0 else above
    labels, n = ndimage.label(joined, structure=np.ones((3, 3), bool))
    if n == 0:
        return empty
    labels = np.where(above, labels, 0)
    min_area = config.min_beams * area
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    peaks = ndimage.maximum(snr, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero((counts[1:] >= min_area) & (np.asarray(peaks) >= config.peak_sigma)) + 1
    slices = ndimage.find_objects(labels)
    # troughs are measured against the noise from below: ripples inflate the mesh rms round a bright
    # source (a 20 sigma ripple lifts it several-fold) and would hide their own troughs in it
    envelope = noise_envelope(residual, max(16, int(round(config.floor_block_beams * fwhm))))
    peak_size = max(3, int(round(fwhm)) | 1)
    surround = int(np.ceil(config.surround_beams * fwhm))
    ny, nx = data.shape
    rows = []
    for lab in keep:
        sy, sx = slices[lab - 1]
        mask = labels[sy, sx] == lab
        s = snr[sy, sx]
        r = residual[sy, sx]
        ys, xs = np.nonzero(mask)
        w = np.clip(np.nan_to_num(r[mask]), 0, None)
        wsum = float(w.sum())
        cx = float((xs * w).sum() / wsum) if wsum > 0 else float(xs.mean())
        cy = float((ys * w).sum() / wsum) if wsum > 0 else float(ys.mean())
        a = float(mask.sum())
        filled = float(ndimage.binary_fill_holes(mask).sum())
        local_max = (s == ndimage.maximum_filter(s, size=peak_size, mode="constant", cval=-np.inf)) & mask
        n_peaks = int(np.count_nonzero(local_max & (s >= config.peak_sigma)))
        bx0, by0, bx1, by1 = sx.start, sy.start, sx.stop - 1, sy.stop - 1
        oy0, oy1 = max(0, by0 - surround), min(ny, by1 + 1 + surround)
        ox0, ox1 = max(0, bx0 - surround), min(nx, bx1 + 1 + surround)
        around = snr[oy0:oy1, ox0:ox1]
        valid = finite[oy0:oy1, ox0:ox1] & ~(labels[oy0:oy1, ox0:ox1] == lab)
        neg = float(np.count_nonzero(valid & (around < -config.negative_sigma)) / max(1, np.count_nonzero(valid)))
        local = float(np.median(rms[sy, sx][mask]))
        floor = _floor_at(envelope, cx + bx0, cy + by0, data.shape, local)
        res_around = residual[oy0:oy1, ox0:ox1]
        trough = max(0.0, float(-res_around[valid & (res_around < -config.negative_sigma * floor)].sum()))
        # the island's flux beyond a beam of its peak: a bright source's own core would hide the
        # crests joined to it, and the crests, not the core, are what the troughs answer
        py, px = np.unravel_index(np.argmax(np.where(mask, s, -np.inf)), mask.shape)
        outer = mask & (np.hypot(*np.ogrid[-py : mask.shape[0] - py, -px : mask.shape[1] - px]) > fwhm)
        own = float(np.nansum(r[outer]))
        side = max(bx1 - bx0 + 1, by1 - by0 + 1)
        stamp = int(np.ceil(max(config.stamp_margin * side, config.min_stamp_beams * fwhm)))
        mx0 = (bx0 + bx1) / 2.0
        my0 = (by0 + by1) / 2.0
        rows.append(
            dict(
                x=cx + bx0,
                y=cy + by0,
                box_x0=bx0,
                box_y0=by0,
                box_x1=bx1,
                box_y1=by1,
                stamp_x0=int(np.floor(mx0 - (stamp - 1) / 2.0)),
                stamp_y0=int(np.floor(my0 - (stamp - 1) / 2.0)),
                stamp_size=stamp,
                size_arcsec=side * pixel_arcsec if pixel_arcsec else np.nan,
                flux_jy=float(np.nansum(r[mask])) / area,
                noise_rms=local,
                area_beams=a / area,
                fill_ratio=a / mask.size,
                hole_fraction=(filled - a) / filled,
                peak_snr=float(s[mask].max()),
                n_peaks=n_peaks,
                axis_ratio=axis_ratio(xs, ys),
                filled_beams=filled / area,
                negative_fraction=neg,
                **morphology_features(xs, ys, s[mask], cx, cy, _centre_snr(snr, cx + bx0, cy + by0), fwhm),
                negative_ratio=trough / own if own > 0 else (np.inf if trough > 0 else 0.0),
            )
        )
    return FieldObjects(_frame(rows), area, labels, np.asarray(keep, dtype=np.int64))


def _floor_at(
    envelope: tuple[np.ndarray, np.ndarray], x: float, y: float, shape: tuple[int, int], local: float
) -> float:
    """The noise at ``(x, y)``: the smaller of the local mesh rms and the field's noise envelope at that
    distance from the image centre (:func:`radioexplore.ranking.artefacts.noise_envelope`)."""
    radius, env = envelope
    finite = np.isfinite(env)
    if not finite.any():
        return local
    r = np.hypot(x - (shape[1] - 1) / 2.0, y - (shape[0] - 1) / 2.0)
    at = float(np.interp(r, radius[finite], env[finite]))
    return min(local, at) if np.isfinite(local) and local > 0 else at


def _frame(rows: list[dict]) -> pd.DataFrame:
    cols = [c for c in OBJECT_COLUMNS if c not in ("object_id", "field", "tile_id", "tile_ids", "ra", "dec")]
    cols = [c for c in cols if c not in ("shape_score", "artefact_score", "score", "rank")]
    return pd.DataFrame(rows, columns=cols)


def _centre_snr(snr: np.ndarray, x: float, y: float) -> float:
    """The S/N map at the pixel nearest ``(x, y)`` (0 beyond the image)."""
    ix, iy = int(round(x)), int(round(y))
    return float(snr[iy, ix]) if 0 <= iy < snr.shape[0] and 0 <= ix < snr.shape[1] else 0.0


def overlapping_tiles(
    objects: pd.DataFrame,
    tiles: pd.DataFrame,
    labels: np.ndarray | None = None,
    label_ids: np.ndarray | None = None,
    min_pixels: float = 0.0,
) -> tuple[np.ndarray, list[list[int]]]:
    """Per object (same field): the tile holding its centroid and the tiles it lies in.

    ``tiles`` needs ``tile_id, x0, y0, size`` (one field's rows). The main tile is, among the
    overlapping ones, the one whose centre lies nearest the object's centroid. Without ``labels``
    every tile the object's box overlaps is listed; with the island ``labels`` image and each row's
    ``label_ids`` (:class:`FieldObjects`), only the main tile and those holding at least
    ``min_pixels`` of the object's own pixels: a tile that sees no more than a corner of a big
    object's box does not take its score.
    """
    tx0 = tiles["x0"].to_numpy(np.int64)
    ty0 = tiles["y0"].to_numpy(np.int64)
    ts = tiles["size"].to_numpy(np.int64)
    ids = tiles["tile_id"].to_numpy(np.int64)
    main = np.full(len(objects), -1, dtype=np.int64)
    lists: list[list[int]] = []
    for i, o in enumerate(objects.itertuples(index=False)):
        hit = (tx0 <= o.box_x1) & (tx0 + ts - 1 >= o.box_x0) & (ty0 <= o.box_y1) & (ty0 + ts - 1 >= o.box_y0)
        members = np.flatnonzero(hit)
        if len(members):
            d = np.hypot(tx0[members] + (ts[members] - 1) / 2 - o.x, ty0[members] + (ts[members] - 1) / 2 - o.y)
            main[i] = ids[members[np.argmin(d)]]
        if labels is not None and label_ids is not None and len(members) > 1:
            inside = [
                np.count_nonzero(
                    labels[
                        max(ty0[m], o.box_y0) : min(ty0[m] + ts[m] - 1, o.box_y1) + 1,
                        max(tx0[m], o.box_x0) : min(tx0[m] + ts[m] - 1, o.box_x1) + 1,
                    ]
                    == label_ids[i]
                )
                for m in members
            ]
            members = members[(np.asarray(inside) >= min_pixels) | (ids[members] == main[i])]
        lists.append([int(t) for t in ids[members]])
    return main, lists


def forest_features(objects: pd.DataFrame) -> np.ndarray:
    """The shape features as the forest sees them: log where they span decades, then robustly
    standardised (median, IQR / 1.349) over the objects of the run."""
    cols = []
    for name in SHAPE_FEATURES:
        v = objects[name].to_numpy(float)
        cols.append(np.log(np.maximum(v, 1e-6)) if name in LOG_FEATURES else v)
    x = np.column_stack(cols) if cols else np.zeros((len(objects), 0))
    centre = np.median(x, axis=0)
    q1, q3 = np.percentile(x, [25, 75], axis=0)
    scale = (q3 - q1) / 1.349
    spread = x.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(spread > 0, spread, 1.0))
    return ((x - centre) / scale).astype(np.float32)


def object_scores(
    objects: pd.DataFrame, config: ObjectConfig = ObjectConfig(), fit: np.ndarray | None = None
) -> np.ndarray:
    """Isolation Forest peculiarity of each object in [0, 1] (1 = most peculiar; min-max over the run),
    the forest fitted on the objects ``fit`` marks (all by default; all when it marks fewer than 3)."""
    from sklearn.ensemble import IsolationForest  # here: the CLI builds its parser without sklearn

    n = len(objects)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    if n < 3:
        return np.zeros(n, dtype=np.float32)
    forest = IsolationForest(
        n_estimators=config.n_estimators,
        contamination=config.contamination,
        random_state=config.seed,
        n_jobs=1,
    )
    x = forest_features(objects)
    fit = np.ones(n, dtype=bool) if fit is None or np.count_nonzero(fit) < 3 else np.asarray(fit, dtype=bool)
    forest.fit(x[fit])
    raw = -forest.score_samples(x)
    lo, hi = raw.min(), raw.max()
    return ((raw - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)


def rank_objects(objects: pd.DataFrame, config: ObjectConfig = ObjectConfig()) -> pd.DataFrame:
    """``objects`` with ``shape_score`` (the forest's peculiarity of shape among all the objects, 0..1),
    ``artefact_score`` (the object's own artefact evidence, 0..1, from its :data:`NEGATIVE_RATIO`),
    ``score`` (higher = more peculiar) and ``rank`` by it (1 = most peculiar).

    ``score`` = sky shape score x (1 - artefact score), where the sky shape score comes from a
    forest fitted on the objects that are not likely artefacts (artefact score below
    :data:`LIKELY_ARTEFACT`): what is rare among real sources, not among ripple crests, which can
    be many in a poor field. The discount acts per object: a ripple crest is sunk by the troughs
    beside it, a peculiar object in the same poor field keeps its score (a tile-wide factor sank
    both). ``shape_score`` knows nothing of artefacts (the ranking without the artefact axis uses it).
    """
    from radioexplore.ranking.artefacts import object_artefact_score

    out = objects.copy()
    artefact = object_artefact_score(out[NEGATIVE_RATIO].to_numpy(dtype=float)).astype(np.float32)
    shape = object_scores(out, config)
    sky = object_scores(out, config, fit=artefact < LIKELY_ARTEFACT) if (artefact >= LIKELY_ARTEFACT).any() else shape
    scores = (sky * (1.0 - artefact)).astype(np.float32)
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    out["shape_score"] = shape
    out["artefact_score"] = artefact
    out["score"] = scores
    out["rank"] = ranks
    return out


def tile_object_scores(objects: pd.DataFrame, tile_ids: np.ndarray) -> np.ndarray:
    """Each tile's object peculiarity: the score of its most peculiar overlapping object, 0 when none."""
    tile_ids = np.asarray(tile_ids, dtype=np.int64)
    best: dict[int, float] = {}
    for ids, score in zip(objects["tile_ids"], objects["score"], strict=True):
        for t in ids:
            best[int(t)] = max(best.get(int(t), 0.0), float(score))
    return np.array([best.get(int(t), 0.0) for t in tile_ids], dtype=np.float32)


def cut_stamps(image: np.ndarray, objects: pd.DataFrame, size_px: int = 128) -> np.ndarray:
    """Source-centred stamps ``[N, size_px, size_px]`` (float32, image units) resampled from each
    object's stamp box (``stamp_x0``, ``stamp_y0``, ``stamp_size``); pixels beyond the image are NaN.

    ``image`` is a 2-D array or anything with ``read_box(x0, y0, width)`` (a
    :class:`radioexplore.io.fits.FitsImage`), so a stamp reads only its own box.
    """
    out = np.full((len(objects), size_px, size_px), np.nan, dtype=np.float32)
    for i, (x0, y0, side) in enumerate(
        zip(objects["stamp_x0"], objects["stamp_y0"], objects["stamp_size"], strict=True)
    ):
        box = _read_box(image, int(x0), int(y0), int(side))
        finite = np.isfinite(box)
        zoom = size_px / box.shape[0]
        values = ndimage.zoom(np.where(finite, box, 0.0), zoom, order=1, grid_mode=True, mode="nearest")
        cover = ndimage.zoom(finite.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")
        values = values[:size_px, :size_px]
        cover = cover[:size_px, :size_px]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i, : values.shape[0], : values.shape[1]] = np.where(cover > 0.5, values / cover, np.nan)
    return out


def _read_box(image, x0: int, y0: int, side: int) -> np.ndarray:
    if hasattr(image, "read_box"):
        return image.read_box(x0, y0, side)
    image = np.asarray(image, dtype=np.float32)
    out = np.full((side, side), np.nan, dtype=np.float32)
    ny, nx = image.shape
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, nx), min(y0 + side, ny)
    if xb > xa and yb > ya:
        out[ya - y0 : yb - y0, xa - x0 : xb - x0] = image[ya:yb, xa:xb]
    return out
