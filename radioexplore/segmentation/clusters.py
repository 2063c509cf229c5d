"""Cluster scores of seed 004: the detection ratio R = sum of probability / number of pixels in an aperture.

Seed 004 scores each PSZ2 cluster by R over a region 2 R500 across and calls it detected at
R >= 0.015 (73% accuracy, 72% precision, 17% false negatives on 246 LoTSS-DR2 clusters). We use a
circular aperture of radius ``aperture_r500`` x R500 (default 1, so 2 R500 across) and count only
imaged pixels (blanks beyond the primary beam are neither probability nor pixels).

:func:`region_ratio` (``SegmentConfig.region_reach``, default :data:`REGION_REACH`) also counts the mask regions that
touch the aperture over their pixels outside it, out to 1.5 R500: a radio relic lies at the cluster's periphery,
~0.5-1.5 R500 from the centre (van Weeren et al. 2019, Space Sci. Rev. 215, 16), so a relic that belongs to the
cluster can hold only a few beams within R500 and never reach R = 0.015 there, however well it is segmented. On
held-out simulated skies 201-234 it cut the missed clusters from 29 to 20 of 342, accuracy 0.874 -> 0.881
(benchmarks/README.md, issue 22, branch cluster-fn). R is then no longer bounded by 1 (at most reach squared).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import label

#: Seed 004: a cluster is detected when R >= 0.015.
R_THRESHOLD = 0.015

#: R also counts the mask regions touching the aperture out to this many aperture radii (relics, 0.5-1.5 R500).
REGION_REACH = 1.5

#: Columns of a cluster table that say whether a cluster has diffuse emission; carried into clusters.parquet.
TRUTH_COLUMNS = ("truth", "diffuse")

_ALIASES = {
    "ra": ("ra", "ra_deg", "raj2000", "_raj2000", "ra_icrs"),
    "dec": ("dec", "dec_deg", "dej2000", "_dej2000", "de_icrs", "decj2000"),
    "name": ("name", "cluster", "id", "source_name"),
    "r500": ("r500", "r500_arcmin", "theta500", "theta500_arcmin"),
    "radius": ("radius", "radius_arcmin", "aperture_arcmin"),
    "r_pix": ("r_pix", "radius_pix", "r500_pix", "r500_px"),
}


def read_cluster_table(path: str | Path) -> pd.DataFrame:
    """Clusters from CSV, FITS or VOTable: columns name, ra, dec (degrees) and one of r500 / radius (arcmin) or r_pix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cluster table {path} does not exist; give a CSV, FITS or VOTable file")
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        table = pd.read_csv(path, sep=None, engine="python")
    else:
        from astropy.table import Table

        try:
            table = Table.read(path).to_pandas()
        except Exception as exc:
            raise ValueError(f"{path}: cannot read it as FITS or VOTable ({exc}); give a CSV, FITS or VOTable") from exc
    lower = {str(c).strip().lower(): c for c in table.columns}
    out = pd.DataFrame(index=range(len(table)))
    for key, names in _ALIASES.items():
        found = next((lower[n] for n in names if n in lower), None)
        if found is not None:
            out[key] = table[found].to_numpy()
    if "ra" not in out or "dec" not in out:
        raise ValueError(f"{path}: a cluster table needs ra and dec columns in degrees; found {list(table.columns)}")
    if not any(k in out for k in ("r500", "radius", "r_pix")):
        raise ValueError(
            f"{path}: give each cluster's aperture as r500 (arcmin), radius (arcmin) or r_pix (pixels); "
            f"found {list(table.columns)}"
        )
    for col in TRUTH_COLUMNS:
        if col in lower:
            out[col] = table[lower[col]].astype(bool).to_numpy()
    if "name" not in out:
        out["name"] = [f"cluster_{i}" for i in range(len(out))]
    out["name"] = out["name"].astype(str).str.strip()
    for col in ("ra", "dec", "r500", "radius", "r_pix"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def aperture_pixels(row: pd.Series, pixel_arcsec: float | None, aperture_r500: float = 1.0) -> float:
    """The aperture radius in pixels of one cluster row: r_pix as given, else radius or aperture_r500 x R500 (arcmin)."""
    if "r_pix" in row and np.isfinite(row["r_pix"]):
        return float(row["r_pix"])
    if pixel_arcsec is None or not pixel_arcsec > 0:
        raise ValueError("the image has no pixel scale, so an aperture in arcmin cannot be placed; give r_pix")
    if "radius" in row and np.isfinite(row["radius"]):
        return float(row["radius"]) * 60.0 / pixel_arcsec
    if "r500" in row and np.isfinite(row["r500"]):
        return aperture_r500 * float(row["r500"]) * 60.0 / pixel_arcsec
    return float("nan")


def detection_ratio(prob: np.ndarray, x: float, y: float, r_pix: float) -> tuple[float, int]:
    """R = sum of probability / number of imaged pixels within ``r_pix`` of (x, y); NaN pixels are blanks.

    Returns (R, pixels counted); (NaN, 0) when the aperture holds no imaged pixel.
    """
    ny, nx = prob.shape
    x0, x1 = max(int(np.floor(x - r_pix)), 0), min(int(np.ceil(x + r_pix)) + 1, nx)
    y0, y1 = max(int(np.floor(y - r_pix)), 0), min(int(np.ceil(y + r_pix)) + 1, ny)
    if x1 <= x0 or y1 <= y0 or not np.isfinite(r_pix):
        return float("nan"), 0
    yy, xx = np.ogrid[y0:y1, x0:x1]
    disk = (xx - x) ** 2 + (yy - y) ** 2 <= r_pix**2
    values = np.asarray(prob[y0:y1, x0:x1])[disk]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), 0
    return float(values.sum() / values.size), int(values.size)


def region_ratio(
    prob: np.ndarray, x: float, y: float, r_pix: float, threshold: float, reach: float
) -> tuple[float, int]:
    """R of :func:`detection_ratio` plus, in its numerator, the probability of the regions above ``threshold`` that
    touch the aperture, over their pixels outside it within ``reach`` x ``r_pix`` of (x, y).

    The denominator stays the aperture's imaged pixels, so emission within the aperture scores as before and the
    option only adds a touching region's outer part (a peripheral relic's body). Regions are connected within the
    ``reach`` box. Returns (R, aperture pixels counted); (NaN, 0) when the aperture holds no imaged pixel.
    """
    if not reach >= 1.0:
        raise ValueError(f"reach is in aperture radii and must be >= 1 (1: the aperture alone); got {reach}")
    ratio, n_pix = detection_ratio(prob, x, y, r_pix)
    if n_pix == 0:
        return ratio, n_pix
    ny, nx = prob.shape
    outer = reach * r_pix
    x0, x1 = max(int(np.floor(x - outer)), 0), min(int(np.ceil(x + outer)) + 1, nx)
    y0, y1 = max(int(np.floor(y - outer)), 0), min(int(np.ceil(y + outer)) + 1, ny)
    values = np.nan_to_num(np.asarray(prob[y0:y1, x0:x1], dtype=float), nan=0.0)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    d2 = (xx - x) ** 2 + (yy - y) ** 2
    inside, within = d2 <= r_pix**2, d2 <= outer**2
    regions, n = label(values > threshold)
    if n == 0:
        return ratio, n_pix
    touching = np.zeros(n + 1, bool)
    touching[np.unique(regions[inside])] = True
    touching[0] = False
    extra = values[touching[regions] & within & ~inside].sum()
    return float(ratio + extra / n_pix), n_pix
