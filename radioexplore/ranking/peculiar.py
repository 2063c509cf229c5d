"""Peculiarity that discounts the artefact axis: the rankers ``rank --method`` chooses from, and why a tile ranks.

Three things speak for a tile (issue 24): the tile's anomaly (the Isolation Forest over its
embedding, :mod:`radioexplore.ranking.forest`), its object peculiarity (its most peculiar extended
object's score, :mod:`radioexplore.ranking.objects`) and the artefact axis
(:mod:`radioexplore.ranking.artefacts`), measured per tile and per object. The default rule is
transparent and fits nothing:

    peculiarity = max(anomaly quantile x (1 - tile artefact score), object quantile)

where a tile's object score is that of its best object, each object's shape score already
multiplied by (1 - its own artefact score). Quantiles (the share of ranked tiles scoring strictly
lower) put the forest and the object scores on one scale; the max lets either find a tile (a ring
among compact sources is lost in the tile's embedding but plain as an object). The discount acts
where the evidence is: a ripple crest is sunk by the troughs beside it, a peculiar object in the
same poor field is not (a tile-wide factor on the objects sank both: measured in
benchmarks/peculiar_vs_artefacts.py). Rankers by name in :data:`METHODS`; ``seed002`` is Riggi et
al. 2024's recipe (LightGBM top-k features -> Isolation Forest, 200 trees, max_samples 0.02),
``forest`` the plain forest, ``peculiar_no_axis`` the default without any artefact discount
(objects by shape score alone; for comparison).

How the two axes meet (:attr:`Method.combine`): ``max`` (the default's, above); ``objects_first``
ranks every tile an object lies on first, by its best object's (discounted) score, and the tiles no
detector found anything on after them by the forest x (1 - tile artefact score), so that a run
without field images, or faint emission no island caught, still gets the forest's order; and
``forest_where_no_object`` keeps one quantile scale but lets the forest speak only where no object
lies (a tile with an object is its object). Issue 24 measured them against the max
(benchmarks/README.md, "Objects first").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from radioexplore.ranking.objects import FOREST_FEATURES, LIKELY_ARTEFACT
from radioexplore.registry import lookup
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Method:
    """One ranker: whether it blends the object score and the artefact axis into the forest's."""

    description: str
    objects: bool = False  # take the max with the object quantile
    artefacts: bool = False  # anomaly x (1 - tile artefact_score); objects by their discounted score
    top_k: int | None = None  # forest on the top-k LightGBM features (needs labels)
    #: how the forest and the objects meet: "max" of the quantiles; "objects_first" (tiles with an object
    #: first, by it; the rest after, by the forest); "forest_where_no_object" (one scale, the forest only
    #: where no object lies)
    combine: str = "max"

    def __post_init__(self) -> None:
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, not {self.combine!r}")

    @property
    def object_column(self) -> str:
        """The objects' column a tile takes its best of: discounted by each object's artefact score or not."""
        return "score" if self.artefacts else "shape_score"


#: How a :class:`Method` puts the forest and the objects together.
COMBINES = ("max", "objects_first", "forest_where_no_object")

#: Rankers by name; ``peculiar`` is ``rank``'s default.
METHODS: dict[str, Method] = {
    "peculiar": Method(
        "max(anomaly quantile x (1 - tile artefact score), quantile of objects' shape x (1 - object artefact score))",
        objects=True,
        artefacts=True,
    ),
    "peculiar_no_axis": Method("max(anomaly, object shape) quantile, artefact axis ignored", objects=True),
    "objects_first": Method(
        "tiles with an object first, by their best object's shape x (1 - object artefact score); the tiles with no "
        "object after them, by anomaly quantile x (1 - tile artefact score)",
        objects=True,
        artefacts=True,
        combine="objects_first",
    ),
    "objects_first_no_axis": Method(
        "objects_first with the artefact axis ignored: tiles with an object first, by object shape; the rest by anomaly",
        objects=True,
        combine="objects_first",
    ),
    "forest_where_no_object": Method(
        "one quantile scale: a tile with an object scores its best object's shape x (1 - object artefact score), a "
        "tile with none its anomaly x (1 - tile artefact score)",
        objects=True,
        artefacts=True,
        combine="forest_where_no_object",
    ),
    "forest": Method("Isolation Forest over the (per-field standardised) embedding"),
    "seed002": Method("seed 002: LightGBM top-10 features -> Isolation Forest (200 trees, max_samples 0.02)", top_k=10),
}
DEFAULT_METHOD = "peculiar"
#: Artefact score below which ``why`` calls it "low"; at or above LIKELY_ARTEFACT (the objects' own
#: constant, :mod:`radioexplore.ranking.objects`) a likely artefact.
LOW_ARTEFACT = 0.2
#: An island's extent (beams) from which ``describe_object`` reads two crossed axes as resolved.
RESOLVED_CROSS_BEAMS = 4.0


def method_named(name: str) -> Method:
    return lookup(METHODS, name, "ranking method")


def quantile_among(score: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Share of the kept tiles scoring strictly lower than each tile, in [0, 1] (the top kept tile 1;
    tiles sharing the lowest score, e.g. 0 for no object, get 0)."""
    score = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf)
    keep = np.ones(len(score), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    ref = np.sort(score[keep])
    if len(ref) < 2:
        return np.where(keep, 1.0, 0.0).astype(np.float32)
    return (np.searchsorted(ref, score, side="left") / (len(ref) - 1)).clip(0, 1).astype(np.float32)


def peculiarity(
    anomaly: np.ndarray,
    object_score: np.ndarray | None,
    artefact: np.ndarray | None,
    keep: np.ndarray | None = None,
    method: Method = METHODS[DEFAULT_METHOD],
    has_object: np.ndarray | None = None,
) -> np.ndarray:
    """The score of ``method`` from the three axes (object score and artefact may be None: absent);
    tiles not kept score 0. ``object_score`` is the tile's best object's (of ``method.object_column``,
    so already discounted per object where the method discounts); the tile's artefact score (NaN:
    no pixels to measure, counts as 0) multiplies the anomaly quantile. ``has_object``: the tiles an
    object lies on (default: object score above 0), which ``objects_first`` and
    ``forest_where_no_object`` rank by it alone; ``objects_first`` scores them in [2/3, 1] and the
    rest in [0, 1/3], so that any tile with an object leads."""
    n = len(anomaly)
    keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    q = quantile_among(anomaly, keep).astype(np.float64)
    if method.artefacts and artefact is not None:
        q = q * (1.0 - np.clip(np.nan_to_num(np.asarray(artefact, dtype=np.float64), nan=0.0), 0.0, 1.0))
    if method.objects and object_score is not None:
        obj_q = quantile_among(object_score, keep).astype(np.float64)
        found = np.asarray(object_score) > 0 if has_object is None else np.asarray(has_object, dtype=bool)
        if method.combine == "max":
            q = np.maximum(q, obj_q)
        elif method.combine == "forest_where_no_object":
            q = np.where(found, obj_q, q)
        else:  # objects_first: the objects' own order among the tiles with one, above every tile without
            q = np.where(found, (2.0 + quantile_among(object_score, keep & found)) / 3.0, q / 3.0)
    return np.where(keep, q, 0.0).astype(np.float32)


def objects_lead(method: Method, anomaly_q: np.ndarray, object_q: np.ndarray, has_object: np.ndarray) -> np.ndarray:
    """Tiles whose place ``method`` owes to their object (``why`` names it) rather than to the forest:
    under the max, where the object's quantile reaches the anomaly's; otherwise wherever an object lies."""
    if method.combine == "max":
        return has_object & (object_q >= anomaly_q)
    return has_object.copy()


def object_tile_pairs(objects: pd.DataFrame, n_tiles: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, tiles)``: one pair per tile an object overlaps (``objects["tile_ids"]``), the object's row
    index into ``objects`` and the tile id, tiles outside ``0..n_tiles-1`` left out."""
    rows = np.repeat(np.arange(len(objects)), objects["tile_ids"].map(len).to_numpy())
    tiles = np.concatenate([np.asarray(t, dtype=np.int64) for t in objects["tile_ids"]] or [np.zeros(0, np.int64)])
    ok = (tiles >= 0) & (tiles < n_tiles)
    return rows[ok], tiles[ok]


def tile_best_objects(objects: pd.DataFrame, n_tiles: int, column: str = "score") -> np.ndarray:
    """Row index into ``objects`` of each tile's most peculiar overlapping object by ``column``, -1 when none."""
    best = np.full(n_tiles, -1, dtype=np.int64)
    if objects is None or objects.empty:
        return best
    rows, tiles = object_tile_pairs(objects, n_tiles)
    score = objects[column].to_numpy(dtype=float)[rows]
    order = np.lexsort((score, tiles))  # per tile, the best object last
    last = order[np.r_[tiles[order][1:] != tiles[order][:-1], True]] if len(order) else order
    best[tiles[last]] = rows[last]
    return best


def describe_object(obj: pd.Series) -> str:
    """A few words for an object's shape, from the features that make it stand out (words only: the
    ranking uses the features themselves, :mod:`radioexplore.ranking.object_shape`)."""
    if obj.get("x_crossing", 0) > 0:
        return "part of an X-shaped source (a lobe pair crossed by wings)"
    # one island with four arms in two crossed axes through one centre (ranking/crossing.py, single_island_x)
    if obj.get("x_arms", 0) >= 0.5:
        return "X-shaped source (two crossed axes through one centre)"
    # a joined double beyond the survey's extended sources (ranking/morphology.py: more likely than not
    # beyond the largest of them); only a table ranked with that evidence carries the column
    if obj.get("giant_evidence", 0) >= 0.5:
        bridge = obj.get("bridge_snr", np.nan)  # ranking/bridges.py: emission between the lobes, when measured
        if np.isfinite(bridge):
            return f"giant double (beyond the survey's extended sources; lobes bridged at {bridge:.1f} sigma)"
        return "giant double (beyond the survey's extended sources)"
    # a limb-brightened shell (ranking/ring.py: four terms, 0.25 when each reads about 0.7); a table
    # from before it says ring-like by ring_coverage, which a bent tail's U reads as high as a ring
    ring = obj["ring_shell"] >= 0.25 if "ring_shell" in obj else obj.get("ring_coverage", 0) >= 0.5
    if obj.get("hole_fraction", 0) >= 0.1 or ring:
        return "ring-like object"
    # two crossed axes need arms resolved beyond the beam round the centre: two beams out each way, as
    # ring.py asks of a rim (on simulated skies 305 of 310 islands this word named before were of 2-6
    # beams, none an X-shaped source)
    if obj.get("cross_contrast", 0) >= 0.15 and obj.get("extent_beams", np.inf) >= RESOLVED_CROSS_BEAMS:
        return "X-shaped object (two crossed axes)"
    if obj.get("n_peaks", 1) >= 3:
        return "multi-peaked object"
    if obj.get("axis_ratio", 1) >= 3:
        return "elongated object"
    return "extended object"


def describe_source(obj: pd.Series) -> str:
    """The source an object belongs to, in words ("" for an island alone; :mod:`radioexplore.ranking.sources`)."""
    n = int(obj.get("source_components", 1) or 1)
    if n < 2:
        return ""
    what = "lobe of a double with a core" if int(obj.get("core", -1)) >= 0 else "lobe of a double"
    if int(obj.get("core", -1)) == int(obj.get("object_id", -2)):
        what = "core of a double"
    return f" ({what}, {float(obj.get('source_extent_beams', np.nan)):.0f} beams end to end)"


def describe_artefact(score: float, features: pd.Series | None) -> str:
    """The artefact axis in words: low, moderate or a likely artefact named by its strongest evidence."""
    if not np.isfinite(score):
        return "artefact score unknown"
    if score < LOW_ARTEFACT:
        return "artefact score low"
    if score < LIKELY_ARTEFACT:
        return f"artefact score moderate ({score:.2f})"
    ring = float(features.get("artefact_ring_contrast", 0.0)) if features is not None else 0.0
    if np.isfinite(ring) and ring >= 5.0:
        return "strong negative rings: likely artefact"
    return "deep negative troughs: likely artefact"


def why_column(
    anomaly_q: np.ndarray,
    object_q: np.ndarray | None,
    best_object: np.ndarray | None,
    objects: pd.DataFrame | None,
    scores: pd.DataFrame,
    keep: np.ndarray,
    method: Method = METHODS[DEFAULT_METHOD],
) -> list[str]:
    """For each tile, what put it where it is: the axis that drove it and the artefact axis, in words
    (under ``objects_first`` a tile with no object says so: the forest orders it below every object)."""
    art = scores["artefact_score"].to_numpy(dtype=float) if "artefact_score" in scores else np.full(len(keep), np.nan)
    ripple = (
        np.nan_to_num(scores["artefact_ripple_sigma"].to_numpy(dtype=float), nan=0.0)
        if "artefact_ripple_sigma" in scores
        else np.zeros(len(keep))
    )
    has = np.zeros(len(keep), dtype=bool) if best_object is None or object_q is None else np.asarray(best_object) >= 0
    lead_obj = objects_lead(method, anomaly_q, object_q, has) if object_q is not None else has
    after = (
        "no object found, after the tiles with one: " if method.combine == "objects_first" and method.objects else ""
    )
    out = []
    for i in range(len(keep)):
        if not keep[i]:
            out.append("left out: blank or cut by the image edge")
            continue
        row = scores.iloc[i]
        if lead_obj[i]:
            obj = objects.iloc[best_object[i]]
            # the object's own artefact score is what discounted it; the tile's is said when not low
            own = float(obj["artefact_score"]) if "artefact_score" in obj else art[i]
            text = f"{describe_object(obj)}{describe_source(obj)}, "
            text += describe_artefact(own, row if "artefact_score" not in obj else None)
            if "artefact_score" in obj and np.isfinite(art[i]) and art[i] >= LOW_ARTEFACT:
                text += f"; tile {describe_artefact(art[i], row)}"
            out.append(text + describe_ripples(ripple[i]))
            continue
        lead = "unusual tile" if anomaly_q[i] >= 0.9 else "ordinary tile"
        lead = (after + lead) if after and not has[i] and object_q is not None else lead
        out.append(f"{lead}, {describe_artefact(art[i], row)}{describe_ripples(ripple[i])}")
    return out


def describe_ripples(sigma: float) -> str:
    """The tile's periodic ripples (:mod:`radioexplore.ranking.ripples`) in words when they pass the
    5 sigma detection convention, else nothing: evidence labels can teach through, not in the score."""
    return f"; periodic ripples {sigma:.0f} sigma" if sigma >= 5.0 else ""


def run_objects(run: RunDir, tiles: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
    """The run's objects: ``objects.parquet`` when the objects stage ran (and fits these tiles), else
    found now from the field images (written as ``radioexplore objects`` would); (None, why) when
    the run has no field images to find them in."""
    if run.objects.is_file():
        objects = pd.read_parquet(run.objects)
        ids = np.concatenate([np.asarray(t, dtype=np.int64) for t in objects["tile_ids"]] or [np.zeros(0, np.int64)])
        lacking = [c for c in ("shape_score", "artefact_score", *FOREST_FEATURES) if c not in objects.columns]
        if lacking:
            log.warning(
                "%s lacks the column(s) %s (an older version wrote it): finding the objects again", run.objects, lacking
            )
        elif not len(ids) or ids.max() < len(tiles):
            return objects, None
        else:
            log.warning("%s names tiles beyond the %d of the run: finding the objects again", run.objects, len(tiles))
    if (
        not {"file", "field", "x0", "y0", "size"} <= set(tiles.columns)
        or not tiles["file"].astype(str).str.strip().any()
    ):
        return None, "no field images in the tiles table: ranked without objects"
    from radioexplore.ranking.object_run import objects_run
    from radioexplore.run.errors import RunDirError

    try:
        objects_run(run, progress=False)
    except (RunDirError, OSError, ValueError) as exc:
        return None, f"objects could not be found ({exc}): ranked without objects"
    return pd.read_parquet(run.objects), None
