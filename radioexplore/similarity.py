"""Similarity search: the tiles most like one tile, like a selection of tiles, or like an uploaded FITS cutout.

All searches are by cosine similarity of embeddings (see :mod:`radioexplore.index`): exact for
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
``"cutout"`` is the only choice for an image from elsewhere. A cutout larger than the run's tile
is cut to its central tile; a smaller one is resized by the backbone, as tiles are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from radioexplore.index import IndexConfig, build_index, configure_search, normalised, read_index, search
from radioexplore.rundir import RunDir, RunDirError

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
@dataclass
class CutoutEmbedding:
    """An uploaded cutout's embedding and how it was made (to show the user)."""

    vector: np.ndarray
    scaling: str
    scaling_from: str  # "cutout" or the name of the field whose state was used
    shape: tuple[int, int]  # pixels used (after cutting to the tile size)
    notes: list[str] = field(default_factory=list)


def embed_cutout(
    run: RunDir, name: str, path: str | Path, scaling_from: str = "cutout", device: str = "cpu"
) -> CutoutEmbedding:
    """Embed a FITS cutout as the run embedded its tiles (backbone of ``embeddings/<name>``, run's scaling).

    ``scaling_from`` is ``"cutout"``, ``"nearest"`` or a field name (see the module docstring).
    Raises FitsReadError for an unreadable file, ValueError for a cutout with no finite pixels or
    an unknown field, RunDirError when the run lacks the ingest or embed record.
    """
    from radioexplore.fitsio import read_image
    from radioexplore.scaling import make_scaler

    ingest = run.stage_config("ingest")
    embed = run.stage_config("embed", name)
    if not ingest or not embed:
        raise RunDirError(f"{run.run_toml} lacks the ingest or embed record of {name!r}; re-run those stages")
    tile_px = int(ingest.get("tile_px", 256))
    image = read_image(path)
    notes = list(image.warnings)
    if ingest.get("mode") == "stamps":  # as ingest_stamps: the whole stamp fitted to the tile, scaled on all of it
        from radioexplore.stamps import fit_stamp

        full = image.read()
        fit = ingest.get("stamp_fit", "pad")
        raw, _, zoom = fit_stamp(full, tile_px, fit)
        finite = full[np.isfinite(full)]
        x0, y0, (h, w) = 0, 0, full.shape
        if raw.shape != full.shape:
            notes.append(f"fitted the {w} x {h} px stamp to the run's {tile_px} px tiles ({fit}, zoom {zoom:.3g})")
    else:
        w, h = min(image.nx, tile_px), min(image.ny, tile_px)
        x0, y0 = (image.nx - w) // 2, (image.ny - h) // 2
        if (w, h) != (image.nx, image.ny):
            notes.append(
                f"cut the central {w} x {h} px of the {image.nx} x {image.ny} px image (the run's tiles are {tile_px} px)"
            )
        raw = image.read_box(x0, y0, w, h)
        finite = raw[np.isfinite(raw)]
    if finite.size == 0:
        raise ValueError(f"{path}: the cutout has no finite pixels to embed")
    scaler = make_scaler(ingest.get("scaling", "contrast"), **ingest.get("scaling_params", {}))
    states = ingest.get("field_scaling", {})
    if scaling_from == "cutout":
        state, source = scaler.fit(finite), "cutout"
    else:
        source = _nearest_field(run, image, x0 + w / 2, y0 + h / 2) if scaling_from == "nearest" else scaling_from
        if source not in states:
            raise ValueError(
                f"no scaling recorded for field {source!r}; fields of this run: {', '.join(sorted(states)) or 'none'}"
            )
        state = states[source]
    pixels = scaler.apply(raw, state).astype(np.float32)
    vector = _embed_pixels(embed, pixels, device)
    return CutoutEmbedding(vector, ingest.get("scaling", "contrast"), source, (h, w), notes)


def _nearest_field(run: RunDir, image, x: float, y: float) -> str:
    if image.wcs is None:
        raise ValueError(f"{image.path}: no celestial WCS, so the nearest field is unknown; use scaling_from='cutout'")
    ra, dec = image.pixel_to_world(np.array([x]), np.array([y]))
    tiles = run.read_tiles(["field", "ra", "dec"]).dropna(subset=["ra", "dec"])
    if tiles.empty:
        raise ValueError(f"the tiles of {run.root} have no sky positions; use scaling_from='cutout' or a field name")
    r1, d1, r2, d2 = map(np.deg2rad, (ra[0], dec[0], tiles["ra"].to_numpy(), tiles["dec"].to_numpy()))
    cos = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return str(tiles["field"].iloc[int(np.argmax(cos))])


def _embed_pixels(record: dict, pixels: np.ndarray, device: str) -> np.ndarray:
    """Rebuild the backbone the embed stage used (from its run.toml record) and embed one ``[C, H, W]`` tile."""
    from radioexplore import pixelstats

    if record.get("method") == pixelstats.METHOD:
        raw = pixelstats.tile_statistics(pixels)
        return pixelstats.standardise(raw, np.asarray(record["centre"]), np.asarray(record["scale"]))
    import torch

    from radioexplore.embedding import EmbedConfig, embed_tiles, load_model
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
    return embed_tiles(model, spec, pixels[None], batch_size=1, device=device, progress=False, input_px=px)[0]
