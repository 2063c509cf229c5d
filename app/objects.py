"""Objects in the app: the run's object table, which objects are labelled, and an object's stamp.

``radioexplore objects`` (or ``rank``) writes ``objects.parquet``: one row per extended object with
its field, tiles, box, stamp box (2.5x the box, :mod:`radioexplore.ranking.objects`) and score.

Labels stay on tiles (the label store, the active learner and every export know tiles): labelling
an object writes one label event on its main tile (the tile nearest its centroid, ``tile_id``)
tagged ``object:<id>``. An object counts as labelled while such an event stands (not undone), even
after a later label of the same tile for another object replaced the tile's current judgement:
the events are append-only, so no label is lost.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from app.state import fits_image
from radioexplore.display.render import colourise
from radioexplore.ingest.images import beam_area_px
from radioexplore.io.fits import FitsImage
from radioexplore.ranking.object_stamps import cut_stamps
from radioexplore.ranking.objects import ObjectConfig, beam_fwhm_px
from radioexplore.ranking.peculiar import describe_object
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

#: Tag prefix of a label event given through the object queue.
OBJECT_TAG = "object:"
#: Largest side of a stamp as drawn (a larger stamp box is resampled down to it).
STAMP_MAX_PX = 512
#: Colour of the object's box drawn on its stamp (cyan, apart from the inferno map).
BOX_RGB = (0, 229, 255)


def object_tag(object_id: int) -> str:
    """The tag a label event carries when it was given to object ``object_id``."""
    return f"{OBJECT_TAG}{int(object_id)}"


@lru_cache(maxsize=4)
def _objects(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("rank", kind="stable").reset_index(drop=True)


def read_objects(run: RunDir, n_tiles: int) -> pd.DataFrame | None:
    """The run's objects, most peculiar first, or None when there is no ``objects.parquet`` or it
    names tiles the run does not have (made from other tiles: run ``radioexplore objects`` again)."""
    path = run.objects
    if not path.is_file():
        return None
    table = _objects(str(path), path.stat().st_mtime)
    ids = np.concatenate([np.asarray(t, dtype=np.int64) for t in table["tile_ids"]] or [np.zeros(0, np.int64)])
    if len(ids) and ids.max() >= n_tiles:
        log.warning("%s names tiles beyond the %d of the run; run `radioexplore objects` again", path, n_tiles)
        return None
    return table


def labelled_objects(events: pd.DataFrame) -> set[int]:
    """Ids of the objects with a standing label event (active, kind "label", tagged ``object:<id>``)."""
    if events.empty:
        return set()
    live = events[events["active"] & (events["kind"] == "label")]
    out: set[int] = set()
    for tags in live["tags"]:
        for tag in tags:
            if str(tag).startswith(OBJECT_TAG) and str(tag)[len(OBJECT_TAG) :].isdigit():
                out.add(int(str(tag)[len(OBJECT_TAG) :]))
    return out


def object_order(objects: pd.DataFrame, labelled: set[int] = frozenset()) -> list[int]:
    """Object ids in the table's order (most peculiar first), skipping the labelled ones and those
    on no tile (they cannot be labelled)."""
    keep = (objects["tile_id"].to_numpy() >= 0) & ~objects["object_id"].isin(list(labelled)).to_numpy()
    return [int(i) for i in objects.loc[keep, "object_id"]]


def artefact_scores(objects: pd.DataFrame, tile_scores: np.ndarray | None) -> np.ndarray:
    """Each object's artefact score (NaN where unknown): its own ``artefact_score`` (from its negative
    ratio, :func:`radioexplore.ranking.object_score.rank_objects`) when the table has one, else its main
    tile's from ``tile_scores`` (an ``objects.parquet`` written before objects had their own)."""
    if "artefact_score" in objects:
        return objects["artefact_score"].to_numpy(dtype=float)
    out = np.full(len(objects), np.nan)
    main = objects["tile_id"].to_numpy(dtype=np.int64)
    if tile_scores is not None:
        on = (main >= 0) & (main < len(tile_scores))
        out[on] = np.asarray(tile_scores, dtype=float)[main[on]]
    return out


def with_object_tag(tags: list[str], object_id: int) -> list[str]:
    """``tags`` (a tile's current tags) for a label of ``object_id``: other objects' tags out, its own in."""
    kept = [t for t in tags if not str(t).startswith(OBJECT_TAG)]
    return [*kept, object_tag(object_id)]


def field_files(tiles: pd.DataFrame) -> dict[str, str]:
    """Each field's source image file, as its tiles name it (first tile of each field)."""
    if not {"field", "file"} <= set(tiles.columns):
        return {}
    first = tiles.drop_duplicates("field")
    return dict(zip(first["field"].astype(str), first["file"].astype(str), strict=True))


def field_image(path: str | None) -> FitsImage | None:
    """The field's source image at ``path``, read once (None when absent or unreadable)."""
    return fits_image(path) if path and Path(path).is_file() else None


def beam_px(image: FitsImage | None) -> float:
    """The restoring beam's FWHM in pixels (the objects stage's default when the header has none)."""
    area = beam_area_px(image) if image is not None else None
    return beam_fwhm_px(area) if area else ObjectConfig().default_beam_fwhm_px


def object_stamp(image: FitsImage, obj: pd.Series) -> np.ndarray:
    """The object's stamp (its stamp box: 2.5x its box, centred on it) in image units, cut as the
    objects stage cuts them (:func:`radioexplore.ranking.object_stamps.cut_stamps`), at most
    :data:`STAMP_MAX_PX` a side; row 0 is the stamp's bottom row."""
    side = int(min(int(obj["stamp_size"]), STAMP_MAX_PX))
    return cut_stamps(image, pd.DataFrame([obj]), size_px=side)[0]


def stamp_png(values: np.ndarray, obj: pd.Series, vmin: float, vmax: float) -> bytes:
    """PNG of a stamp between ``vmin`` and ``vmax``, north up, with the object's box outlined."""
    rgb = colourise(values, "inferno", vmin, vmax)
    scale = values.shape[0] / float(obj["stamp_size"])
    x0, x1 = (np.array([obj["box_x0"], obj["box_x1"] + 1]) - obj["stamp_x0"]) * scale
    y0, y1 = (np.array([obj["box_y0"], obj["box_y1"] + 1]) - obj["stamp_y0"]) * scale
    h, w = rgb.shape[:2]
    xa, xb = int(np.clip(np.floor(x0), 0, w - 1)), int(np.clip(np.ceil(x1) - 1, 0, w - 1))
    ya, yb = int(np.clip(np.floor(y0), 0, h - 1)), int(np.clip(np.ceil(y1) - 1, 0, h - 1))
    rgb[ya : yb + 1, [xa, xb]] = BOX_RGB
    rgb[[ya, yb], xa : xb + 1] = BOX_RGB
    buf = io.BytesIO()
    Image.fromarray(rgb[::-1]).save(buf, format="PNG")  # row 0 at the bottom, as in FITS
    return buf.getvalue()


def object_facts(obj: pd.Series, beam: float) -> list[tuple[str, str]]:
    """What the object queue shows of an object, as (name, value) text pairs: score and rank, size
    in arcsec and beams, flux, shape, its own artefact score (when the table has one), the artefact
    hint, position and the tiles it touches."""
    side = max(int(obj["box_x1"]) - int(obj["box_x0"]) + 1, int(obj["box_y1"]) - int(obj["box_y0"]) + 1)
    size = f"{side / beam:.3g} beams across ({side} px"
    size += f", {obj['size_arcsec']:.3g}″)" if pd.notna(obj.get("size_arcsec")) else ")"
    tiles = [int(t) for t in obj["tile_ids"]]
    flux = float(obj["flux_jy"])
    return [
        ("score", f"{float(obj['score']):.3f} (rank {int(obj['rank'])})"),
        ("size", size),
        ("area", f"{float(obj['area_beams']):.3g} beams"),
        ("flux", f"{flux * 1e3:.3g} mJy" if abs(flux) < 1 else f"{flux:.3g} Jy"),
        ("peak", f"{float(obj['peak_snr']):.3g} σ"),
        ("shape", _shape(obj)),
        *(
            [("artefact score", f"{float(obj['artefact_score']):.2f} (its own, from the troughs around it)")]
            if pd.notna(obj.get("artefact_score"))
            else []
        ),
        ("negative around it", f"{float(obj['negative_fraction']):.1%} of pixels below -5σ"),
        ("field", str(obj["field"])),
        ("RA, Dec", f"{float(obj['ra']):.5f}°, {float(obj['dec']):.5f}°" if pd.notna(obj["ra"]) else "–"),
        (
            "tiles",
            f"{', '.join(map(str, tiles))}; its label goes to tile {int(obj['tile_id'])}",
        ),
    ]


def _shape(obj: pd.Series) -> str:
    return (
        f"{describe_object(obj)}: hole {float(obj['hole_fraction']):.0%}, {int(obj['n_peaks'])} peak(s), "
        f"axis ratio {float(obj['axis_ratio']):.2g}"
    )
