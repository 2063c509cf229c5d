"""What an ingest reports and commits: files read, files refused and why, and the run's new tiles.

Wide-field and stamp ingest both end here: the tiles table is committed with the tile store,
the report is written beside it, and the stage is recorded in run.toml.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

import pandas as pd

from radioexplore.run.atomic import atomic_path
from radioexplore.run.generation import commit_tiles
from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest did: files read, files refused with the reason, warnings, tile count."""

    ingested: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    n_tiles: int = 0

    def summary(self) -> str:
        lines = [f"ingested {len(self.ingested)} file(s) into {self.n_tiles} tiles"]
        lines += [f"  FAILED {name}: {why}" for name, why in self.failed.items()]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class IngestError(RuntimeError):
    """Nothing could be ingested; ``report`` (when given) names every file and why it failed."""

    def __init__(self, message: str, report: IngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


def nothing_ingested(report: IngestReport, what: str = "image") -> IngestError:
    """The one-line error for an ingest where every file failed; the report lists them."""
    return IngestError(
        f"no {what} could be ingested: all {len(report.failed)} file(s) failed (reasons listed above)", report
    )


def write_outputs(run: RunDir, tiles: pd.DataFrame, report: IngestReport, record: dict) -> None:
    """Commit the tiles table with the tile store just swapped in, write the ingest report, record the stage.

    :func:`radioexplore.run.generation.commit_tiles` stamps both with one new generation and moves the artefacts built
    from the previous tiles aside.
    """
    generation = commit_tiles(run, tiles)
    report.n_tiles = len(tiles)
    with atomic_path(run.ingest_report) as tmp:
        tmp.write_text(json.dumps(asdict(report), indent=1))
    run.record("ingest", dict(record, tiles_generation=generation))
    log.info(report.summary())
