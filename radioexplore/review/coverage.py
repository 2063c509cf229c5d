"""Review coverage and a stopping signal: how much of the survey has been looked at, and how much
of what matters is probably still unseen.

*Seen* tiles have at least one event in the label store (even one later undone: someone looked);
*labelled* tiles carry a label or an interest score now. The sky areas come from MOCs
(:mod:`radioexplore.review.moc`): of each field's span of tiles for the survey, of the labelled tiles'
boxes for the reviewed sky. The stopping signal counts the unseen tiles whose interest the
active model (:class:`radioexplore.ranking.active.ActiveRanker`, with the settings of the last ``rerank``,
fitted on the current interest scores) predicts at or above a threshold: when it nears zero, the
model expects little more to find. It is only as good as the model: with a handful of scores it
mostly says what the scored tiles look like.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir

#: Predicted interest (1-5) from which a tile counts as high-interest.
HIGH_INTEREST = 4.0


@dataclass(frozen=True)
class Coverage:
    """What :func:`review_coverage` found; :meth:`lines` is what ``radioexplore labels summary`` prints."""

    n_tiles: int
    n_seen: int
    n_labelled: int
    per_field: pd.DataFrame  # field, tiles, seen, labelled
    survey_deg2: float | None  # None: no tile has a celestial WCS
    labelled_deg2: float | None
    moc_order: int | None
    n_scores: int  # interest scores the model learnt from
    n_unseen_ranked: int  # unseen tiles the ranking kept (not blank or excluded)
    high_unseen: int | None  # None: no estimate (the reason in ``note``)
    high_touching: int  # predicted high because they touch a tile scored high
    threshold: float
    note: str

    def lines(self) -> list[str]:
        out = [
            f"tiles: {self.n_tiles} in {len(self.per_field)} field(s); seen {self.n_seen} ({_pc(self.n_seen, self.n_tiles)}), "
            f"labelled {self.n_labelled} ({_pc(self.n_labelled, self.n_tiles)})"
        ]
        if self.survey_deg2:
            out.append(
                f"sky: labelled {self.labelled_deg2:.4f} of {self.survey_deg2:.4f} deg2 "
                f"({100 * self.labelled_deg2 / self.survey_deg2:.1f}%, MOC order {self.moc_order})"
            )
        else:
            out.append("sky: no tile has a celestial WCS, so no sky area")
        table = self.per_field.assign(
            seen_pc=[_pc(s, t) for s, t in zip(self.per_field["seen"], self.per_field["tiles"], strict=True)],
            labelled_pc=[_pc(s, t) for s, t in zip(self.per_field["labelled"], self.per_field["tiles"], strict=True)],
        )
        out.append("per field:")
        out += ["  " + line for line in table.to_string(index=False).splitlines()]
        if self.high_unseen is None:
            out.append(f"high-interest tiles left unseen: no estimate; {self.note}")
        else:
            out.append(
                f"high-interest tiles (predicted interest >= {self.threshold:g}) left unseen: about {self.high_unseen} "
                f"of {self.n_unseen_ranked} unseen ranked tiles ({self.note})"
            )
            if self.high_touching:
                out.append(
                    f"  and {self.high_touching} more unseen tiles touch a tile scored high "
                    "(likely parts of the same sources; see the review queue)"
                )
        return out


def _pc(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def seen_and_labelled(run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    """Tile ids with any label event, and those carrying a label or interest score now."""
    from radioexplore.review.moc import reviewed_tiles

    if not run.labels_db.is_file():
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    events = LabelStore.for_run(run).events()
    seen = np.unique(events["tile_id"].to_numpy(dtype=np.int64))
    return seen, reviewed_tiles(run)


def active_config(run: RunDir, name: str) -> Any:
    """The ActiveConfig of the last ``rerank`` of ``name`` (the defaults when there was none)."""
    from radioexplore.ranking.active import ActiveConfig

    record = run.stage_config("rerank", name)
    known = {f.name for f in fields(ActiveConfig)}
    return ActiveConfig(**{k: v for k, v in record.items() if k in known})


def high_interest_unseen(
    run: RunDir, name: str, seen: np.ndarray, threshold: float = HIGH_INTEREST
) -> tuple[int | None, int, int, int, str]:
    """``(count, touching, unseen ranked tiles, interest scores, note)`` for the unseen ranked tiles.

    ``count``: those predicted at or above ``threshold`` that touch no tile scored high;
    ``touching``: those that do (the model's reach to touching tiles lifts them: likely parts of
    the same sources, counted apart so that each high score does not add its neighbours to the
    estimate). ``count`` is None, with the reason in ``note``, when there are no interest scores yet.
    """
    from radioexplore.ranking.active import ActiveRanker

    interest = LabelStore.for_run(run).interest_scores() if run.labels_db.is_file() else pd.Series(dtype=float)
    config = active_config(run, name)
    ranker = ActiveRanker.from_run(run, name, config)
    unseen = np.ones(len(ranker), dtype=bool)
    unseen[seen] = False
    if ranker.exclude is not None:
        unseen &= ~ranker.exclude
    n_unseen = int(unseen.sum())
    if interest.empty:
        note = f"no interest scores yet: score some tiles 1-5 (`radioexplore label --run {run.root} --tile N --interest 5`)"
        return None, 0, n_unseen, 0, note
    ranking = ranker.rerank(interest)
    high = unseen & (ranking["predicted_interest"].to_numpy() >= threshold)
    touching = high & (ranking["touches_liked"].to_numpy() >= 0)
    note = f"{config.regressor} on {len(interest)} interest scores"
    return int((high & ~touching).sum()), int(touching.sum()), n_unseen, len(interest), note


def review_coverage(
    run: RunDir, name: str | None = None, threshold: float = HIGH_INTEREST, moc_order: int | None = None
) -> Coverage:
    """Shares of tiles, of sky area and of each field seen or labelled, and the stopping signal of ``name``."""
    from radioexplore.review.moc import footprint_moc, tiles_moc

    tiles = run.read_tiles()
    seen, labelled = seen_and_labelled(run)
    field = tiles["field"].astype(str) if "field" in tiles else pd.Series("-", index=tiles.index)
    per_field = (
        pd.DataFrame(
            {
                "field": field,
                "tiles": 1,
                "seen": tiles["tile_id"].isin(seen).astype(int),
                "labelled": tiles["tile_id"].isin(labelled).astype(int),
            }
        )
        .groupby("field", sort=True)
        .sum()
        .reset_index()
    )
    survey = footprint_moc(tiles, moc_order)
    survey_deg2 = survey.area_deg2 if survey.n_without_wcs < survey.n_tiles else None
    labelled_deg2 = None
    if survey_deg2:
        labelled_deg2 = tiles_moc(tiles.set_index("tile_id").loc[labelled].reset_index(), survey.order).area_deg2
    name = name or run.default_embedding()
    if name is None or not run.scores(name).is_file():
        why = "the run has no embeddings" if name is None else f"{run.scores(name)} does not exist"
        high, touching, n_unseen, n_scores = None, 0, len(tiles) - len(seen), 0
        note = f"{why}: run `radioexplore rank` first"
    else:
        high, touching, n_unseen, n_scores, note = high_interest_unseen(run, name, seen, threshold)
    return Coverage(
        n_tiles=len(tiles),
        n_seen=len(seen),
        n_labelled=len(labelled),
        per_field=per_field,
        survey_deg2=survey_deg2,
        labelled_deg2=labelled_deg2,
        moc_order=survey.order,
        n_scores=n_scores,
        n_unseen_ranked=n_unseen,
        high_unseen=high,
        high_touching=touching,
        threshold=threshold,
        note=note,
    )
