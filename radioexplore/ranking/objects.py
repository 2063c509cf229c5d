"""Objects, not only tiles: the extended islands of a field image and their shape features.

A tile cuts a ring or a radio galaxy wherever the grid falls; an object does not. From each whole
field image we find islands of emission above ``island_sigma`` times the local noise (positive
only: real emission is positive) holding a peak above ``peak_sigma`` (PyBDSF's 3 and 5 sigma, as
the MGCLS catalogues of seed 000, sec. 2.3), keep the extended ones (larger than a few beam areas)
and describe each by shape features in units that do not depend on the survey (beams, ratios,
S/N; :mod:`radioexplore.ranking.object_shape`). :mod:`radioexplore.ranking.object_score` ranks them,
:mod:`radioexplore.ranking.object_stamps` cuts their stamps (``stamp_margin``: Astronomaly cuts the
island's box, seed 001's curated set 2.5 times it) and :mod:`radioexplore.ranking.object_run` places
them on a run's tiles. With ``ripple_model`` the calibration ripple rings round each bright source
(:mod:`radioexplore.ranking.ripple_model`) are subtracted before the islands are found. With
``lowsb_beams`` faint extended islands are also found on the image smoothed to a few beams
(:mod:`radioexplore.ranking.lowsb`; ``detect_beams`` says at which resolution each was found).
With ``plane_waves`` the waves a calibration error puts across the whole image (DQF 3), found as the
strongest peaks of its Fourier transform (:mod:`radioexplore.ranking.plane_waves`), are subtracted
first: from the image every island, noise map and trough is then read on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from radioexplore.ingest.noise import mesh_background
from radioexplore.ranking.bridges import BRIDGE_SNR
from radioexplore.ranking.crossing import X_ARMS, X_CROSSING, single_island_x
from radioexplore.ranking.giants import GIANT_Z
from radioexplore.ranking.lobe_cores import PEAK_COLUMNS, peak_profile
from radioexplore.ranking.local_noise import negative_noise_map, noise_envelope, noise_floor_at, noise_map
from radioexplore.ranking.lowsb import explained_fraction, smooth_to_beams, source_annulus_ratio
from radioexplore.ranking.object_shape import MORPHOLOGY_FEATURES, axis_angle, axis_ratio, morphology_features
from radioexplore.ranking.plane_waves import PlaneWaveConfig, plane_wave_model
from radioexplore.ranking.ring import ring_shell
from radioexplore.ranking.ripple_model import RippleConfig, bright_sources, ripple_model
from radioexplore.ranking.sources import SOURCE_COLUMNS

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
#: Features of the source an island belongs to that the forest sees beside its shape: the X-shaped
#: source it is a lobe or the wings of (:mod:`radioexplore.ranking.crossing`; 0 for none). Filled per
#: field by :mod:`radioexplore.ranking.object_run`; a table without them (``find_objects`` alone) counts 0.
SOURCE_FEATURES = (X_CROSSING,)
#: Everything the object forest sees, in order.
FOREST_FEATURES = (*SHAPE_FEATURES, *SOURCE_FEATURES)
#: How ring-like an island is by the physics of a limb-brightened shell (:mod:`radioexplore.ranking.ring`):
#: kept beside ``ring_coverage`` in every table (the queue's words use it), seen by the forest of the
#: ``physics`` feature set only.
RING_SHELL = "ring_shell"
#: The ``physics`` feature set (``ObjectConfig.forest_features``): ``ring_coverage`` replaced by
#: :data:`RING_SHELL`, and :data:`radioexplore.ranking.giants.GIANT_Z` (a double's extent beyond the
#: survey's sources, filled over the run by :func:`radioexplore.ranking.object_score.rank_objects`)
#: added. Measured on held-out simulated surveys, not the default (benchmarks/README.md, issue 24).
PHYSICS_FOREST_FEATURES = (
    *(RING_SHELL if f == "ring_coverage" else f for f in SHAPE_FEATURES),
    *SOURCE_FEATURES,
    GIANT_Z,
)
#: The object forest's feature sets by name (``ObjectConfig.forest_features``).
FEATURE_SETS = {"standard": FOREST_FEATURES, "physics": PHYSICS_FOREST_FEATURES}
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

#: Where the troughs of an object's artefact evidence are read with the ripple model on
#: (``ObjectConfig.ripple_evidence``): the image as it is ("image": a ripple crest the model leaves
#: keeps its troughs), the image with the model out ("cleaned"), or that plus the ripple the model
#: puts under the island ("model").
RIPPLE_EVIDENCE = ("image", "cleaned", "model")
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
    "axis_angle_deg",  # the major axis's direction, degrees from +x towards +y (pixel frame): lobe association
    *PEAK_COLUMNS,  # where the brightest pixel lies along that axis, flux either side of it (ranking/lobe_cores.py)
    ARTEFACT_HINT,
    NEGATIVE_RATIO,
    "shape_score",
    "artefact_score",
    "score",
    "rank",
    *SOURCE_COLUMNS,  # the source each object belongs to: lobes of one double joined (ranking/sources.py)
    *SOURCE_FEATURES,  # a lobe or the wings of an X-shaped source (ranking/crossing.py)
    RING_SHELL,  # a limb-brightened shell (ranking/ring.py)
    X_ARMS,  # one island that is an X by itself: four arms in two crossed axes (ranking/crossing.py)
    GIANT_Z,  # a double's extent beyond the survey's sources (ranking/giants.py)
    BRIDGE_SNR,  # emission between a double's lobes, S/N on the image smoothed to 3 beams (ranking/bridges.py)
    "detect_beams",  # the resolution the island was found at, in beam FWHM: 1 full, k on the image smoothed to k beams
)
#: Which of an island's pixels the one-island X reading (``x_arms``) is read on (``ObjectConfig.x_arms_pixels``):
#: all of them ("island", down to ``island_sigma``) or those at or above ``peak_sigma`` ("source").
X_ARMS_PIXELS = ("island", "source")
#: Where a low-surface-brightness island's S/N features and troughs are read (``ObjectConfig.lowsb_features``):
#: the full-resolution image under its mask ("full") or the smoothed image it was found on ("smoothed").
LOWSB_FEATURES = ("full", "smoothed")


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
    # the object forest's features (FEATURE_SETS): "standard", or "physics" (a limb-brightened shell
    # instead of ring_coverage, and a giant double's extent beyond the survey's sources)
    forest_features: str = "standard"
    default_beam_fwhm_px: float = 5.0  # where the header gives no beam (as radioexplore.ingest.images assumes)
    # subtract each bright source's calibration-ripple model before finding islands (ranking/ripple_model.py)
    ripple_model: bool = False
    ripple: RippleConfig = RippleConfig()
    ripple_evidence: str = "image"  # where the troughs round an island are read with the model on (RIPPLE_EVIDENCE)
    # islands above island_sigma times the local mesh rms ("mesh") or the smaller of it and the field's
    # noise envelope from below ("envelope": ripples round a bright source do not lift the threshold)
    detect_noise: str = "mesh"
    # low-surface-brightness islands (ranking/lowsb.py): also find islands at island_sigma / peak_sigma on
    # the image smoothed to each of these many beam FWHM (noise measured there, from the negative side),
    # kept where the full-resolution islands explain less than lowsb_explained of their smoothed flux.
    # () is off.
    lowsb_beams: tuple[float, ...] = ()
    lowsb_explained: float = 0.5
    # a low-resolution island's artefact evidence also counts the troughs at its distance from a bright source
    # (ranking/lowsb.py source_annulus_ratio: a spoke's negative twins lie far round the circle): "off", "radial"
    # (only sources the island points at, as a spoke does) or "any" (every bright source)
    lowsb_source_troughs: str = "any"
    # LOWSB_FEATURES: the low-resolution islands' S/N features and troughs from the smoothed or full-resolution image
    lowsb_features: str = "smoothed"
    # subtract the plane waves found in the image's Fourier transform (ranking/plane_waves.py: the ripples
    # across DQF 3 fields) before anything else; off by default (benchmarks/README.md, issue 24, plane-waves)
    plane_waves: bool = False
    plane_wave: PlaneWaveConfig = PlaneWaveConfig()
    # X_ARMS_PIXELS: the four arms of a one-island X read on the whole island ("island") or only on its pixels
    # at the source threshold ("source": an arm is a detection, not an outline that noise drew at island_sigma)
    x_arms_pixels: str = "source"

    def __post_init__(self) -> None:
        for name in ("island_sigma", "peak_sigma", "min_beams", "mesh_beams", "stamp_margin", "default_beam_fwhm_px"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ObjectConfig.{name} must be positive, not {getattr(self, name)}")
        if self.forest_features not in FEATURE_SETS:
            raise ValueError(
                f"ObjectConfig.forest_features must be one of {', '.join(FEATURE_SETS)}, not {self.forest_features!r}"
            )
        if self.score_from not in SCORE_FROM:
            raise ValueError(f"ObjectConfig.score_from must be one of {', '.join(SCORE_FROM)}, not {self.score_from!r}")
        if self.x_arms_pixels not in X_ARMS_PIXELS:
            raise ValueError(
                f"ObjectConfig.x_arms_pixels must be one of {', '.join(X_ARMS_PIXELS)}, not {self.x_arms_pixels!r}"
            )
        if self.ripple_evidence not in RIPPLE_EVIDENCE:
            raise ValueError(
                f"ObjectConfig.ripple_evidence must be one of {', '.join(RIPPLE_EVIDENCE)}, not {self.ripple_evidence!r}"
            )
        if self.detect_noise not in ("mesh", "envelope"):
            raise ValueError(f"ObjectConfig.detect_noise must be 'mesh' or 'envelope', not {self.detect_noise!r}")
        if any(not b > 1 for b in self.lowsb_beams):
            raise ValueError(f"ObjectConfig.lowsb_beams must each exceed 1 beam FWHM, not {self.lowsb_beams}")
        if self.lowsb_source_troughs not in ("off", "radial", "any"):
            raise ValueError(
                f"ObjectConfig.lowsb_source_troughs must be 'off', 'radial' or 'any', not {self.lowsb_source_troughs!r}"
            )
        if self.lowsb_features not in LOWSB_FEATURES:
            raise ValueError(
                f"ObjectConfig.lowsb_features must be one of {', '.join(LOWSB_FEATURES)}, not {self.lowsb_features!r}"
            )
        if self.peak_sigma < self.island_sigma:
            raise ValueError(f"peak_sigma ({self.peak_sigma}) must be at least island_sigma ({self.island_sigma})")


@dataclass(frozen=True)
class FieldObjects:
    """What :func:`find_objects` returns for one image: a frame of objects, the image's beam, and the
    island label image with each row's label (what :func:`radioexplore.ranking.object_run.overlapping_tiles` counts pixels in)."""

    table: pd.DataFrame
    beam_area_px: float
    labels: np.ndarray | None = None
    label_ids: np.ndarray | None = None


def beam_fwhm_px(beam_area: float) -> float:
    """Geometric-mean FWHM (pixels) of a Gaussian beam of ``beam_area`` pixels (area = 1.1331 FWHM^2)."""
    return float(np.sqrt(beam_area / 1.1331))


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
    if config.plane_waves:  # the waves across the whole image out: they would set the noise of every scale
        data = data - plane_wave_model(data, fwhm, config.plane_wave)
    box = max(16, int(round(config.mesh_beams * fwhm)))
    residual = data - mesh_background(data, box)
    image = residual  # what the artefact evidence (troughs round an island) is read from
    model = None
    if config.ripple_model:  # the ripples of bright sources out: islands, shapes and noise from what is left
        model = ripple_model(residual, fwhm, config.ripple)
        residual = residual - model
        if config.ripple_evidence != "image":
            image = residual
        if config.ripple_evidence != "model":
            model = None
    rms = noise_map(residual, box)
    if config.detect_noise == "envelope":  # islands against the field's thermal noise from below, not the local rms
        radius, env = noise_envelope(residual, max(16, int(round(config.floor_block_beams * fwhm))))
        good = np.isfinite(env)
        if good.any():
            ny, nx = data.shape
            r = np.hypot(np.arange(ny)[:, None] - (ny - 1) / 2.0, np.arange(nx)[None, :] - (nx - 1) / 2.0)
            rms = np.fmin(rms, np.interp(r, radius[good], env[good]).astype(np.float32))
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
    envelope = noise_envelope(image, max(16, int(round(config.floor_block_beams * fwhm))))
    peak_size = max(3, int(round(fwhm)) | 1)
    surround = int(np.ceil(config.surround_beams * fwhm))
    ny, nx = data.shape

    def describe(
        lab, labels, sy, sx, detect_beams, snr=snr, residual=residual, image=image, rms=rms, envelope=envelope
    ):
        """The row of island ``lab`` of ``labels``: S/N from ``snr``, flux from ``residual``, troughs round it
        from ``image`` against ``envelope`` (the full-resolution maps unless given)."""
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
        around = snr[oy0:oy1, ox0:ox1] if image is residual else image[oy0:oy1, ox0:ox1] / rms[oy0:oy1, ox0:ox1]
        valid = finite[oy0:oy1, ox0:ox1] & ~(labels[oy0:oy1, ox0:ox1] == lab)
        neg = float(np.count_nonzero(valid & (around < -config.negative_sigma)) / max(1, np.count_nonzero(valid)))
        local = float(np.median(rms[sy, sx][mask]))
        floor = noise_floor_at(envelope, cx + bx0, cy + by0, data.shape, local)
        res_around = image[oy0:oy1, ox0:ox1]
        trough = max(0.0, float(-res_around[valid & (res_around < -config.negative_sigma * floor)].sum()))
        if model is not None:  # the ripple the model explains under the island counts as its trough would
            trough += max(0.0, float(np.nansum(model[sy, sx][mask])))
        # the island's flux beyond a beam of its peak: a bright source's own core would hide the
        # crests joined to it, and the crests, not the core, are what the troughs answer
        py, px = np.unravel_index(np.argmax(np.where(mask, s, -np.inf)), mask.shape)
        outer = mask & (np.hypot(*np.ogrid[-py : mask.shape[0] - py, -px : mask.shape[1] - px]) > fwhm)
        own = float(np.nansum(r[outer]))
        angle = axis_angle(xs, ys)
        side = max(bx1 - bx0 + 1, by1 - by0 + 1)
        stamp = int(np.ceil(max(config.stamp_margin * side, config.min_stamp_beams * fwhm)))
        mx0 = (bx0 + bx1) / 2.0
        my0 = (by0 + by1) / 2.0
        return dict(
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
            axis_angle_deg=angle,
            **peak_profile(xs, ys, r[mask], px, py, angle, fwhm),
            filled_beams=filled / area,
            negative_fraction=neg,
            **morphology_features(xs, ys, s[mask], cx, cy, _centre_snr(snr, cx + bx0, cy + by0), fwhm),
            ring_shell=ring_shell(xs, ys, s[mask], cx, cy, s, fwhm),
            x_arms=_x_arms(xs, ys, s[mask], cx, cy, fwhm, config),
            negative_ratio=trough / own if own > 0 else (np.inf if trough > 0 else 0.0),
            detect_beams=detect_beams,
        )

    rows = [describe(lab, labels, *slices[lab - 1], 1.0) for lab in keep]
    label_ids = [int(lab) for lab in keep]
    if config.lowsb_beams:
        rows, labels, label_ids = _add_lowsb(rows, labels, label_ids, residual, fwhm, area, box, config, describe)
    return FieldObjects(_frame(rows), area, labels, np.asarray(label_ids, dtype=np.int64))


def _x_arms(
    xs: np.ndarray, ys: np.ndarray, snr: np.ndarray, cx: float, cy: float, fwhm: float, config: ObjectConfig
) -> float:
    """:func:`single_island_x` of the island's pixels ``(xs, ys)``, or with ``config.x_arms_pixels == "source"``
    of those whose ``snr`` reaches ``config.peak_sigma`` (the flux centroid ``(cx, cy)`` stays the island's)."""
    if config.x_arms_pixels == "source":
        keep = np.nan_to_num(snr, nan=-np.inf) >= config.peak_sigma
        xs, ys = xs[keep], ys[keep]
    return single_island_x(xs, ys, cx, cy, fwhm)


def _add_lowsb(rows, labels, label_ids, residual, fwhm, area, box, config, describe):
    """Add the low-surface-brightness islands (:mod:`radioexplore.ranking.lowsb`) to the rows and labels.

    At each scale in ``config.lowsb_beams`` the background-subtracted image is smoothed to that many beam
    FWHM and its noise measured there from the negative side; islands above ``island_sigma`` with a peak
    above ``peak_sigma``, larger than ``min_beams`` of the smoothed beam, are candidates when the
    full-resolution islands explain less than ``lowsb_explained`` of their smoothed flux. Candidates
    overlapping across scales are resolved by the matched filter: the one of the highest peak S/N wins.
    Each new island's pixels not already in a full-resolution island get a new label.
    """
    full = labels > 0
    explained_src = np.where(full, residual, 0.0)
    smoothed = config.lowsb_features == "smoothed"
    candidates = []  # (peak S/N, scale, label, its label image, slices, snr, smoothed image, rms, envelope)
    for k in sorted(config.lowsb_beams):
        low = smooth_to_beams(residual, fwhm, k)
        low_rms = negative_noise_map(low, box)
        with np.errstate(invalid="ignore", divide="ignore"):
            low_snr = np.where(np.isfinite(low) & (low_rms > 0), low / low_rms, 0.0).astype(np.float32)
        low_labels, m = ndimage.label(low_snr > config.island_sigma, structure=np.ones((3, 3), bool))
        if m == 0:
            continue
        idx = np.arange(1, m + 1)
        counts = np.bincount(low_labels.ravel(), minlength=m + 1)[1:]
        peaks = np.asarray(ndimage.maximum(low_snr, low_labels, idx))
        share = explained_fraction(low, smooth_to_beams(explained_src, fwhm, k), low_labels, m)
        ok = (
            (counts >= config.min_beams * area * k * k)
            & (peaks >= config.peak_sigma)
            & (share < config.lowsb_explained)
        )
        if not ok.any():
            continue
        slices = ndimage.find_objects(low_labels)
        env = noise_envelope(low, max(16, int(round(config.floor_block_beams * fwhm)))) if smoothed else None
        candidates += [
            (float(peaks[j]), k, j + 1, low_labels, slices[j], low_snr, low, low_rms, env) for j in np.flatnonzero(ok)
        ]
    if not candidates:
        return rows, labels, label_ids
    labels = labels.copy()
    taken = np.zeros(labels.shape, bool)
    next_id = int(labels.max()) + 1
    # the bright sources whose radial spokes a low-resolution island may be (lowsb.source_annulus_ratio)
    sources = (
        [(x, y) for x, y, _ in bright_sources(residual, fwhm, config.ripple)]
        if config.lowsb_source_troughs != "off"
        else []
    )
    for _, k, lab, low_labels, (sy, sx), low_snr, low, low_rms, env in sorted(candidates, key=lambda c: -c[0]):
        own = low_labels[sy, sx] == lab
        if taken[sy, sx][own].any():
            continue
        row = describe(lab, low_labels, sy, sx, k, *((low_snr, low, low, low_rms, env) if smoothed else ()))
        if sources:  # a spoke's twin troughs at the same distance from its source, at the scale it was found
            annulus = source_annulus_ratio(
                low, low_snr, low_labels == lab, sources, config.island_sigma, config.lowsb_source_troughs == "radial"
            )
            row[NEGATIVE_RATIO] = max(row[NEGATIVE_RATIO], annulus)
        rows.append(row)
        taken[sy, sx] |= own
        labels[sy, sx][own & ~full[sy, sx]] = next_id
        label_ids.append(next_id)
        next_id += 1
    return rows, labels, label_ids


def _frame(rows: list[dict]) -> pd.DataFrame:
    cols = [c for c in OBJECT_COLUMNS if c not in ("object_id", "field", "tile_id", "tile_ids", "ra", "dec")]
    cols = [
        c
        for c in cols
        if c
        not in (
            "shape_score",
            "artefact_score",
            "score",
            "rank",
            GIANT_Z,
            BRIDGE_SNR,
            *SOURCE_COLUMNS,
            *SOURCE_FEATURES,
        )
    ]
    return pd.DataFrame(rows, columns=cols)


def _centre_snr(snr: np.ndarray, x: float, y: float) -> float:
    """The S/N map at the pixel nearest ``(x, y)`` (0 beyond the image)."""
    ix, iy = int(round(x)), int(round(y))
    return float(snr[iy, ix]) if 0 <= iy < snr.shape[0] and 0 <= ix < snr.shape[1] else 0.0
