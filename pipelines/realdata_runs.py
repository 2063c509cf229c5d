"""Build the real-image runs that join pre-training (issue 10): FR-DEEP stamps and SCORPIO tiles.

    python pipelines/realdata_runs.py --realdata REALDATA --out runs/real   # or set $RADIOEXPLORE_REALDATA

writes ``OUT/frdeep_train/`` (the FIRST and NVSS stamps of FR-DEEP's *training* split as PNG files,
ingested with ``radioexplore ingest --stamps``; the test split is left out so that ``evaluate``'s
train -> test figure never sees a test image, and labels are not attached: pre-training never uses
them) and ``OUT/scorpio/`` (the three ATCA SCORPIO images tiled at 256 px). Pass both to
``radioexplore pretrain --also-run OUT/frdeep_train --also-run OUT/scorpio``.

With ``--labelled`` it also writes every FIRST stamp as ``OUT/frdeep_first_png/{FRI,FRII}/NNNN.png``
and ingests them with ``--label-pattern`` into ``OUT/frdeep_first/``: a labelled stamps run to
colour the map by class, probe in the app, or ``radioexplore evaluate --run``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from radioexplore.assets import REALDATA_ENV, realdata_dir
from radioexplore.cli import main as radioexplore


def write_frdeep_pngs(
    npz: Path,
    out: Path,
    include_test: bool = False,
    by_label: bool = False,
    surveys: tuple[str, ...] = ("first", "nvss"),
) -> int:
    """Write FR-DEEP's stamps as ``out/{first,nvss}/NNNN.png``, or with ``by_label`` (one survey)
    as ``out/LABEL/NNNN.png``; returns how many were written."""
    if by_label and len(surveys) != 1:
        raise ValueError(f"by_label writes one survey's stamps (their numbers would collide), got {surveys}")
    n = 0
    with np.load(npz, allow_pickle=False) as data:
        names = [str(v) for v in data["label_names"]] if "label_names" in data.files else None
        for survey in surveys:
            if f"x_{survey}" not in data.files:
                continue
            images = data[f"x_{survey}"]
            keep = np.ones(len(images), bool)
            if not include_test and f"is_test_{survey}" in data.files:
                keep = ~data[f"is_test_{survey}"].astype(bool)
            labels = data[f"y_{survey}"]
            for i in np.flatnonzero(keep):
                folder = out / (str(names[labels[i]] if names else labels[i]) if by_label else survey)
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.asarray(images[i], dtype=np.uint8)).save(folder / f"{i:04d}.png")
                n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--realdata", type=Path, default=realdata_dir(), help=f"real-data folder (default: ${REALDATA_ENV})")
    p.add_argument("--out", type=Path, required=True, help="folder for the runs (created)")
    p.add_argument("--labelled", action="store_true", help="also build a labelled FR-DEEP FIRST stamps run")
    args = p.parse_args(argv)
    if args.realdata is None:
        print(f"error: give --realdata FOLDER (frdeep.npz, scorpio/) or set {REALDATA_ENV}", file=sys.stderr)
        return 2
    npz = args.realdata / "frdeep.npz"
    scorpio = sorted((args.realdata / "scorpio").glob("*.fits"))
    if not npz.is_file() or not scorpio:
        print(
            f"error: {args.realdata} lacks frdeep.npz or scorpio/*.fits (README, 'Real data')",
            file=sys.stderr,
        )
        return 2
    pngs = args.out / "frdeep_png"
    n = write_frdeep_pngs(npz, pngs)
    print(f"wrote {n} FR-DEEP training-split stamps to {pngs}")
    # FR-DEEP stamps are 150 px: keep them whole, one tile each
    rc = radioexplore(["-q", "ingest", "--stamps", str(pngs), "--tile", "150", "--run", str(args.out / "frdeep_train")])
    rc = rc or radioexplore(["-q", "ingest", "--run", str(args.out / "scorpio"), *map(str, scorpio)])
    if args.labelled and not rc:
        first = args.out / "frdeep_first_png"
        n = write_frdeep_pngs(npz, first, include_test=True, by_label=True, surveys=("first",))
        print(f"wrote {n} labelled FR-DEEP FIRST stamps to {first}")
        pattern = "^(FRI|FRII)/"
        rc = radioexplore(
            [
                "-q",
                "ingest",
                "--stamps",
                str(first),
                "--tile",
                "150",
                "--label-pattern",
                pattern,
                "--run",
                str(args.out / "frdeep_first"),
            ]
        )
    return rc


if __name__ == "__main__":
    sys.exit(main())
