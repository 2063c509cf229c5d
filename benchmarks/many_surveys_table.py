"""The tables benchmarks/many_surveys.sh wrote, per variant and re-ranker seed: issue 24's figures as mean +- std.

    python benchmarks/many_surveys_table.py WORK [--strong 1]

Per (variant, seed): surveys, peculiar tiles found in 50 labels (sum, and the mean share +- std over surveys), ARTEFACT
tiles queued in rounds 2-5 (mean +- std), the unlabelled top 50's peculiar tiles, found per kind, and over the surveys
of artefact strength above ``--strong`` the recall of the top 5% with and without the artefact axis.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def summary(tables: pd.DataFrame, strong: float) -> pd.DataFrame:
    """One row per (variant, seed) of the per-survey rows ``tables`` (peculiar_vs_artefacts.py's ``--table``)."""
    rows = []
    for (variant, seed), t in tables.groupby(["variant", "seed_rerank"], sort=True):
        s = t[t["strength"] > strong]
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                "surveys": len(t),
                "found": f"{int(t['found_in_50'].sum())} / {int(t['peculiar'].sum())}",
                "share": f"{t['found_share'].mean():.3f} +- {t['found_share'].std():.3f}",
                "artefacts_2_5": f"{t['artefacts_rounds_2_5'].mean():.2f} +- {t['artefacts_rounds_2_5'].std():.2f}",
                "top50": int(t["found_top50_unlabelled"].sum()),
                **{k: f"{int(t[f'found_{k}'].sum())} / {int(t[f'peculiar_{k}'].sum())}" for k in ("grg", "orc", "xrg")},
                "recall": f"{s['recall_default'].mean():.3f} +- {s['recall_default'].std():.3f}",
                "no_axis": f"{s['recall_no_axis'].mean():.3f} +- {s['recall_no_axis'].std():.3f}",
            }
        )
    return pd.DataFrame(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("work", type=Path, help="the WORK folder many_surveys.sh was given")
    p.add_argument("--strong", type=float, default=1.0, help="surveys of artefact strength above this count for recall")
    args = p.parse_args()
    files = sorted((args.work / "tables").glob("*.csv"))
    if not files:
        raise SystemExit(f"no tables in {args.work / 'tables'}: run benchmarks/many_surveys.sh first")
    parts = []
    for f in files:
        variant, seed, _ = f.stem.rsplit("_", 2)
        parts.append(pd.read_csv(f).assign(variant=variant, seed_rerank=int(seed)))
    pd.set_option("display.width", 250)
    print(summary(pd.concat(parts, ignore_index=True), args.strong).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
