"""Labels of a stamp collection: from a CSV (``file,label``) or a regular expression on each file's path.

A label that names no stamp, or a stamp without a label, is a warning in the ingest report, not an error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from radioexplore.ingest.report import IngestReport
from radioexplore.ingest.stamp_files import StampError


def read_labels_csv(path: str | Path) -> dict[str, str]:
    """``file -> label`` from a CSV with columns ``file`` and ``label``."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except Exception as exc:
        raise StampError(f"{path}: cannot read the labels table as CSV ({exc})") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    if not {"file", "label"} <= set(table.columns):
        raise StampError(f"{path}: a labels table needs columns file,label; found {', '.join(table.columns)}")
    empty = table.index[table["file"].str.strip() == ""]
    if len(empty):
        raise StampError(f"{path}: row {int(empty[0]) + 2} has no file name")
    return dict(zip(table["file"].str.strip(), table["label"].str.strip(), strict=True))


def stamp_labels(
    files: list[Path], folder: Path, labels_csv: str | None, pattern: str | None, report: IngestReport
) -> list[str | None]:
    """A label per stamp (None where there is none), from a CSV or a file-name pattern."""
    if labels_csv and pattern:
        raise StampError("give either a labels CSV or a label pattern, not both")
    rel = [f.relative_to(folder).as_posix() for f in files]
    if pattern:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise StampError(f"label pattern {pattern!r} is not a regular expression ({exc})") from exc
        if regex.groups < 1:
            raise StampError(f"label pattern {pattern!r} needs one group, e.g. '^(FRI|FRII)_' , to capture the label")
        out = []
        for r in rel:
            m = regex.search(r)
            out.append(m.group(1) if m else None)
        missing = [r for r, lab in zip(rel, out, strict=True) if lab is None]
        if missing:
            report.warnings.append(
                f"label pattern {pattern!r} matched no label in {len(missing)} file(s), e.g. {missing[0]}"
            )
        return out
    if not labels_csv:
        return [None] * len(files)
    table = read_labels_csv(labels_csv)
    out, used = [], set()
    for f, r in zip(files, rel, strict=True):
        key = next((k for k in (r, f.name, f.stem) if k in table), None)
        out.append(table[key] if key is not None else None)
        used.add(key)
    unused = [k for k in table if k not in used]
    if unused:
        report.warnings.append(f"{labels_csv}: {len(unused)} label(s) name no stamp in the folder, e.g. {unused[0]}")
    unlabelled = [r for r, lab in zip(rel, out, strict=True) if lab is None]
    if unlabelled:
        report.warnings.append(f"{len(unlabelled)} stamp(s) have no label in {labels_csv}, e.g. {unlabelled[0]}")
    return out
