"""What the tile table holds: its columns (contract, stamp, hidden, candidate), its flags, and the kind of run.

One owner for every rule about tiles.parquet's columns, so ingest, ranking, export, the app and
the probes agree on which columns exist, which are identifiers and which values a flag takes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from radioexplore.run.rundir import RunDir

#: Columns every tiles table has, for wide-field and stamp runs alike (docs/architecture.md).
CONTRACT_COLUMNS = (
    "tile_id",
    "field",
    "survey",
    "file",
    "x0",
    "y0",
    "size",
    "ra",
    "dec",
    "noise_rms",
    "dqf",
    "n_sources",
    "finite_fraction",
    "flag",
    "bunit",
)
#: Columns a stamps run adds: the stamp's own size, the zoom onto the tile, and the label of its collection.
STAMP_COLUMNS = ("orig_width", "orig_height", "zoom", "label")
#: Text columns of the table (stored as ``str``; ``label`` is a nullable string).
TEXT_COLUMNS = ("field", "survey", "file", "flag", "bunit", "n_sources_from")
#: Float columns of the table (NaN where unknown: a stamp without WCS has no RA/Dec).
FLOAT_COLUMNS = ("noise_rms", "ra", "dec", "finite_fraction")
#: Nullable integer columns (a field without DQF, a tile whose sources were not counted).
NULLABLE_INT_COLUMNS = ("dqf", "n_sources")

#: The values of the ``flag`` column (:func:`tile_flag`).
TILE_FLAGS = ("ok", "partial", "blank")

#: Columns of the joined table never offered as colours in the app (identifiers and geometry).
HIDDEN_COLUMNS = frozenset(
    {
        "tile_id",
        "file",
        "x0",
        "y0",
        "size",
        "x",
        "y",
        "ra",
        "dec",
        "rank",
        "active_rank",
        "orig_width",
        "orig_height",
        "why",  # reasons in words (shown in the table and the queue), not colours
    }
)
#: Columns of the joined table never offered as probe targets: the hidden ones, and what the
#: embedding itself produced or what describes the file rather than the sky.
NOT_TARGETS = HIDDEN_COLUMNS | {"score", "outlier", "active_score", "predicted_interest", "bunit", "n_sources_from"}

#: The candidate table's columns (radioexplore.review.export): tile geometry, scores, active ranking, labels.
CANDIDATE_TILE_COLUMNS = ("tile_id", "field", "survey", "file", "x0", "y0", "size", "ra", "dec", "noise_rms")
CANDIDATE_SCORE_COLUMNS = ("score", "rank", "outlier")
CANDIDATE_ACTIVE_COLUMNS = ("active_score", "active_rank", "predicted_interest")
CANDIDATE_LABEL_COLUMNS = ("labels", "interest", "tags", "note", "who")

#: The ``mode`` a stamps ingest records in run.toml (``stages.ingest.mode``).
STAMPS_MODE = "stamps"


def tile_flag(pixels: np.ndarray, finite_fraction: float, min_finite_fraction: float) -> str:
    """'blank' (almost no finite pixels, or constant), 'partial' (some blanked pixels) or 'ok'."""
    if finite_fraction < min_finite_fraction or np.nanstd(pixels) == 0:
        return "blank"
    return "ok" if finite_fraction == 1.0 else "partial"


def is_stamps_run(run: RunDir) -> bool:
    """Whether ``run``'s tiles are stamps (one per file, scaled on their own) rather than crops of fields."""
    return run.stage_config("ingest").get("mode") == STAMPS_MODE
