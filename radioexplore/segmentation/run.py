"""``radioexplore segment``: the run directory's ``segments/`` (probability maps, per-tile columns, cluster R).

Per field ``segments/<field>.fits``: float32 probability of diffuse emission (0-1; 0 where the image
is blank) on the field's own pixel grid with its celestial WCS. ``segments/tiles.parquet``: per tile
``tile_id``, ``diffuse_mean`` (mean probability over the tile's imaged pixels) and ``diffuse_area``
(fraction of them above the threshold), to colour the map by and for rankers (join on ``tile_id``).
``segments/clusters.parquet`` with a cluster table: name, ra, dec, r_pix, R, detected, threshold
(and field, x, y, n_pix, and the table's own ``truth`` / ``diffuse`` column when it has one;
removed by a run without a table); R over the aperture plus the kept regions touching it, out to
``region_reach`` apertures (:func:`radioexplore.segmentation.clusters.region_ratio`). ``segments/segment.json``: the model, thresholds and
``built_from``.
Fields are segmented block by block (:mod:`radioexplore.segmentation.tiling`), as Dask tasks when a
client is given (the same fan-out as embedding), holding one field's float32 map in memory.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from astropy.io import fits

from radioexplore.assets import diffuse_checkpoint
from radioexplore.io.fits import read_image
from radioexplore.run.atomic import atomic_path, write_parquet
from radioexplore.run.fanout import describe, map_tasks
from radioexplore.run.rundir import RunDir
from radioexplore.segmentation.clusters import (
    R_THRESHOLD,
    REGION_REACH,
    TRUTH_COLUMNS,
    aperture_pixels,
    detection_ratio,
    read_cluster_table,
    region_ratio,
)
from radioexplore.segmentation.edge_snap import grow_to_contour
from radioexplore.segmentation.mask_rule import drop_coreless, resolve_thresholds
from radioexplore.segmentation.regions import MAX_NEGATIVE_FRACTION, MIN_BEAMS, SPOKE_SIGMA, clean_regions
from radioexplore.segmentation.scaling import beam_fwhm_px, field_input, noise_grid, noise_window, taper_channel
from radioexplore.segmentation.tiling import plan_blocks, segment_block
from radioexplore.segmentation.train import (
    input_options,
    load_segmenter,
    noise_background,
    taper_beams,
)

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentConfig:
    """How ``segment`` runs; recorded in segment.json and run.toml."""

    checkpoint: str | None = None  # None: the shipped assets/checkpoints/unet_diffuse.pt
    threshold: float | None = None  # pixel probability counted diffuse; None: the checkpoint's calibrated one, else 0.5
    # hysteresis (mask_rule): a region above threshold is kept only with a pixel above this; None: the checkpoint's
    # calibrated one when threshold is None too, else no core test
    core_threshold: float | None = None
    r_threshold: float = R_THRESHOLD  # seed 004: detected at R >= 0.015
    aperture_r500: float = 1.0  # aperture radius / R500 (seed 004: a region 2 R500 across)
    # R also counts the mask regions touching the aperture out to this many aperture radii (a peripheral relic; clusters
    # region_ratio; default since 2026-12-03, benchmarks/README.md issue 22, branch cluster-fn); None: R500 alone
    region_reach: float | None = REGION_REACH
    batch_size: int = 8
    device: str = "cpu"
    block_cores: int = 8  # tile cores per block side: one Dask task per block
    tta: bool = False  # mean over the 8 flips / rotations of each tile (tiling.dihedral_mean): 8x the time, ~+0.01 IoU
    min_beams: float = MIN_BEAMS  # regions above threshold smaller than this many beam areas are dropped (regions)
    max_compact_fraction: float | None = None  # drop regions on emission this dominated by 3 beam-sized peaks
    max_negative_fraction: float | None = MAX_NEGATIVE_FRACTION  # drop regions amid this share of < -3 sigma pixels
    spoke_sigma: float | None = SPOKE_SIGMA  # drop radial spokes of a source with a sector this far below zero
    # negatives a bright source's pattern explains leave the region to the spoke test, not the negative share (regions)
    attribute_sidelobes: bool = False
    # remove the pixels a bright source's error pattern explains before the region tests (regions, pattern_cut)
    cut_pattern: bool = False
    # grow kept regions to the contour at this S/N on the image smoothed to the beam (edge_snap; the truth's 2)
    edge_sigma: float | None = None
    # join pieces under min_beams along one arc, their gaps above this smoothed S/N, before the size test (arc_join)
    join_arcs: float | None = None


def _checkpoint(config: SegmentConfig) -> Path:
    if config.checkpoint:
        return Path(config.checkpoint)
    path = diffuse_checkpoint()
    if path is None:
        raise FileNotFoundError(
            "the shipped diffuse-emission checkpoint is missing; give --checkpoint (segment-train makes one)"
        )
    return path


def segment_field(
    file: str, model, meta: dict[str, Any], config: SegmentConfig, client: Client | None = None, progress: bool = True
) -> tuple[np.ndarray, Any]:
    """Probability map of one FITS field (NaN where blank) and its FitsImage."""
    config = resolved(config, meta)
    image = read_image(file)
    # the region tests read the image over its block rms (as tuned); the network reads its input as trained
    grid = noise_grid(image, background_px=noise_background(meta))
    options = input_options(meta)
    pixels, input_grid = field_input(image, **options) if options["from_below"] or options["ripples"] else (image, grid)
    beams = taper_beams(meta)  # the tapered second channel, when the checkpoint was trained with one
    extra = (
        taper_channel(pixels.read() if hasattr(pixels, "read") else pixels, beams, beam_fwhm_px(image))
        if beams > 0
        else None
    )
    recipe = meta.get("recipe", {})
    tile, margin = int(recipe.get("tile_px", 192)), int(recipe.get("margin_px", 32))
    blocks = plan_blocks(image.ny, image.nx, tile, margin, config.block_cores)
    prob = np.empty((image.ny, image.nx), np.float32)

    def collect(i: int, part: np.ndarray) -> None:
        b = blocks[i]
        prob[b.y0 : b.y1, b.x0 : b.x1] = part

    map_tasks(
        segment_block,
        blocks,
        dict(
            image=pixels,
            grid=input_grid,
            model=model,
            tile=tile,
            margin=margin,
            batch_size=config.batch_size,
            device=config.device,
            tta=config.tta,
            extra=extra,
        ),
        client=client,
        desc=f"segment {Path(file).name}",
        unit="block",
        progress=progress,
        collect=collect,
    )
    return clean_field(prob, image, grid, config), image


def resolved(config: SegmentConfig, meta: dict[str, Any]) -> SegmentConfig:
    """``config`` with its mask and core thresholds resolved against a checkpoint's calibration
    (:func:`radioexplore.segmentation.mask_rule.resolve_thresholds`)."""
    threshold, core = resolve_thresholds(config.threshold, config.core_threshold, meta)
    return replace(config, threshold=threshold, core_threshold=core)


def clean_field(prob: np.ndarray, image, grid: np.ndarray, config: SegmentConfig) -> np.ndarray:
    """``prob`` without the regions above the threshold that hold no core above ``config.core_threshold``
    (:mod:`radioexplore.segmentation.mask_rule`), then after
    :func:`radioexplore.segmentation.regions.clean_regions` with the field's beam (from its header) and its
    image over the local noise; the region tests are skipped when all are off, or when the header has no beam
    or pixel scale (logged). A None threshold is 0.5 here: resolve a checkpoint's first (:func:`resolved`)."""
    threshold = 0.5 if config.threshold is None else float(config.threshold)
    if config.core_threshold is not None:
        prob, _ = drop_coreless(prob, threshold, config.core_threshold)
    needs_snr = config.cut_pattern or any(
        v is not None
        for v in (
            config.max_compact_fraction,
            config.max_negative_fraction,
            config.spoke_sigma,
            config.edge_sigma,
            config.join_arcs,
        )
    )
    if config.min_beams <= 0 and not needs_snr:
        return prob
    beam, pix = getattr(image, "beam", None), getattr(image, "pixel_arcsec", None)
    if beam is None or not pix:
        log.warning("%s: no BMAJ / BMIN or pixel scale in the header; regions are not cleaned", image.path)
        return prob
    snr = None
    if needs_snr:
        pixels = image.read() if hasattr(image, "read") else np.asarray(image)
        with np.errstate(invalid="ignore", divide="ignore"):
            snr = pixels / noise_window(grid, 0, 0, pixels.shape[1], pixels.shape[0])
    out, _ = clean_regions(
        prob,
        snr,
        threshold,
        (beam.bmaj_arcsec / pix, beam.bmin_arcsec / pix),
        min_beams=config.min_beams,
        max_compact_fraction=config.max_compact_fraction,
        max_negative_fraction=config.max_negative_fraction,
        spoke_sigma=config.spoke_sigma,
        attribute_sidelobes=config.attribute_sidelobes,
        cut_pattern=config.cut_pattern,
        join_arcs=config.join_arcs,
    )
    if config.edge_sigma is not None and snr is not None:
        fwhm = float(np.sqrt(beam.bmaj_arcsec * beam.bmin_arcsec)) / pix
        out, _ = grow_to_contour(out, snr, threshold, fwhm, level=config.edge_sigma)
    return out


def write_probability_fits(path: Path, prob: np.ndarray, image) -> None:
    """The map as float32 FITS (0 where blank) with the field's celestial WCS header."""
    header = image.wcs.to_header() if image.wcs is not None else fits.Header()
    header["BUNIT"] = ("", "probability of diffuse emission (0-1)")
    header["ORIGIN"] = "radioexplore segment"
    header["HISTORY"] = f"U-Net diffuse-emission probability of {Path(image.path).name} (seed 004)"
    with atomic_path(path) as tmp:
        fits.PrimaryHDU(data=np.nan_to_num(prob, nan=0.0).astype(np.float32), header=header).writeto(tmp)


def tile_columns(prob: np.ndarray, tiles: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """diffuse_mean and diffuse_area of each tile (rows of one field) over its imaged pixels (NaN when none)."""
    means, areas = [], []
    ny, nx = prob.shape
    for x0, y0, s in zip(tiles["x0"].astype(int), tiles["y0"].astype(int), tiles["size"].astype(int), strict=True):
        part = prob[max(y0, 0) : min(y0 + s, ny), max(x0, 0) : min(x0 + s, nx)]
        v = part[np.isfinite(part)]
        means.append(float(v.mean()) if v.size else np.nan)
        areas.append(float((v > threshold).mean()) if v.size else np.nan)
    return pd.DataFrame({"tile_id": tiles["tile_id"].to_numpy(), "diffuse_mean": means, "diffuse_area": areas})


def segment_run(
    run: RunDir,
    config: SegmentConfig = SegmentConfig(),
    clusters: str | Path | None = None,
    client: Client | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Segment every field of ``run`` and write ``segments/``; returns a summary (flagged fraction per field, clusters)."""
    run.check_consistent(stages=("ingest",))
    built_from = run.provenance()
    tiles = run.read_tiles()
    if not {"file", "x0", "y0", "size"} <= set(tiles.columns) or tiles["file"].isna().all():
        raise ValueError(f"{run.tiles_table} has no field files (a stamps run?); segment works on wide-field runs")
    table = read_cluster_table(clusters) if clusters is not None else None
    ckpt = _checkpoint(config)
    model, meta = load_segmenter(ckpt, device=config.device)
    config = resolved(config, meta)
    run.segments_dir.mkdir(parents=True, exist_ok=True)
    rows, flagged, found = [], {}, []
    for (field, file), group in tiles.groupby(["field", "file"], sort=True):
        prob, image = segment_field(str(file), model, meta, config, client=client, progress=progress)
        write_probability_fits(run.segment_map(str(field)), prob, image)
        rows.append(tile_columns(prob, group, config.threshold))
        finite = np.isfinite(prob)
        flagged[str(field)] = float((prob[finite] > config.threshold).mean()) if finite.any() else float("nan")
        if table is not None and image.wcs is not None:
            found.extend(_cluster_scores(table, prob, image, str(field), config))
        del prob
    write_parquet(
        pd.concat(rows, ignore_index=True).sort_values("tile_id").reset_index(drop=True),
        run.segment_tiles,
        meta=dict(built_from=built_from, threshold=config.threshold),
    )
    summary: dict[str, Any] = dict(
        flagged_fraction=flagged, threshold=config.threshold, core_threshold=config.core_threshold
    )
    if table is not None:
        scores = _best_field(table, found, config)
        write_parquet(scores, run.segment_clusters, meta=dict(built_from=built_from))
        summary["clusters"] = dict(n=len(scores), detected=int(scores["detected"].sum()))
    elif run.segment_clusters.is_file():  # scores of an earlier cluster table would no longer match segment.json
        run.segment_clusters.unlink()
    record = dict(
        asdict(config),
        checkpoint_used=str(ckpt),
        model=dict(
            arch=meta.get("arch"), recipe=meta.get("recipe", {}), trained=meta.get("provenance", {}).get("command", "")
        ),
        clusters_table=str(clusters) if clusters is not None else "",
        flagged_fraction=flagged,
        command="radioexplore " + " ".join(sys.argv[1:]),
        built_from=built_from,
        **describe(client),
    )
    with atomic_path(run.segment_meta) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str))
    run.record("segment", record)
    return summary


def _cluster_scores(table: pd.DataFrame, prob: np.ndarray, image, field: str, config: SegmentConfig) -> list[dict]:
    """R of every cluster whose centre lies on this field's imaged pixels."""
    x, y = image.world_to_pixel(table["ra"].to_numpy(), table["dec"].to_numpy())
    out = []
    for i, (cx, cy) in enumerate(zip(x, y, strict=True)):
        if not (np.isfinite(cx) and np.isfinite(cy) and -0.5 < cx < image.nx - 0.5 and -0.5 < cy < image.ny - 0.5):
            continue
        if not np.isfinite(prob[int(round(cy)), int(round(cx))]):
            continue
        r_pix = aperture_pixels(table.iloc[i], image.pixel_arcsec, config.aperture_r500)
        ratio, n_pix = (
            detection_ratio(prob, float(cx), float(cy), r_pix)
            if config.region_reach is None
            else region_ratio(prob, float(cx), float(cy), r_pix, float(config.threshold), config.region_reach)
        )
        edge = min(cx, cy, image.nx - 1 - cx, image.ny - 1 - cy)
        out.append(dict(row=i, field=field, x=float(cx), y=float(cy), r_pix=r_pix, R=ratio, n_pix=n_pix, edge=edge))
    return out


def _best_field(table: pd.DataFrame, found: list[dict], config: SegmentConfig) -> pd.DataFrame:
    """One row per cluster: from the field where it lies farthest from the edge (R NaN when on no field)."""
    best: dict[int, dict] = {}
    for f in found:
        if f["row"] not in best or f["edge"] > best[f["row"]]["edge"]:
            best[f["row"]] = f
    rows = []
    for i, c in table.iterrows():
        b = best.get(i, {})
        ratio = b.get("R", np.nan)
        rows.append(
            dict(
                name=c["name"],
                ra=float(c["ra"]),
                dec=float(c["dec"]),
                r_pix=float(b.get("r_pix", np.nan)),
                R=float(ratio),
                detected=bool(np.isfinite(ratio) and ratio >= config.r_threshold),
                threshold=float(config.r_threshold),
                field=b.get("field", ""),
                x=float(b.get("x", np.nan)),
                y=float(b.get("y", np.nan)),
                n_pix=int(b.get("n_pix", 0)),
                **{k: c[k] for k in TRUTH_COLUMNS if k in table.columns},
            )
        )
    return pd.DataFrame(rows)
