"""Which joined doubles are one source: the doubles ``sources.associate`` joined, against the simulated truth (issue 24).

The giant evidence (:mod:`radioexplore.ranking.morphology`) reads a joined double's lobe-to-lobe extent, so its
precision is the joins' precision: two unrelated sources joined across a field read as long as a giant. Reads the
survey folders ``peculiar_vs_artefacts.py --out DIR`` left (``run/objects.parquet``, ``sim/truth.csv``,
``sim/simulation.json``); every member of a joined double (lobes, core, pieces) is matched to the extended simulated
sources with a key point in its box, a beam wider (as ``peculiar_missed.py`` matches). A double is

- ``one <kind>`` when two or more of its members match one source and no member matches another;
- ``two sources`` when its members match different sources;
- ``no source`` when fewer than two members match any (noise, ripple crests, a source's pieces without key points).

Printed per class: how many, their median lobe-to-lobe extent (beams), association chance, giant evidence and bridge
S/N (``ranking/bridges.py``; NaN for a table from before it), how many reach the default bridge (``bridged``), and
how many read giant evidence >= 0.5 and >= 0.1; then the simulated giants joined as one double, of all giants. Run
``peculiar_vs_artefacts.py`` first:

    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --surveys 1:3,2:4,3:6 --no-astronomer
    python benchmarks/joined_doubles.py --out /tmp/pecbench --surveys 1:3,2:4,3:6
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import header, parse_surveys  # benchmarks/ is not a package: _common sits beside this script
from peculiar_missed import holds_key_point, key_points, survey_beam_px

from radioexplore.ranking.bridges import BRIDGE_SNR
from radioexplore.ranking.morphology import MorphConfig
from radioexplore.simulation import EXTENDED_KINDS

#: Giant evidence lines counted (the queue's words read 0.5).
LINES = (0.5, 0.1)


def member_sources(members: pd.DataFrame, points: list[tuple[int, list]], fwhm: float) -> list[set[int]]:
    """Per member object, the truth rows of ``points`` (row, key points) with a key point in its box, ``fwhm`` wider."""
    return [{i for i, pts in points if holds_key_point(o, pts, fwhm)} for o in members.itertuples()]


def classify(matches: list[set[int]], kinds: pd.Series) -> tuple[str, int]:
    """(``one <kind>``, its truth row), (``two sources``, -1) or (``no source``, -1) for a double whose members
    matched ``matches``."""
    matched = [m for m in matches if m]
    if len(matched) < 2:
        return "no source", -1
    common = set.intersection(*matched)
    if common:  # every matching member holds one source's key point: that source (the first listed if several)
        row = min(common)
        return f"one {kinds[row]}", row
    return ("two sources" if len(set().union(*matched)) > 1 else "no source"), -1


def one_survey(work: Path) -> tuple[pd.DataFrame, int, int]:
    """The joined doubles of one survey folder, one row each (survey, field, class, extent, chance, evidence),
    and its simulated giants in the image and those joined as one double."""
    for need in (work / "run" / "objects.parquet", work / "sim" / "truth.csv", work / "sim" / "simulation.json"):
        if not need.is_file():
            raise SystemExit(
                f"{need}: not found; run peculiar_vs_artefacts.py --out {work.parent} with this survey first"
            )
    objects = pd.read_parquet(work / "run" / "objects.parquet")
    truth = pd.read_csv(work / "sim" / "truth.csv")
    truth = truth[truth["kind"].isin(EXTENDED_KINDS) & truth["in_image"].astype(bool)]
    fwhm = survey_beam_px(work)
    joined = objects[objects["source_components"].fillna(1) > 1]
    points = {field: [(i, key_points(row)) for i, row in group.iterrows()] for field, group in truth.groupby("field")}
    rows, giants_joined = [], set()
    for (field, _), members in joined.groupby(["field", "source_id"]):
        kind, source = classify(member_sources(members, points.get(field, []), fwhm), truth["kind"])
        if kind == "one grg":
            giants_joined.add(source)
        rows.append(
            dict(
                survey=work.name,
                field=field,
                kind=kind,
                extent_beams=float(members["source_extent_beams"].max()),
                chance=float(members["association_chance"].max()),
                giant_evidence=float(members["giant_evidence"].max()) if "giant_evidence" in members else 0.0,
                bridge_snr=float(members[BRIDGE_SNR].max()) if BRIDGE_SNR in members else np.nan,
            )
        )
    giants = int((truth["kind"] == "grg").sum())
    print(f"{work.name}: {len(rows)} joined doubles, {len(giants_joined)} of {giants} giants joined as one", flush=True)
    return pd.DataFrame(rows), giants, len(giants_joined)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the work folder peculiar_vs_artefacts.py --out wrote")
    p.add_argument("--surveys", default="1:3,2:4,3:6", help="SEED:ARTEFACT_STRENGTH,... as given to it")
    args = p.parse_args()
    header("joined doubles against the simulated truth (issue 24)")
    parts, giants, joined = [], 0, 0
    for seed, strength in parse_surveys(args.surveys):
        table, g, j = one_survey(args.out / f"s{seed}_{strength:g}")
        parts.append(table)
        giants, joined = giants + g, joined + j
    doubles = pd.concat(parts, ignore_index=True)
    summary = doubles.groupby("kind").agg(
        doubles=("kind", "size"),
        extent_beams=("extent_beams", "median"),
        chance=("chance", "median"),
        giant_evidence=("giant_evidence", "median"),
        bridge_snr=("bridge_snr", "median"),
        bridged=("bridge_snr", lambda v: int((v >= MorphConfig().bridge_snr).sum())),
        **{f"evidence_ge_{line:g}": ("giant_evidence", lambda v, line=line: int((v >= line).sum())) for line in LINES},
    )
    pd.set_option("display.width", 200)
    print("\njoined doubles by what they are (medians; counts of giant evidence at or above each line):")
    print(summary.sort_values("doubles", ascending=False).to_string(float_format=lambda v: f"{v:.3g}"))
    for line in LINES:
        high = doubles[doubles["giant_evidence"] >= line]
        print(
            f"giant evidence >= {line:g}: {len(high)} doubles, {int((high['kind'] == 'one grg').sum())} of them one giant"
        )
    print(f"simulated giants joined as one double: {joined} of {giants}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
