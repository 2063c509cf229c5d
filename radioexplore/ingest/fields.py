"""What a field's file name, header and field table say about it: its name and its DQF.

The DQF comes from a field table (CSV) when one is given, else from the header's ``DQF``; a
value outside MGCLS's 0-3 is reported and left empty.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from radioexplore.ingest.report import IngestReport
from radioexplore.io.fits import FitsImage


def field_name(image: FitsImage) -> str:
    """A field's name: its file name without the extension (``.fits``, ``.fits.gz``, ...)."""
    name = image.path.name
    for suffix in (".gz", ".bz2", ".fz"):
        name = name.removesuffix(suffix)
    return Path(name).stem


def read_field_table(path: str | Path) -> dict[str, int]:
    """DQF per field from a CSV with columns ``field`` (or ``file``) and ``dqf``.

    Keys are field names (file stems) and file names, so a table may name fields either way.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, comment="#", skipinitialspace=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read the field table as CSV ({exc})") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    keys = [c for c in ("field", "file") if c in table.columns]
    if "dqf" not in table.columns or not keys:
        raise ValueError(
            f"{path}: a field table needs a dqf column and a field or file column; found {list(table.columns)}"
        )
    dqf = pd.to_numeric(table["dqf"], errors="coerce")
    bad = table.index[dqf.isna() | ~dqf.isin([0, 1, 2, 3])]
    if len(bad):
        raise ValueError(
            f"{path}: row {int(bad[0]) + 2}: dqf must be 0, 1, 2 or 3 (MGCLS convention); got {table['dqf'].iloc[bad[0]]!r}"
        )
    out: dict[str, int] = {}
    for key in keys:
        for name, value in zip(table[key].astype(str).str.strip(), dqf.astype(int), strict=True):
            out[name] = value
            out[Path(name).name] = value
            out[Path(name).stem] = value
    return out


def field_dqf(image: FitsImage, table: dict[str, int], report: IngestReport) -> int | None:
    """The DQF of ``image``: from ``table`` (by field or file name), else its header; warnings into ``report``."""
    name = field_name(image)
    for key in (name, image.path.name):
        if key in table:
            return table[key]
    value = image.header.get("DQF")
    if table:
        report.warnings.append(f"{image.path.name}: not in the field table; DQF from its header ({value})")
    if value is None:
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        report.warnings.append(f"{image.path.name}: header DQF {value!r} is not 0-3; left empty")
        return None
    if value not in (0, 1, 2, 3):
        report.warnings.append(f"{image.path.name}: header DQF {value} is not 0-3; left empty")
        return None
    return value
