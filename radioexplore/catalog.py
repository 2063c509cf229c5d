"""Source catalogues (PyBDSF format, FITS or CSV) and per-tile compact-source counts.

MGCLS (Knowles et al. 2022) excludes multi-Gaussian sources (``S_Code == 'M'``) from its compact
catalogue; seed 000 counts catalogue sources per crop as its noisy source-count label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from astropy.table import Table

from radioexplore.fitsio import FitsImage
from radioexplore.tiling import TileBox

_RA_NAMES = ("RA", "ra", "RA_deg", "ra_deg", "RAJ2000", "RA_J2000")
_DEC_NAMES = ("DEC", "dec", "Dec", "DEC_deg", "dec_deg", "DEJ2000", "DEC_J2000")


class CatalogError(ValueError):
    """A catalogue that cannot be used; the message names the file and the column."""


def read_catalog(path: str | Path) -> pd.DataFrame:
    """A PyBDSF-style catalogue as a table with ``ra``, ``dec`` (degrees) and ``s_code`` columns.

    Accepts FITS tables (PyBDSF's ``write_catalog(format='fits')``), VOTable and CSV; RA/Dec
    columns may be called RA/DEC (PyBDSF), ra/dec, RAJ2000/DEJ2000 and the like.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: no such catalogue file")
    suffix = "".join(path.suffixes).lower()
    try:
        if suffix.endswith((".fits", ".fit", ".fits.gz")):
            df = Table.read(path).to_pandas()
        elif suffix.endswith((".xml", ".vot", ".votable")):
            df = Table.read(path, format="votable").to_pandas()
        else:
            df = pd.read_csv(path, comment="#", skipinitialspace=True)
    except Exception as exc:
        raise CatalogError(f"{path}: cannot be read as a FITS, VOTable or CSV table ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    ra = next((c for c in _RA_NAMES if c in df.columns), None)
    dec = next((c for c in _DEC_NAMES if c in df.columns), None)
    if ra is None or dec is None:
        raise CatalogError(
            f"{path}: needs RA and Dec columns in degrees (one of {', '.join(_RA_NAMES)} and one of "
            f"{', '.join(_DEC_NAMES)}); found {', '.join(df.columns[:12])}"
        )
    out = pd.DataFrame({"ra": pd.to_numeric(df[ra], errors="coerce"), "dec": pd.to_numeric(df[dec], errors="coerce")})
    bad = out.index[out["ra"].isna() | out["dec"].isna()]
    if len(bad):
        raise CatalogError(f"{path}: row {int(bad[0]) + 2} (and {len(bad) - 1} more) has no numeric RA/Dec")
    out["s_code"] = df["S_Code"].astype(str).str.strip() if "S_Code" in df.columns else "S"
    for col in ("Total_flux", "Peak_flux", "Isl_rms"):
        if col in df.columns:
            out[col.lower()] = pd.to_numeric(df[col], errors="coerce")
    return out


def count_in_tiles(
    catalog: pd.DataFrame, image: FitsImage, boxes: list[TileBox], exclude_multi: bool = False
) -> np.ndarray:
    """Number of catalogue sources whose position falls inside each tile of ``image``.

    Sources outside the image or on blanked (NaN) pixels are not counted; a source in the
    overlap of two tiles counts in both, as it is visible in both crops.
    """
    cat = catalog[catalog["s_code"] != "M"] if exclude_multi else catalog
    counts = np.zeros(len(boxes), dtype=np.int64)
    if cat.empty or image.wcs is None:
        return counts
    x, y = image.world_to_pixel(cat["ra"].to_numpy(), cat["dec"].to_numpy())
    keep = np.isfinite(x) & np.isfinite(y) & (x > -0.5) & (x < image.nx - 0.5) & (y > -0.5) & (y < image.ny - 0.5)
    x, y = x[keep], y[keep]
    on_data = np.isfinite(image.values_at(x, y))
    x, y = x[on_data], y[on_data]
    order = np.argsort(x)
    x, y = x[order], y[order]
    for i, b in enumerate(boxes):
        lo, hi = np.searchsorted(x, [b.x0 - 0.5, b.x0 + b.size - 0.5])
        ys = y[lo:hi]
        counts[i] = int(np.count_nonzero((ys >= b.y0 - 0.5) & (ys < b.y0 + b.size - 0.5)))
    return counts
