"""An uploaded FITS cutout embedded as the run embedded its tiles, to search the run for tiles like it.

The cutout is embedded on the fly with the run's own backbone (recorded in run.toml
``stages.embed.<name>``) after the run's scaling (``stages.ingest``: ``scaling``,
``scaling_params``); the scaling is fitted on the cutout's own pixels by default
(``scaling_from="cutout"``), or taken from the state of the field whose tiles lie nearest to the
cutout on the sky (``"nearest"``, needs a celestial WCS), or from a named field. Per-field
scaling (seed 000, sec. 2.2) uses the whole field; a cutout is a small part of one, so
``"nearest"`` reproduces the run's tiles best when the cutout comes from a surveyed field, and
``"cutout"`` is the only choice for an image from elsewhere. The cutout is resampled to the run's
arcsec/px and cut, or padded with noise like its own, to the run's tile size; one of another extent
than a tile is also placed a quarter tile off centre each way (9 queries;
:meth:`radioexplore.space.similarity.SimilaritySearch.from_vectors` keeps each tile's best distance),
since a survey's tile grid puts a source anywhere in a tile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.schema import is_stamps_run
from radioexplore.space.cutout.backbone import embed_pixels
from radioexplore.space.cutout.pixels import resample, to_tile
from radioexplore.space.cutout.scaling import noise_state
from radioexplore.space.cutout.sky import field_of_cutout, field_pixel_arcsec, nearest_field

if TYPE_CHECKING:
    from radioexplore.io.fits import FitsImage

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
    scales = field_pixel_arcsec(tiles)
    where = field_of_cutout(tiles, scales, image) if image.wcs is not None else None
    if scaling_from == "auto":
        source = where or "cutout"
    elif scaling_from == "nearest":
        source = nearest_field(tiles, image)
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
        raw = resample(raw, ratio)
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
    placed = [to_tile(raw, tile_px, rms, beam_px, offset) for offset in offsets]
    if placed[0][1]:
        notes.append(placed[0][1])
    if len(offsets) > 1:
        notes.append(f"also placed {shift} px off centre each way ({len(offsets)} queries, each tile's best kept)")

    scaling = str(ingest.get("scaling", "contrast"))
    scaler = make_scaler(scaling, **ingest.get("scaling_params", {}))
    if source == "cutout":
        state = noise_state(states, tiles, rms)
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
    vectors = embed_pixels(embed, pixels, device)
    return CutoutEmbedding(vectors[0], scaling, source, (tile_px, tile_px), notes, how, vectors)


def _embed_stamp(
    image: FitsImage, ingest: dict, embed: dict, tile_px: int, notes: list[str], device: str
) -> CutoutEmbedding:
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
    return CutoutEmbedding(embed_pixels(embed, pixels[None], device)[0], scaling, "cutout", (h, w), notes, how)
