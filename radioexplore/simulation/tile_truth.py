"""Truth per tile of a simulated survey: thermal noise, detectable sources, kinds present, artefact dominance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.instrument import primary_beam_at
from radioexplore.simulation.kinds import EXTENDED_KINDS, PECULIAR_KINDS

#: A tile is artefact-dominated when an artefact in it reaches this many times the local thermal noise.
ARTEFACT_TRUTH_SIGMA = 5.0


def _key_points(obj: pd.Series) -> np.ndarray:
    text = obj["points"] if isinstance(obj["points"], str) else ""
    if not text:
        return np.array([[obj["x"], obj["y"]]])
    return np.array([[float(v) for v in p.split(":")] for p in text.split(";")])


def tile_truth(sim_dir: str | Path, tiles: pd.DataFrame, detection_snr: float = 5.0) -> pd.DataFrame:
    """Truth columns per tile from a simulation directory, aligned with ``tiles`` rows.

    ``truth_noise``: the thermal rms of the tile (Jy/beam), sigma_centre / PB, as the median over
    the tile's unblanked pixels (for a tile inside the primary beam this is the value at its centre
    to within a few per cent; for a tile cut by the blanking edge it is the noise of what is
    imaged, not of the blank centre); ``truth_n_sources``: compact sources above ``detection_snr``
    inside the tile; ``truth_kinds``: the non-compact kinds with a key point (core, hotspot, lobe,
    arc end) inside the tile, comma-separated; ``truth_extended`` and ``truth_peculiar`` as booleans.
    The artefact truth is :func:`tile_artefact_truth`.
    """
    sim = SimulationDir(sim_dir)
    objs = pd.read_csv(sim.truth, keep_default_na=True)
    fields = pd.read_csv(sim.fields).set_index("field")
    config = pd.read_json(sim.config, typ="series")
    size = int(config["size_px"])
    pb_fwhm = float(config["pb_fwhm_frac"]) * size
    cutoff = float(config.get("pb_cutoff", 0.2))
    compact = objs[objs["kind"] == "compact"]
    compact_by_field = {k: g for k, g in compact[compact["in_image"].astype(bool)].groupby("field")}
    ext = objs[objs["kind"] != "compact"]
    points_by_field: dict[str, list[tuple[str, np.ndarray]]] = {}
    for _, o in ext.iterrows():
        points_by_field.setdefault(o["field"], []).append((o["kind"], _key_points(o)))
    noise, counts, kinds = [], [], []
    for _, t in tiles.iterrows():
        name = t["field"]
        x0, y0, s = float(t["x0"]), float(t["y0"]), float(t["size"])
        noise.append(_tile_thermal_noise(fields, name, x0, y0, int(s), size, pb_fwhm, cutoff))
        g = compact_by_field.get(name)
        if g is None:
            counts.append(0)
        else:
            inside = (g["x"] >= x0 - 0.5) & (g["x"] < x0 + s - 0.5) & (g["y"] >= y0 - 0.5) & (g["y"] < y0 + s - 0.5)
            counts.append(int((inside & (g["snr"] >= detection_snr)).sum()))
        here = set()
        for kind, pts in points_by_field.get(name, []):
            px, py = pts[:, 0], pts[:, 1]
            inside = (px >= x0 - 0.5) & (px < x0 + s - 0.5) & (py >= y0 - 0.5) & (py < y0 + s - 0.5)
            on_image = primary_beam_at(px, py, size, pb_fwhm) >= cutoff
            on_image &= (px > -0.5) & (px < size - 0.5) & (py > -0.5) & (py < size - 0.5)
            if np.any(inside & on_image):
                here.add(kind)
        kinds.append(",".join(sorted(here)))
    out = pd.DataFrame(index=tiles.index)
    out["truth_noise"] = noise
    out["truth_n_sources"] = counts
    out["truth_kinds"] = kinds
    kind_sets = [set(k.split(",")) - {""} for k in kinds]
    out["truth_extended"] = [bool(k & EXTENDED_KINDS) for k in kind_sets]
    out["truth_peculiar"] = [bool(k & PECULIAR_KINDS) for k in kind_sets]
    return out


def tile_artefact_truth(sim_dir: str | Path, tiles: pd.DataFrame) -> pd.DataFrame:
    """Which tiles an imaging artefact dominates, aligned with ``tiles`` rows (field, x0, y0, size).

    ``truth_artefact_sigma``: the largest artefact amplitude (crest or trough) in the tile in units
    of the local thermal noise, from ``artefacts.npz`` on blocks of :data:`~radioexplore.simulation.artefacts.ARTEFACT_BLOCK` px (a box
    not on block edges reads up to a block beyond it; NaN for a simulation without that file, made
    by an older version); ``truth_artefact``: whether it reaches :data:`ARTEFACT_TRUTH_SIGMA`.
    """
    path = SimulationDir(sim_dir).artefacts
    sigma = np.full(len(tiles), np.nan)
    out = pd.DataFrame(index=tiles.index)
    out["truth_artefact_sigma"] = sigma
    out["truth_artefact"] = False
    if not path.is_file():
        return out
    with np.load(path) as maps:
        block = int(maps["_block_px"])
        blocks = {k: maps[k].astype(np.float32) for k in maps.files if k != "_block_px"}
    for i, (name, x0, y0, s) in enumerate(zip(tiles["field"], tiles["x0"], tiles["y0"], tiles["size"], strict=True)):
        m = blocks.get(name)
        if m is None:
            continue
        bx0, by0 = max(int(x0) // block, 0), max(int(y0) // block, 0)
        bx1, by1 = -(-(int(x0) + int(s)) // block), -(-(int(y0) + int(s)) // block)
        part = m[by0:by1, bx0:bx1]
        sigma[i] = float(part.max()) if part.size else 0.0
    out["truth_artefact_sigma"] = sigma
    out["truth_artefact"] = sigma >= ARTEFACT_TRUTH_SIGMA
    return out


def _tile_thermal_noise(
    fields: pd.DataFrame, name: str, x0: float, y0: float, s: int, size: int, pb_fwhm: float, cutoff: float
) -> float:
    """Median over the tile's unblanked pixels (on a 4-px sub-grid) of the thermal rms sigma_c / PB."""
    if name not in fields.index:
        return float("nan")
    step = max(1, s // 64)
    xs = np.arange(x0, x0 + s, step)
    ys = np.arange(y0, y0 + s, step)
    xx, yy = np.meshgrid(xs, ys)
    inside = (xx >= 0) & (xx < size) & (yy >= 0) & (yy < size)
    pb = primary_beam_at(xx[inside], yy[inside], size, pb_fwhm)
    pb = pb[pb >= cutoff]
    if pb.size == 0:
        return float("nan")
    return float(fields.loc[name, "noise_ujy"]) * 1e-6 / float(np.median(pb))
