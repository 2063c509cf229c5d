"""A made-up ``RUN/segments/`` folder as ``radioexplore segment`` writes it (issue 22): one probability
map per field on the field's own grid and WCS (a round blob centred on one tile), the per-tile
columns, and ``segment.json``. For the app's tests, which do not need the U-Net itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from radioexplore.io.fits import read_image
from radioexplore.run.rundir import RunDir

THRESHOLD = 0.4
R_THRESHOLD = 0.02


def copy_run(run: RunDir, root: Path) -> RunDir:
    """A copy of ``run`` at ``root`` with an empty label store (tests write into it)."""
    shutil.copytree(run.root, root, ignore=shutil.ignore_patterns("labels.sqlite*", "backups", "segments"))
    return RunDir(root)


def blob(shape: tuple[int, int], x: float, y: float, sigma: float) -> np.ndarray:
    """A Gaussian probability bump of peak 0.9 at pixel (x, y) (0-based, x along columns)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (0.9 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))).astype(np.float32)


def write_segments(run: RunDir, blob_tile: int = 5, sigma: float = 20.0) -> dict[str, np.ndarray]:
    """Write ``run/segments/``: a blob centred on ``blob_tile`` in its field, zero elsewhere; returns the maps."""
    tiles = run.read_tiles()
    seg = run.root / "segments"
    seg.mkdir(exist_ok=True)
    centre = tiles.iloc[blob_tile]
    maps: dict[str, np.ndarray] = {}
    for field, field_tiles in tiles.groupby("field"):
        image = read_image(field_tiles["file"].iloc[0])
        prob = np.zeros(image.shape, dtype=np.float32)
        if field == centre["field"]:
            size = int(centre["size"])
            prob = blob(image.shape, centre["x0"] + size / 2, centre["y0"] + size / 2, sigma)
        header = image.wcs.to_header()
        header["BUNIT"] = ""
        fits.PrimaryHDU(prob, header=header).writeto(seg / f"{field}.fits", overwrite=True)
        maps[str(field)] = prob
    rows = []
    for t in tiles.itertuples():
        box = maps[str(t.field)][t.y0 : t.y0 + t.size, t.x0 : t.x0 + t.size]
        rows.append((int(t.tile_id), float(box.mean()), float((box >= THRESHOLD).mean())))
    table = pd.DataFrame(rows, columns=["tile_id", "diffuse_mean", "diffuse_area"])
    table.sample(frac=1.0, random_state=0).to_parquet(seg / "tiles.parquet")  # rows in any order
    meta = {"model": "unet-test", "threshold": THRESHOLD, "r_threshold": R_THRESHOLD, "provenance": {}}
    (seg / "segment.json").write_text(json.dumps(meta))
    return maps
