"""Source catalogues (PyBDSF format, FITS or CSV) and per-tile compact-source counts.

MGCLS (Knowles et al. 2022) excludes multi-Gaussian sources (``S_Code == 'M'``) from its compact
catalogue; seed 000 (sec. 2.3) counts catalogue sources per crop as its noisy source-count label.
PyBDSF's ``write_catalog(format='csv')`` puts a few ``#`` comment lines first and the column
names in a ``#``-prefixed line too; FITS source lists carry units in the column headers.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.table import Table

from radioexplore.io.fits import FitsImage
from radioexplore.run.atomic import atomic_path
from radioexplore.run.tiling import TileBox

_RA_NAMES = ("RA", "ra", "RA_deg", "ra_deg", "RAJ2000", "RA_J2000", "RA_max")
_DEC_NAMES = ("DEC", "dec", "Dec", "DEC_deg", "dec_deg", "DEJ2000", "DEC_J2000", "DEC_max")

#: PyBDSF source-list columns we write, with units (PyBDSF writes many more; readers need few).
PYBDSF_COLUMNS = {
    "Source_id": "",
    "Isl_id": "",
    "RA": "deg",
    "E_RA": "deg",
    "DEC": "deg",
    "E_DEC": "deg",
    "Total_flux": "Jy",
    "E_Total_flux": "Jy",
    "Peak_flux": "Jy/beam",
    "E_Peak_flux": "Jy/beam",
    "Isl_rms": "Jy/beam",
    "S_Code": "",
}


class CatalogError(ValueError):
    """A catalogue that cannot be used; the message names the file and the column."""


def read_catalog(path: str | Path) -> pd.DataFrame:
    """A PyBDSF-style catalogue as a table with ``ra``, ``dec`` (degrees) and ``s_code`` columns.

    Accepts FITS tables (PyBDSF's ``write_catalog(format='fits')``), VOTable and CSV (plain, or as
    PyBDSF writes it, with the column names in a ``#`` comment line); RA/Dec columns may be called
    RA/DEC (PyBDSF), ra/dec, RAJ2000/DEJ2000 and the like. ``Total_flux``, ``Peak_flux``,
    ``Isl_rms``, the shape (``Maj``, ``Min``, ``PA``) and a ``Field`` column are kept (lower-cased) when present.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: no such catalogue file")
    suffix = "".join(path.suffixes).lower()
    try:
        if suffix.endswith((".fits", ".fit", ".fits.gz")):
            df = _table_to_pandas(Table.read(path))
        elif suffix.endswith((".xml", ".vot", ".votable")):
            df = _table_to_pandas(Table.read(path, format="votable"))
        else:
            df = _read_csv(path)
    except CatalogError:
        raise
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
        raise CatalogError(
            f"{path}: row {int(bad[0]) + 1} of the data (and {len(bad) - 1} more) has no numeric RA/Dec "
            f"in columns {ra}/{dec}; RA and Dec must be decimal degrees"
        )
    out["s_code"] = df["S_Code"].astype(str).str.strip() if "S_Code" in df.columns else "S"
    for col in ("Total_flux", "Peak_flux", "Isl_rms", "Maj", "Min", "PA"):  # Maj, Min, PA: degrees (PyBDSF)
        if col in df.columns:
            out[col.lower()] = pd.to_numeric(df[col], errors="coerce")
    if "Field" in df.columns:
        out["field"] = df["Field"].astype(str).str.strip()
    return out


def _table_to_pandas(table: Table) -> pd.DataFrame:
    df = table.to_pandas()
    for col in df.columns:
        if df[col].dtype == object and len(df) and isinstance(df[col].iloc[0], bytes):
            df[col] = df[col].str.decode("utf-8")
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV table, plain or PyBDSF-style (header in the last ``#`` line before the data)."""
    lines = path.read_text(errors="replace").splitlines()
    header_at = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        if "," in stripped:
            header_at = i
    if header_at is None:
        return pd.read_csv(path, comment="#", skipinitialspace=True)
    header = lines[header_at].lstrip("#").strip()
    body = "\n".join(line for line in lines[header_at + 1 :] if line.strip() and not line.lstrip().startswith("#"))
    return pd.read_csv(io.StringIO(header + "\n" + body), skipinitialspace=True)


def write_pybdsf_catalog(catalog: pd.DataFrame, path: str | Path) -> Path:
    """Write a source list as PyBDSF would: FITS (``.fits``) or its commented CSV (anything else).

    ``catalog`` needs ``RA``, ``DEC`` (degrees) and may hold ``Total_flux``, ``Peak_flux``,
    ``Isl_rms``, ``S_Code`` and ``Field``; missing PyBDSF columns are filled (errors with NaN).
    """
    path = Path(path)
    n = len(catalog)
    cols: dict[str, np.ndarray] = {}
    for name in PYBDSF_COLUMNS:
        if name in catalog.columns:
            values = catalog[name].to_numpy()
            cols[name] = values.astype(str) if values.dtype == object else values
        elif name in ("Source_id", "Isl_id"):
            cols[name] = np.arange(n, dtype=np.int64)
        elif name == "S_Code":
            cols[name] = np.full(n, "S")
        else:
            cols[name] = np.full(n, np.nan)
    if "Field" in catalog.columns:
        cols["Field"] = catalog["Field"].to_numpy().astype(str)
    if path.suffix.lower() in (".fits", ".fit"):
        table = Table(cols)
        for name, unit in PYBDSF_COLUMNS.items():
            if unit:
                table[name].unit = unit
        table.meta["COMMENT"] = ["Source list in PyBDSF format (srl)"]
        with atomic_path(path) as tmp:
            table.write(tmp, format="fits")
        return path
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(
                "# PyBDSF Source Catalog\n# Generated by radioexplore in PyBDSF's CSV layout\n# Equinox : 2000.0 \n\n"
            )
            fh.write("# " + ", ".join(cols) + "\n")
            pd.DataFrame(cols).to_csv(fh, index=False, header=False, sep=",", float_format="%.10g")
    return path


def _near_image(cat: pd.DataFrame, image: FitsImage) -> np.ndarray:
    """Sources within the image's half-diagonal (plus a margin) of its centre: a whole survey's
    catalogue is mostly far from any one image, and projections are undefined far from their centre."""
    ra0, dec0 = image.pixel_to_world(np.array([(image.nx - 1) / 2]), np.array([(image.ny - 1) / 2]))
    scale = (image.pixel_arcsec or 3600.0) / 3600.0
    radius = 0.75 * np.hypot(image.nx, image.ny) * scale + 0.01
    ra, dec = np.deg2rad(cat["ra"].to_numpy()), np.deg2rad(cat["dec"].to_numpy())
    r0, d0 = np.deg2rad(ra0[0]), np.deg2rad(dec0[0])
    cos_sep = np.sin(dec) * np.sin(d0) + np.cos(dec) * np.cos(d0) * np.cos(ra - r0)
    return cos_sep >= np.cos(np.deg2rad(min(radius, 90.0)))


def count_in_tiles(
    catalog: pd.DataFrame, image: FitsImage, boxes: list[TileBox], exclude_multi: bool = False
) -> np.ndarray:
    """Number of catalogue sources whose position falls inside each tile of ``image``.

    Sources outside the image or on blanked (NaN) pixels are not counted; a source in the
    overlap of two tiles counts in both, as it is visible in both crops.

    Raises
    ------
    CatalogError
        When the image has no usable WCS, so sky positions cannot be placed on its pixels.
    """
    if image.wcs is None:
        raise CatalogError(f"{image.path}: no usable WCS, so catalogue positions cannot be placed on its pixels")
    cat = catalog[catalog["s_code"] != "M"] if exclude_multi else catalog
    counts = np.zeros(len(boxes), dtype=np.int64)
    if cat.empty:
        return counts
    cat = cat[_near_image(cat, image)]
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
