"""Similarity search: the tiles most like one tile, like a selection of tiles, or like an uploaded FITS cutout.

All searches are by cosine similarity of embeddings (see :mod:`radioexplore.space.index`): exact for
small runs, through the run's approximate FAISS index (IVF or HNSW) above its size threshold.

*A selection* is searched in one of two ways (``mode``):

- ``"mean"`` (default): one query, the mean of the selected tiles' L2-normalised embeddings,
  i.e. their direction on the unit sphere; finds tiles like the selection as a whole and
  suits a selection of one kind of object;
- ``"union"``: one query per selected tile; each hit keeps its smallest distance to any of
  them and names that tile in ``query``; suits a selection of several kinds.

*An uploaded cutout* is embedded on the fly with the run's own backbone (recorded in run.toml
``stages.embed.<name>``) after the run's scaling (``stages.ingest``: ``scaling``,
``scaling_params``); the scaling is fitted on the cutout's own pixels by default
(``scaling_from="cutout"``), or taken from the state of the field whose tiles lie nearest to the
cutout on the sky (``"nearest"``, needs a celestial WCS), or from a named field. Per-field
scaling (seed 000, sec. 2.2) uses the whole field; a cutout is a small part of one, so
``"nearest"`` reproduces the run's tiles best when the cutout comes from a surveyed field, and
``"cutout"`` is the only choice for an image from elsewhere. The cutout is resampled to the run's
arcsec/px and cut, or padded with noise like its own, to the run's tile size; one of another extent
than a tile is also placed a quarter tile off centre each way (9 queries; ``from_vectors`` keeps
each tile's best distance), since a survey's tile grid puts a source anywhere in a tile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.schema import is_stamps_run
from radioexplore.space.index import IndexConfig, build_index, configure_search, normalised, read_index, search

log = logging.getLogger(__name__)


class SimilaritySearch:
    """Nearest-neighbour queries over one embedding set; build once (``from_run``) and query often.

    Parameters
    ----------
    emb
        ``[N, D]`` embeddings (a memory map is fine), row i is tile i.
    index
        A FAISS index over the normalised rows of ``emb`` (e.g. the run's ``index/<name>.faiss``);
        None builds one in memory with ``config`` (exact below ``config.exact_below`` tiles).
    """

    def __init__(self, emb: np.ndarray, index: faiss.Index | None = None, config: IndexConfig | None = None) -> None:
        config = config or IndexConfig()
        self.emb = emb
        if index is not None and index.ntotal != len(emb):
            log.warning("index holds %d vectors for %d embeddings: rebuilding it in memory", index.ntotal, len(emb))
            index = None
        self.index = index if index is not None else build_index(np.asarray(emb), config)
        configure_search(self.index, config)

    @classmethod
    def from_run(cls, run: RunDir, name: str, config: IndexConfig | None = None) -> SimilaritySearch:
        """The search over ``embeddings/<name>``, through ``index/<name>.faiss`` when it exists."""
        config = config or IndexConfig()
        run.check_consistent(name, stages=("ingest", "embed", "index"))
        emb = run.read_embeddings(name)
        path = run.index(name)
        return cls(emb, read_index(path, config) if path.is_file() else None, config)

    def __len__(self) -> int:
        return len(self.emb)

    def _check(self, ids: np.ndarray) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise IndexError(f"tiles {bad[:5].tolist()} do not exist: this embedding set has tiles 0..{len(self) - 1}")
        if ids.size == 0:
            raise ValueError("the selection is empty: select at least one tile")
        return ids

    def from_vector(self, vector: np.ndarray, k: int = 10, exclude: Any = ()) -> pd.DataFrame:
        """The ``k`` tiles nearest to an embedding vector: ``tile_id``, ``distance`` (cosine), nearest first."""
        skip = set(int(i) for i in np.atleast_1d(np.asarray(list(exclude), dtype=np.int64)))
        want = min(k + len(skip), len(self))
        dist, ids = search(self.index, np.asarray(vector, dtype=np.float32), want)
        hits = [(int(i), float(d)) for i, d in zip(ids[0], dist[0], strict=True) if i >= 0 and int(i) not in skip]
        return pd.DataFrame(hits[:k], columns=["tile_id", "distance"])

    def from_vectors(self, vectors: np.ndarray, k: int = 10) -> pd.DataFrame:
        """The ``k`` tiles nearest to any of several query vectors (each tile keeps its smallest distance),
        e.g. an uploaded cutout's placements (:meth:`CutoutEmbedding.queries`)."""
        x = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if len(x) == 1:
            return self.from_vector(x[0], k)
        want = min(k, len(self))
        dist, hit = search(self.index, x, want)
        df = pd.DataFrame({"tile_id": hit.ravel(), "distance": dist.ravel()})
        df = df[df["tile_id"] >= 0].sort_values(["distance", "tile_id"]).drop_duplicates("tile_id").head(k)
        return df.reset_index(drop=True).astype({"tile_id": np.int64, "distance": float})

    def from_tile(self, tile_id: int, k: int = 10) -> pd.DataFrame:
        """The ``k`` tiles most like ``tile_id``, itself excluded."""
        (tile,) = self._check([tile_id])
        return self.from_vector(np.asarray(self.emb[tile]), k, exclude=[tile])

    def from_tiles(self, tile_ids: Any, k: int = 10, mode: str = "mean") -> pd.DataFrame:
        """The ``k`` tiles most like a selection (selected tiles excluded); see the module docstring for ``mode``.

        ``mode="union"`` adds a ``query`` column: the selected tile each hit is nearest to.
        """
        ids = self._check(tile_ids)
        x = normalised(np.asarray(self.emb[np.sort(ids)]))
        if mode == "mean":
            return self.from_vector(x.mean(0), k, exclude=ids)
        if mode != "union":
            raise ValueError(f"mode must be 'mean' or 'union', not {mode!r}")
        want = min(k + len(ids), len(self))
        dist, hit = search(self.index, x, want)
        query = np.repeat(np.sort(ids), want)
        df = pd.DataFrame({"tile_id": hit.ravel(), "distance": dist.ravel(), "query": query})
        df = df[(df["tile_id"] >= 0) & ~df["tile_id"].isin(ids)]
        df = df.sort_values(["distance", "tile_id"]).drop_duplicates("tile_id").head(k)
        return df.reset_index(drop=True).astype({"tile_id": np.int64, "distance": float, "query": np.int64})


# -- embedding an uploaded cutout -------------------------------------------------------------
#: Pixel scales within this fraction of the run's are taken as equal (no resampling).
SCALE_TOLERANCE = 0.01

#: A cutout of another size than a tile is also placed this fraction of a tile off centre (each way in
#: x and y): a survey's tile grid puts a source anywhere in a tile, the upload has it centred.
PLACEMENT_SHIFT = 0.25

#: The ``scaling_from`` choices besides a field's name.
SCALING_FROM = ("auto", "cutout", "nearest")


@dataclass
class CutoutEmbedding:
    """An uploaded cutout's embedding and how it was made (to show the user)."""

    vector: np.ndarray
    scaling: str
    scaling_from: str  # "cutout" (its own noise) or the name of the field whose recorded scaling was used
    shape: tuple[int, int]  # pixels embedded (the run's tile size)
    notes: list[str] = field(default_factory=list)
    how: str = ""  # one line for the user: which scaling and why
    #: ``[P, D]``: one embedding per placement of the cutout in a tile (row 0 is ``vector``, centred)
    vectors: np.ndarray | None = None

    def queries(self) -> np.ndarray:
        """All placements' embeddings ``[P, D]`` (just ``vector`` when there is one)."""
        return np.atleast_2d(self.vector if self.vectors is None else self.vectors)

    def describe(self) -> str:
        """``how`` followed by the notes, on one line."""
        return "; ".join([self.how, *self.notes]) if self.how else "; ".join(self.notes)


def embed_cutout(
    run: RunDir, name: str, path: str | Path, scaling_from: str = "auto", device: str = "cpu"
) -> CutoutEmbedding:
    """Embed a FITS cutout as the run embedded its tiles: same pixel scale, size, scaling and backbone.

    The cutout is resampled to the run's arcsec per pixel (from its WCS), centre-cropped or padded
    with noise like its own to the run's tile size, scaled, and embedded with the backbone of
    ``embeddings/<name>``. ``scaling_from``: ``"auto"`` (the recorded scaling of the field the
    cutout's centre lies in, else ``"cutout"``), ``"cutout"`` (the run's scaling in units of the
    cutout's own robust noise), ``"nearest"`` (the field with the nearest tile) or a field name.
    Raises FitsReadError for an unreadable file, ValueError for a cutout with no finite pixels or
    an unknown field, RunDirError when the run lacks the ingest or embed record.
    """
    from radioexplore.ingest.noise import robust_rms
    from radioexplore.ingest.scaling import make_scaler
    from radioexplore.io.fits import read_image

    ingest = run.stage_config("ingest")
    embed = run.stage_config("embed", name)
    if not ingest or not embed:
        raise RunDirError(f"{run.run_toml} lacks the ingest or embed record of {name!r}; re-run those stages")
    tile_px = int(ingest.get("tile_px", 256))
    states = ingest.get("field_scaling", {})
    image = read_image(path)
    notes = list(image.warnings)
    if is_stamps_run(run):  # a stamps run: fitted and scaled on its own, as ingest_stamps does
        return _embed_stamp(image, ingest, embed, tile_px, notes, device)
    tiles = run.read_tiles(["field", "x0", "y0", "size", "ra", "dec", "noise_rms", "file"])
    scales = _field_pixel_arcsec(tiles)
    where = _field_of_cutout(tiles, scales, image) if image.wcs is not None else None
    if scaling_from == "auto":
        source = where or "cutout"
    elif scaling_from == "nearest":
        source = _nearest_field(tiles, image)
    else:
        source = scaling_from
    if source != "cutout" and source not in states:
        raise ValueError(
            f"no scaling recorded for field {source!r}; fields of this run: {', '.join(sorted(states)) or 'none'}"
        )
    known = scales.dropna()
    run_arcsec = scales.get(source) if source in scales.index else None
    if run_arcsec is None or not np.isfinite(run_arcsec):
        run_arcsec = float(known.median()) if len(known) else None

    # read only the central part the tile will show (a large upload is not read whole)
    ratio = image.pixel_arcsec / run_arcsec if image.pixel_arcsec and run_arcsec else 1.0
    if abs(ratio - 1.0) <= SCALE_TOLERANCE:
        ratio = 1.0
    if image.wcs is None:
        notes.append("no celestial WCS: its pixels are taken to be the size of the run's")
    shift = int(round(PLACEMENT_SHIFT * tile_px))
    reach = tile_px + 2 * shift  # the window's centre moves by up to ``shift`` each way
    need = reach if ratio == 1.0 else int(np.ceil(reach / ratio)) + 4
    w, h = min(image.nx, need), min(image.ny, need)
    raw = image.read_box((image.nx - w) // 2, (image.ny - h) // 2, w, h)
    finite = raw[np.isfinite(raw)]
    if finite.size == 0:
        raise ValueError(f"{path}: the cutout has no finite pixels to embed")
    rms = robust_rms(raw, str(ingest.get("noise", "masked"))) if finite.size > 1 else 0.0
    if not np.isfinite(rms) or rms <= 0:
        rms = float(np.std(finite)) or 1.0
    if ratio != 1.0:
        raw = _resample(raw, ratio)
        notes.append(
            f"resampled from {image.pixel_arcsec:.3g} to the run's {run_arcsec:.3g} arcsec/px "
            f"({image.nx} x {image.ny} px are {round(image.nx * ratio)} x {round(image.ny * ratio)} px of the run's)"
        )
    beam_px = image.beam.bmaj_arcsec / run_arcsec if image.beam is not None and run_arcsec else None
    if round(image.nx * ratio) > tile_px or round(image.ny * ratio) > tile_px:
        notes.append(
            f"used the central {tile_px} x {tile_px} px (the run's tile size) of its {image.nx} x {image.ny} px"
        )
    exact = round(image.nx * ratio) == round(image.ny * ratio) == tile_px  # a tile's extent: taken as a tile
    steps = (0,) if exact or shift == 0 else (0, -shift, shift)
    offsets = [(dy, dx) for dy in steps for dx in steps]  # (0, 0) first: ``vector`` is the centred placement
    placed = [_to_tile(raw, tile_px, rms, beam_px, offset) for offset in offsets]
    if placed[0][1]:
        notes.append(placed[0][1])
    if len(offsets) > 1:
        notes.append(f"also placed {shift} px off centre each way ({len(offsets)} queries, each tile's best kept)")

    scaling = str(ingest.get("scaling", "contrast"))
    scaler = make_scaler(scaling, **ingest.get("scaling_params", {}))
    if source == "cutout":
        state = _noise_state(states, tiles, rms)
        if state is None:
            state = scaler.fit(finite)
            how = "scaled on its own pixels (the run records no field scaling and noise to match)"
        else:
            how = f"scaled in units of its own noise (rms {rms:.3g} Jy/beam) as the run's fields are"
            if where is None:
                how += "; it lies in no field of this run" if image.wcs is not None else "; it has no sky position"
    else:
        state = states[source]
        how = f"scaled with field {source}'s recorded scaling" + (" (the cutout lies in it)" if source == where else "")
    pixels = np.stack([scaler.apply(tile, state) for tile, _ in placed]).astype(np.float32)
    vectors = _embed_pixels(embed, pixels, device)
    return CutoutEmbedding(vectors[0], scaling, source, (tile_px, tile_px), notes, how, vectors)


def _embed_stamp(image, ingest: dict, embed: dict, tile_px: int, notes: list[str], device: str) -> CutoutEmbedding:
    """A cutout searched against a stamps run: the whole stamp fitted to the tile and scaled on all of
    its own pixels, as :func:`radioexplore.ingest.stamps.ingest_stamps` treats every stamp."""
    from radioexplore.ingest.scaling import make_scaler
    from radioexplore.ingest.stamp_fit import fit_stamp

    full = image.read()
    finite = full[np.isfinite(full)]
    if finite.size == 0:
        raise ValueError(f"{image.path}: the cutout has no finite pixels to embed")
    fit = ingest.get("stamp_fit", "pad")
    raw, _, zoom = fit_stamp(full, tile_px, fit)
    h, w = full.shape
    if raw.shape != full.shape:
        notes.append(f"fitted the {w} x {h} px stamp to the run's {tile_px} px tiles ({fit}, zoom {zoom:.3g})")
    scaling = str(ingest.get("scaling", "contrast"))
    scaler = make_scaler(scaling, **ingest.get("scaling_params", {}))
    pixels = scaler.apply(raw, scaler.fit(finite)).astype(np.float32)
    how = "fitted and scaled on its own pixels, as the run's stamps were"
    return CutoutEmbedding(_embed_pixels(embed, pixels[None], device)[0], scaling, "cutout", (h, w), notes, how)


def _field_pixel_arcsec(tiles: pd.DataFrame) -> pd.Series:
    """Arcsec per pixel of each field, from its tiles' sky and pixel positions (no image is read).

    For each field: the angle between its first tile's centre and the tile farthest from it in
    pixels, over their pixel distance; NaN for a field of one tile (read from its file instead).
    """
    tiles = tiles.dropna(subset=["ra", "dec"])
    out = {}
    for name, group in tiles.groupby("field", sort=False):
        x, y = group["x0"].to_numpy(float), group["y0"].to_numpy(float)
        far = int(np.argmax(np.abs(x - x[0]) + np.abs(y - y[0])))
        pixels = np.hypot(x[far] - x[0], y[far] - y[0])
        if pixels > 0:
            angle = _angle_deg(group["ra"].iloc[0], group["dec"].iloc[0], group["ra"].iloc[far], group["dec"].iloc[far])
            out[name] = float(angle) * 3600.0 / pixels
        else:
            out[name] = _file_pixel_arcsec(str(group["file"].iloc[0]))
    return pd.Series(out, dtype=float)


def _file_pixel_arcsec(path: str) -> float:
    from radioexplore.io.fits import read_image

    try:
        return float(read_image(path).pixel_arcsec or np.nan)
    except Exception:  # a moved or unreadable field image: its scale is simply unknown
        return np.nan


def _angle_deg(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle angle in degrees between positions in degrees (haversine, exact at small angles)."""
    r1, d1, r2, d2 = (np.deg2rad(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    a = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.rad2deg(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def _centre_sky(image) -> tuple[float, float]:
    ra, dec = image.pixel_to_world(np.array([(image.nx - 1) / 2]), np.array([(image.ny - 1) / 2]))
    return float(ra[0]), float(dec[0])


def _nearest_tile(tiles: pd.DataFrame, image) -> tuple[pd.Series, float]:
    """The tile whose centre is nearest to the cutout's centre, and that distance in degrees."""
    if image.wcs is None:
        raise ValueError(f"{image.path}: no celestial WCS, so the nearest field is unknown; use scaling_from='cutout'")
    sky = tiles.dropna(subset=["ra", "dec"])
    if sky.empty:
        raise ValueError("the run's tiles have no sky positions; use scaling_from='cutout' or a field name")
    ra, dec = _centre_sky(image)
    angle = _angle_deg(ra, dec, sky["ra"].to_numpy(), sky["dec"].to_numpy())
    i = int(np.argmin(angle))
    return sky.iloc[i], float(angle[i])


def _nearest_field(tiles: pd.DataFrame, image) -> str:
    return str(_nearest_tile(tiles, image)[0]["field"])


def _field_of_cutout(tiles: pd.DataFrame, scales: pd.Series, image) -> str | None:
    """The field whose tiles cover the cutout's centre on the sky, or None (off the run's fields)."""
    try:
        tile, angle = _nearest_tile(tiles, image)
    except ValueError:
        return None
    arcsec = scales.get(tile["field"], np.nan)
    if not np.isfinite(arcsec):
        arcsec = image.pixel_arcsec or np.nan
    reach = float(tile["size"]) / np.sqrt(2.0) * arcsec / 3600.0  # a tile's half diagonal, in degrees
    return str(tile["field"]) if np.isfinite(reach) and angle <= 1.01 * reach else None


def _resample(raw: np.ndarray, ratio: float) -> np.ndarray:
    """``raw`` resampled by ``ratio`` (output pixels per input pixel); Jy/beam is kept (it is per beam,
    not per pixel); pixels more than half blanked stay NaN."""
    from scipy.ndimage import zoom

    finite = np.isfinite(raw)
    out = zoom(np.where(finite, raw, 0.0), ratio, order=1, mode="nearest", grid_mode=True)
    cover = zoom(finite.astype(np.float32), ratio, order=1, mode="nearest", grid_mode=True)
    out = np.where(cover >= 0.5, out / np.maximum(cover, 1e-6), np.nan)
    return out.astype(np.float32)


def _to_tile(
    raw: np.ndarray, tile_px: int, rms: float, beam_px: float | None, offset: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, str]:
    """The ``tile_px`` square window of ``raw`` centred ``offset`` = (dy, dx) px from its centre; what
    falls outside ``raw`` is noise of ``rms`` Jy/beam, smoothed to the beam when it is known, so the
    margin looks like the sky around a tile's sources. Also a note when padding was needed."""
    h, w = raw.shape
    y0, x0 = (h - tile_px) // 2 + offset[0], (w - tile_px) // 2 + offset[1]  # the window's corner in raw
    if (y0, x0) == (0, 0) and (h, w) == (tile_px, tile_px):
        return raw, ""
    ry0, rx0 = max(y0, 0), max(x0, 0)
    ry1, rx1 = min(y0 + tile_px, h), min(x0 + tile_px, w)
    out = _noise_floor(tile_px, rms, beam_px)
    if ry1 > ry0 and rx1 > rx0:
        out[ry0 - y0 : ry1 - y0, rx0 - x0 : rx1 - x0] = raw[ry0:ry1, rx0:rx1]
    if (ry1 - ry0, rx1 - rx0) == (tile_px, tile_px):
        return out, ""
    return (
        out,
        f"padded its {min(w, tile_px)} x {min(h, tile_px)} px with noise of its rms to the run's {tile_px} px tile",
    )


def _noise_floor(size: int, rms: float, beam_px: float | None) -> np.ndarray:
    """A ``size`` square of Gaussian noise of ``rms``, correlated over the beam when ``beam_px`` (FWHM) is given.

    Seeded: the same upload always gives the same hits.
    """
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(0).standard_normal((size, size))
    if beam_px and beam_px > 1:
        noise = gaussian_filter(noise, beam_px / 2.3548, mode="wrap")
    std = noise.std()
    return (noise / (std if std > 0 else 1.0) * rms).astype(np.float32)


def _noise_state(states: dict, tiles: pd.DataFrame, rms: float) -> dict | None:
    """The run's scaling state for a cutout of noise ``rms``: each field's recorded state in units of
    that field's median tile noise, the median over fields, times ``rms``; None if none can be made.

    Radio images have a zero-mean background, so a state in Jy/beam scales with the noise; a
    dimensionless entry (sign-log's ``top``) is taken as the fields' median as it is.
    """
    noise = tiles.dropna(subset=["noise_rms"]).groupby("field")["noise_rms"].median()
    rows = []
    for name, state in states.items():
        sigma = noise.get(name, np.nan)
        if np.isfinite(sigma) and sigma > 0:
            rows.append({k: (float(v) if k in DIMENSIONLESS else float(v) / sigma) for k, v in state.items()})
    if not rows:
        return None
    typical = pd.DataFrame(rows).median()
    return {k: float(v) if k in DIMENSIONLESS else float(v) * rms for k, v in typical.items()}


#: Entries of a scaler's state that are not in Jy/beam (see :mod:`radioexplore.ingest.scaling`).
DIMENSIONLESS = frozenset({"top"})


def _embed_pixels(record: dict, pixels: np.ndarray, device: str) -> np.ndarray:
    """Rebuild the backbone the embed stage used (from its run.toml record) and embed ``[P, C, H, W]``
    tiles, ``[P, D]``."""
    from radioexplore.embed import pixelstats

    if record.get("method") == pixelstats.METHOD:
        centre, scale = np.asarray(record["centre"]), np.asarray(record["scale"])
        return np.stack([pixelstats.standardise(pixelstats.tile_statistics(p), centre, scale) for p in pixels])
    import torch

    from radioexplore.embed.embedding import EmbedConfig, embed_tiles, load_model
    from radioexplore.models import BackboneSpec, build_backbone

    spec = BackboneSpec(**record["spec"])
    source = str(record.get("checkpoint_used", "random init"))
    if record.get("random_init") or source == "random init":
        config = EmbedConfig(random_init=True, arch=spec.arch, seed=int(record.get("seed", 0)))
        model, loaded, _ = load_model(config)
        if loaded != spec:  # the fallback spec differs from the recorded one: rebuild the recorded net
            torch.manual_seed(config.seed)
            model = build_backbone(spec).eval()
    else:
        model, loaded, _ = load_model(EmbedConfig(checkpoint=source))
        if loaded != spec:
            raise RunDirError(f"checkpoint {source} now holds {loaded}, but the run was embedded with {spec}")
    # runs embedded before embed_px was recorded were embedded at the backbone's training input
    px = int(record.get("embed_px") or spec.input_px)
    return embed_tiles(model, spec, pixels, batch_size=len(pixels), device=device, progress=False, input_px=px)
