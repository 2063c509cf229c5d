"""The object table of a run: every field image's extended objects, ranked, into ``objects.parquet``.

Reads each field's image once (the tiles table names its file and its tiles' boxes), finds and
describes its objects with :mod:`radioexplore.ranking.objects`, places them on the sky through the
image's WCS and on the tiles they lie in (:func:`overlapping_tiles`), ranks them over the whole run and writes the
table atomically, recording the configuration in run.toml under ``stages.objects``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from radioexplore.ingest.images import beam_area_px
from radioexplore.io.fits import read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.ranking.bridges import BRIDGE_SNR, bridge_snr
from radioexplore.ranking.crossing import X_CROSSING, CrossConfig, crossings
from radioexplore.ranking.morphology import MORPH_COLUMNS, MorphConfig
from radioexplore.ranking.object_score import rank_objects
from radioexplore.ranking.objects import (
    ARTEFACT_HINT,
    FEATURE_SETS,
    OBJECT_COLUMNS,
    ObjectConfig,
    beam_fwhm_px,
    find_objects,
)
from radioexplore.ranking.sources import SourceConfig, associate
from radioexplore.run.atomic import write_parquet
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

# the objects' default reading: ring, X-shape and giant evidence max-ed with the forest's score
DEFAULT_MORPH = MorphConfig()


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


def field_objects(
    file: str | Path, field_tiles: pd.DataFrame, config: ObjectConfig | None = None, sources: SourceConfig | None = None
) -> pd.DataFrame:
    """The objects of one field image, with RA/Dec (flux-weighted centroid through the WCS; NaN
    without one), the tiles of ``field_tiles`` (``tile_id, x0, y0, size``) they lie in (the one
    holding the centroid and any holding ``config.min_beams`` beam areas of the object's pixels) and
    the source each belongs to (:func:`radioexplore.ranking.sources.associate`; ``source_id``,
    ``partner`` and ``core`` as row positions in the returned frame)."""
    config = config or ObjectConfig()
    image = read_image(file)
    pixels = image.read()
    objects = find_objects(pixels, beam_area_px(image), config, image.pixel_arcsec)
    found = objects.table
    fwhm = beam_fwhm_px(objects.beam_area_px)
    found = pd.concat([found, associate(found, fwhm, sources or SourceConfig())], axis=1)
    found[X_CROSSING] = crossings(found, fwhm, lobes=sources or SourceConfig())
    found[BRIDGE_SNR] = bridge_snr(found, pixels, fwhm)
    ra, dec = image.pixel_to_world(found["x"].to_numpy(), found["y"].to_numpy())
    # a tile takes an object when it holds the centroid or an extended part of it (min_beams beam areas)
    main, lists = overlapping_tiles(
        found, field_tiles, objects.labels, objects.label_ids, config.min_beams * objects.beam_area_px
    )
    found.insert(0, "dec", dec)
    found.insert(0, "ra", ra)
    found.insert(0, "tile_ids", lists)
    found.insert(0, "tile_id", main)
    return found


def objects_run(
    run: RunDir,
    config: ObjectConfig | None = None,
    progress: bool = True,
    embed: bool = False,
    checkpoint: str | None = None,
    device: str = "auto",
    sources: SourceConfig | None = None,
    tta: str = "none",
    pool: str = "cls",
    morph: MorphConfig | None = DEFAULT_MORPH,
) -> Path:
    """Find, describe and rank the objects of every field of ``run`` into ``objects.parquet``.

    With ``embed`` (implied by ``config.score_from == "shape_embedding"``) each object's stamp is
    also embedded by the run's backbone (``checkpoint``, else the run's, else the shipped demo one)
    into :meth:`RunDir.object_embeddings` and scored with it (:mod:`radioexplore.ranking.object_embed`),
    read out by ``pool`` with test-time augmentation ``tta`` (:func:`radioexplore.ranking.object_embed.embed_objects`).
    ``morph``: the ring, X-shape and giant evidence stand beside the forest, max-ed with its score
    (:mod:`radioexplore.ranking.morphology`; the default since 2026-12-03, measured on held-out surveys in
    benchmarks/README.md) and are kept as columns; None: the forest alone.
    """
    config = config or ObjectConfig()
    sources = sources or SourceConfig()
    tiles = run.read_tiles(columns=["tile_id", "field", "file", "x0", "y0", "size"])
    parts: list[pd.DataFrame] = []
    skipped: dict[str, str] = {}
    groups = list(tiles.groupby("field", sort=False))
    for name, group in tqdm(groups, desc="objects", unit="field", disable=not progress):
        file = str(group["file"].iloc[0])
        try:
            found = field_objects(file, group, config, sources)
        except FitsReadError as exc:
            skipped[str(name)] = str(exc)
            log.warning("field %s: %s; no objects from it", name, exc)
            continue
        found.insert(0, "field", str(name))
        # the field's rows follow the earlier fields': its row positions become object ids
        offset = sum(len(p) for p in parts)
        for column in ("source_id", "partner", "core"):
            found[column] = np.where(found[column] >= 0, found[column] + offset, -1)
        parts.append(found)
        log.debug("field %s: %d extended objects", name, len(found))
    if not parts:
        raise RunDirError(
            f"no field image of {run.tiles_table} could be read ({'; '.join(skipped.values()) or 'no fields'}); "
            "the objects need the FITS images the run was ingested from"
        )
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "object_id", np.arange(len(table), dtype=np.int64))
    columns = list(OBJECT_COLUMNS) + (list(MORPH_COLUMNS) if morph is not None else [])
    table = rank_objects(table, config, morph)[columns]
    if embed or config.score_from == "shape_embedding":
        from radioexplore.ranking.object_embed import add_embedding_scores

        table = add_embedding_scores(run, table, config, checkpoint=checkpoint, device=device, tta=tta, pool=pool)
    write_parquet(table, run.objects)
    run.record(
        "objects",
        dict(
            asdict(config),
            features=list(FEATURE_SETS[config.forest_features]),
            artefact_hint=ARTEFACT_HINT,
            source_association=asdict(sources),
            x_crossing=asdict(CrossConfig()),
            morphology=asdict(morph) if morph is not None else "off",
            n_objects=len(table),
            n_fields=len(parts),
            skipped_fields=skipped,
            sources="thresholds: seed 000 sec. 2.3 (PyBDSF 3/5 sigma); stamp margin: seed 001 curated set "
            "(2.5x the box), Astronomaly (the box); forest: seed 002 sec. 5.2 (200 trees); artefact score: "
            "troughs below -5 sigma of the noise floor against the island's flux (Taylor et al. 1999, ch. 15); "
            "lobes into sources: Magliocchetti et al. 1998, Proctor 2011, Williams et al. 2019, Mostert et al. 2022; "
            "X-shaped sources (lobes crossed by wings): Leahy & Williams 1984, Cheung 2007; limb-brightened "
            "shells: Norris et al. 2021; giant radio galaxies: Dabhade et al. 2020",
        ),
    )
    log.info("%d objects from %d field(s) into %s", len(table), len(parts), run.objects)
    return run.objects
