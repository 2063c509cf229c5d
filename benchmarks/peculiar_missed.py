"""Why each peculiar tile is not in the top 5%: a table of counts by simulated kind and cause (issue 24).

Reads the survey folders ``peculiar_vs_artefacts.py --out DIR`` left (each survey's ``run/`` with its
``objects.parquet`` and the default ranking's scores, the last it wrote, and ``sim/truth.csv``) and, for
every peculiar tile below the top ``--fraction``, finds the peculiar sources with a key point on it and
their objects (an object whose box, a beam wider, holds one of the source's key points), then names the
first cause that applies:

- the tile is left out (blank or cut by the image edge);
- the source is no object at all (no island above 3 sigma, or under 3 beam areas);
- the source's objects list other tiles only (its key point lies on a tile holding less than 3 beam
  areas of it: a lobe end or a wing tip over a tile edge);
- its best object on the tile reads evidence >= 0.5 (ring, X-shape, giant) and would reach the cut
  without its own artefact discount / still misses it;
- it reads no evidence: the forest would reach the cut without the discount / the forest scores it low.

The last cause is split by kind: a giant's unresolved core alone on the tile (under 6 beam areas), a
giant's lobe in a joined double or not, an X-shaped source as one island or in pieces, a ring and its
shell. Run ``peculiar_vs_artefacts.py`` first, with the options to diagnose:

    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --surveys 1:3,2:4,3:6 --no-astronomer
    python benchmarks/peculiar_missed.py --out /tmp/pecbench --surveys 1:3,2:4,3:6

(``--name vit`` after a run with ``--embedding vit``: the ranking it left is ``scores/vit.parquet``.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import header, parse_surveys  # benchmarks/ is not a package: _common sits beside this script

from radioexplore.ranking.peculiar import tile_best_objects
from radioexplore.run.rundir import RunDir
from radioexplore.simulation import PECULIAR_KINDS

#: Evidence at or above this counts as read (the queue's words use the same line).
EVIDENCE = 0.5
#: A giant's tile whose best object of the giant is smaller than this (beam areas) holds only its core.
CORE_BEAMS = 6.0


def key_points(row: pd.Series) -> list[tuple[float, float]]:
    """The simulated source's key points (core, lobes, hotspots, wing ends), its centre when it lists none."""
    text = row["points"] if isinstance(row["points"], str) else ""
    points = [tuple(float(v) for v in p.split(":")) for p in text.split(";") if ":" in p]
    return points or [(float(row["x"]), float(row["y"]))]


def survey_beam_px(work: Path) -> float:
    """The simulated survey's beam FWHM in pixels (geometric mean of its axes), from ``sim/simulation.json``."""
    config = pd.read_json(work / "sim" / "simulation.json", typ="series")
    return float(np.sqrt(np.prod(config["beam_arcsec"]))) / float(config["pixel_arcsec"])


def holds_key_point(o, points: list[tuple[float, float]], fwhm: float) -> bool:
    """Whether object ``o``'s box (``box_x0 .. box_y1``), ``fwhm`` wider on every side, holds one of ``points``."""
    return any(o.box_x0 - fwhm <= x <= o.box_x1 + fwhm and o.box_y0 - fwhm <= y <= o.box_y1 + fwhm for x, y in points)


def cause(tile: int, field_objects: pd.DataFrame, sources: list, scores: dict, fwhm: float) -> tuple[str, str]:
    """(cause, detail) for one missed peculiar tile; ``sources`` are (kind, key points) with a point on it."""
    if scores["score"][tile] == 0:
        return "tile left out (blank / image edge)", ""
    own = []
    for _, points in sources:
        own += [i for i, o in field_objects.iterrows() if holds_key_point(o, points, fwhm)]
    if not own:
        return "source found as no object", ""
    on_tile = [i for i in set(own) if tile in set(field_objects.at[i, "tile_ids"])]
    if not on_tile:
        return "source's objects list other tiles only", ""
    o = field_objects.loc[max(on_tile, key=lambda i: field_objects.at[i, "score"])]
    evidence = max(float(o.get(c, 0.0)) for c in ("ring_evidence", "x_evidence", "giant_evidence"))
    # its score without its own artefact discount (score / (1 - artefact); fully discounted: the score without
    # the axis), never below its evidence
    art = float(o["artefact_score"])
    undiscounted = max(o["score"] / (1.0 - art) if art < 0.999 else float(o["shape_score"]), evidence)
    reaches = scores["quantile"](undiscounted) >= scores["cut"]
    if evidence >= EVIDENCE:
        return ("evidence, the object's artefact score sinks it" if reaches else "evidence, below the cut"), ""
    if reaches:
        return "no evidence, forest reaches the cut, artefact score sinks it", ""
    kind = sources[0][0]
    if kind == "grg":
        if o["area_beams"] < CORE_BEAMS:
            detail = "giant: unresolved core alone"
        else:
            detail = "giant lobe in a joined double" if o["source_components"] > 1 else "giant lobe, not joined"
    elif kind == "xrg":
        detail = "X in pieces, crossing not read" if o["source_components"] > 1 else "X as one island, x_arms 0"
    else:
        detail = f"ring, shell {float(o.get('ring_shell', 0.0)):.1f}"
    return "no evidence, forest low", detail


def one_survey(work: Path, fraction: float, name: str = "pixstats") -> pd.DataFrame:
    """The missed peculiar tiles of one survey folder, one row each (survey, tile, kind, cause, detail), against
    the ranking of embedding ``name`` (``scores/<name>.parquet``)."""
    run = RunDir(work / "run")
    tiles = run.read_tiles()
    s = run.read_scores(name).set_index("tile_id").loc[tiles["tile_id"]]
    objects = pd.read_parquet(run.objects)
    truth = pd.read_csv(work / "sim" / "truth.csv")
    truth = truth[truth["kind"].isin(PECULIAR_KINDS)]
    fwhm = survey_beam_px(work)
    n, score = len(tiles), s["score"].to_numpy()
    k = max(1, int(round(fraction * n)))
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    keep = (s["anomaly_score"] > 0).to_numpy()
    best = tile_best_objects(objects, n, "score")
    tile_object = np.where(best >= 0, objects["score"].to_numpy(float)[np.maximum(best, 0)], 0.0)
    reference = np.sort(tile_object[keep])

    def quantile(value: float) -> float:  # the tile quantile an object score would give (peculiar.quantile_among)
        return float(np.clip(np.searchsorted(reference, value, side="left") / max(1, len(reference) - 1), 0, 1))

    scores = {"score": score, "cut": score[order[k - 1]], "quantile": quantile}
    peculiar = tiles["truth_peculiar"].to_numpy(bool)
    rows = []
    for t in np.flatnonzero(peculiar & (rank >= k)):
        x0, y0, size = (float(tiles[c].iloc[t]) for c in ("x0", "y0", "size"))
        field = tiles["field"].iloc[t]
        sources = []
        for _, src in truth[truth["field"] == field].sort_values("kind").iterrows():
            points = key_points(src)
            if any(x0 - 0.5 <= x < x0 + size - 0.5 and y0 - 0.5 <= y < y0 + size - 0.5 for x, y in points):
                sources.append((src["kind"], points))
        if not sources:
            continue
        why, detail = cause(t, objects[objects["field"] == field], sources, scores, fwhm)
        rows.append(
            dict(survey=work.name, tile=int(tiles["tile_id"].iloc[t]), kind=sources[0][0], cause=why, detail=detail)
        )
    missed = pd.DataFrame(rows, columns=["survey", "tile", "kind", "cause", "detail"])
    print(
        f"{work.name}: {int((peculiar & (rank < k)).sum())} of {int(peculiar.sum())} peculiar tiles in the top {k}",
        flush=True,
    )
    return missed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the work folder peculiar_vs_artefacts.py --out wrote")
    p.add_argument("--surveys", default="1:3,2:4,3:6", help="SEED:ARTEFACT_STRENGTH,... as given to it")
    p.add_argument("--fraction", type=float, default=0.05, help="top fraction (issue 24: 5%%)")
    p.add_argument(
        "--name",
        default="pixstats",
        help="the ranking read, scores/NAME.parquet: pixstats for its --embedding pixelstats (its default), vit for "
        "--embedding vit (the issue's scale)",
    )
    args = p.parse_args()
    header("why peculiar tiles miss the top: counts by simulated kind and cause (issue 24)")
    parts = [
        one_survey(args.out / f"s{seed}_{strength:g}", args.fraction, args.name)
        for seed, strength in parse_surveys(args.surveys)
    ]
    missed = pd.concat(parts, ignore_index=True)
    pd.set_option("display.width", 200)
    print("\nmissed peculiar tiles by cause (rows) and kind (columns; a tile holding two kinds counts as the first):")
    print(pd.crosstab(missed["cause"], missed["kind"], margins=True).to_string())
    low = missed[missed["detail"] != ""]
    if len(low):
        print("\nno evidence, forest low, by what the source is on the tile:")
        print(pd.crosstab(low["detail"], low["kind"], margins=True).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
