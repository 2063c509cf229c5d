"""Unlabelled FIRST-like stamps for pre-training a network that never sees FR-DEEP (issue 21).

    python pipelines/frdeep_free_stamps.py --out runs/pt_png --n-sim 3000 --seed 100
    radioexplore ingest --stamps runs/pt_png --tile 150 --run runs/pt_run

writes ``--n-sim`` simulated FR I / FR II objects (``radioexplore.simulation.cutouts``: FIRST beam,
noise and pixels) prepared as FR-DEEP prepares its stamps (central 150 px, background below 3 sigma
set to 0, min-max to 8 bit; their labels are drawn and thrown away), plus every 150 px window
(stride 75) of the SCORPIO and LoTSS images in ``--realdata`` that holds a 5 sigma pixel, prepared
alike. ``frdeep.npz`` is never read, so FR-DEEP stays an evaluation set only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from PIL import Image

from radioexplore.assets import REALDATA_ENV, realdata_dir
from radioexplore.simulation.cutouts import CutoutConfig, clean_stamp, raw_cutout


def clipped_windows(image: np.ndarray, side: int = 150, stride: int = 75, clip: float = 3.0) -> list[np.ndarray]:
    """8-bit windows of ``image`` scaled as FR-DEEP's stamps; windows mostly blank or without a 5 sigma pixel are skipped."""
    _, med, std = sigma_clipped_stats(image[np.isfinite(image)], sigma=3.0, maxiters=10)
    lo = med + clip * std
    out = []
    for y in range(0, image.shape[0] - side + 1, stride):
        for x in range(0, image.shape[1] - side + 1, stride):
            crop = np.nan_to_num(image[y : y + side, x : x + side], nan=-np.inf)
            if np.isinf(crop).mean() > 0.5 or crop.max() < lo + 2 * std:
                continue
            hi = max(float(crop.max()), lo + std)
            out.append(np.round(np.clip((crop - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG stamps (created)")
    p.add_argument("--n-sim", type=int, default=3000, help="simulated objects (default 3000)")
    p.add_argument("--seed", type=int, default=100)
    p.add_argument(
        "--size-px",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        default=None,
        help="draw each object's largest extent log-uniformly in [LO, HI] px (default: the simulator's "
        "uniform 40-130 px; FR-DEEP's objects are smaller: 10 130 matches their flux radii)",
    )
    p.add_argument(
        "--realdata",
        type=Path,
        default=realdata_dir(),
        help=f"folder with scorpio/ and lotss/ (default: ${REALDATA_ENV})",
    )
    args = p.parse_args(argv)
    if args.realdata is None:
        print(f"error: give --realdata FOLDER (scorpio/, lotss/) or set {REALDATA_ENV}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    config = CutoutConfig()
    for i in range(args.n_sim):
        kind = ("FRI", "FRII")[int(rng.integers(2))]  # drawn and thrown away: no label leaves this loop
        one = config
        if args.size_px is not None:
            size = float(np.exp(rng.uniform(*np.log(args.size_px))))
            one = replace(config, size_px=(size, size))
        Image.fromarray(clean_stamp(raw_cutout(kind, rng, one), one)[::-1]).save(args.out / f"sim{i:05d}.png")
    n_real = 0
    files = sorted((args.realdata / "scorpio").glob("*.fits")) + sorted((args.realdata / "lotss").glob("P*.fits"))
    for f in files:
        for j, window in enumerate(clipped_windows(np.squeeze(fits.getdata(f)).astype(np.float64))):
            Image.fromarray(window[::-1]).save(args.out / f"real_{f.stem}_{j:04d}.png")
            n_real += 1
    print(f"wrote {args.n_sim} simulated and {n_real} real stamps to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
