"""Label events out to a CSV file and back in: every event or the current labels; an import adds no duplicates."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from radioexplore.run.atomic import atomic_path
from radioexplore.run.labels.reading import LabelReading
from radioexplore.run.labels.schema import insert_event
from radioexplore.run.labels.values import SEPARATOR, LabelError, check_time, utc_now
from radioexplore.run.labels.writing import LabelWriting


@dataclass
class ImportReport:
    """What :meth:`LabelStore.import_csv` did: event ids added, and each refused row with the reason."""

    added: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, why)

    def summary(self, source: str = "") -> str:
        """One line for the events added, then one a refused line with its reason."""
        lines = [f"imported {len(self.added)} event(s){' from ' + source if source else ''}"]
        lines += [f"  refused line {line}: {why}" for line, why in self.refused]
        return "\n".join(lines)


class LabelCsv(LabelWriting, LabelReading):
    """Label events out to a CSV file and back in, so labels move between runs, people and tools."""

    def export_csv(self, path: str | os.PathLike[str], what: str = "events") -> Path:
        """Write every event (``what="events"``, with ``active``) or the current state (``"current"``)."""
        if what == "events":
            df = self.events()
        elif what == "current":
            df = self.current()
        else:
            raise ValueError(f"what must be 'events' or 'current', not {what!r}")
        df = df.copy()
        for col in ("labels", "tags"):
            df[col] = df[col].map(SEPARATOR.join)
        path = Path(path)
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
        return path

    def import_csv(self, path: str | os.PathLike[str], who: str | None = None) -> ImportReport:
        """Append the events of a CSV written by :meth:`export_csv` (either kind) or by hand.

        Needs a ``tile_id`` column; ``labels``, ``interest``, ``tags``, ``note``, ``who``, ``at``,
        ``session``, ``kind``, ``event_id`` and ``target`` are optional. Rows are appended as new
        events (new ids) in one transaction; ``who`` fills empty annotator cells. A row is refused,
        with its line number and the reason, when a value is invalid, when it is identical to an
        event already stored (so importing a file twice adds nothing), or when it is an undo whose
        target is not an earlier row of the same file. Retracted rows of an events export
        (``active`` False) are imported together with the undo rows that retract them.
        """
        path = Path(path)
        report = ImportReport()
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise LabelError(f"{path}: not a readable CSV file ({exc})") from exc
        if "tile_id" not in table.columns:
            raise LabelError(f"{path}: needs a tile_id column; it has {', '.join(table.columns) or 'no columns'}")
        existing = self.events()
        seen = {_fingerprint(r): int(r.event_id) for r in existing.itertuples(index=False)}
        # source event id -> ("old", id already in the store) or ("new", position in `pending`)
        resolved: dict[str, tuple[str, int]] = {}
        pending: list[tuple] = []
        for i, rec in enumerate(table.to_dict("records")):
            line = i + 2  # line 1 is the header
            source_id = (rec.get("event_id") or "").strip()
            kind = (rec.get("kind") or "label").strip().lower()
            try:
                if kind == "label":
                    row = self._label_row(
                        rec["tile_id"],
                        rec.get("labels"),
                        rec.get("interest"),
                        rec.get("tags"),
                        rec.get("note", ""),
                        rec.get("who") or who,
                        rec.get("at") or None,
                        rec.get("session") or f"import:{path.name}",
                    )
                    key = _fingerprint_row(row, None)
                elif kind == "undo":
                    target = (rec.get("target") or "").strip()
                    if target not in resolved:
                        raise LabelError(
                            f"undo targets event {target or '?'}, which is not an earlier row of this file"
                        )
                    row = (
                        "undo",
                        self._check_tile(rec["tile_id"]),
                        "",
                        None,
                        "[]",
                        rec.get("note", ""),
                        rec.get("who") or who or self.who,
                        check_time(rec["at"]) if rec.get("at") else utc_now(),
                        rec.get("session") or f"import:{path.name}",
                        resolved[target],
                    )
                    where, ref = resolved[target]
                    key = _fingerprint_row(row, ref if where == "old" else None)
                else:
                    raise LabelError(f"kind {kind!r} must be 'label' or 'undo'")
            except LabelError as exc:
                report.refused.append((line, str(exc)))
                continue
            if key in seen:
                report.refused.append((line, f"identical to event {seen[key]} already in the store (skipped)"))
                if source_id:
                    resolved[source_id] = ("old", seen[key])
                continue
            if source_id:
                resolved[source_id] = ("new", len(pending))
            pending.append(row)
        with self._write() as con:
            new_ids: list[int] = []
            for row in pending:
                if row[0] == "undo":
                    where, ref = row[-1]
                    row = (*row[:-1], ref if where == "old" else new_ids[ref])
                new_ids.append(insert_event(con, row))
        report.added = new_ids
        if new_ids:
            self._written(new_ids[0], new_ids[-1])
        return report


def _fingerprint(rec: Any) -> tuple:
    """Identity of a stored event for duplicate detection on import (ignores ids and sessions)."""
    interest = None if pd.isna(rec.interest) else int(rec.interest)
    target = None if pd.isna(rec.target) else int(rec.target)
    return (
        rec.kind,
        int(rec.tile_id),
        SEPARATOR.join(rec.labels),
        interest,
        tuple(rec.tags),
        rec.note,
        rec.who,
        rec.at,
        target,
    )


def _fingerprint_row(row: tuple, target: int | None) -> tuple:
    """The fingerprint of a row about to be inserted; ``target`` is the stored id an undo points at."""
    kind, tile, labels, interest, tags, note, who, at, _session, _target = row
    return (kind, tile, labels, interest, tuple(json.loads(tags)), note, who, at, target)
