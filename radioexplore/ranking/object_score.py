"""How peculiar each object's shape is: an Isolation Forest over its shape features, discounted by its own artefact score.

Seed 002 (sec. 5.2) ranks with an Isolation Forest of 200 trees; here it runs over the objects'
survey-independent shape features (:data:`radioexplore.ranking.objects.SHAPE_FEATURES`), whether
the object is part of an X-shaped source (:mod:`radioexplore.ranking.crossing`) (the ``physics``
set: a limb-brightened shell for the ring, :mod:`radioexplore.ranking.ring`, and how far a double's
extent lies beyond the survey's sources, :mod:`radioexplore.ranking.giants`), fitted on
the objects that are not likely artefacts, and a tile takes its most peculiar object's score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.ranking.artefacts import object_artefact_score
from radioexplore.ranking.giants import GIANT_Z, giant_z
from radioexplore.ranking.morphology import MorphConfig, morph_evidence, with_morphology
from radioexplore.ranking.objects import (
    FEATURE_SETS,
    FOREST_FEATURES,
    LIKELY_ARTEFACT,
    LOG_FEATURES,
    NEGATIVE_RATIO,
    ObjectConfig,
)


def forest_features(objects: pd.DataFrame, features: tuple[str, ...] = FOREST_FEATURES) -> np.ndarray:
    """The forest's ``features`` (:data:`FOREST_FEATURES` by default) as it sees them: log where they
    span decades, then robustly standardised (median, IQR / 1.349) over the objects of the run; a
    source feature the table lacks (objects found without their sources) counts 0."""
    cols = []
    for name in features:
        v = objects[name].to_numpy(float) if name in objects.columns else np.zeros(len(objects))
        cols.append(np.log(np.maximum(v, 1e-6)) if name in LOG_FEATURES else v)
    x = np.column_stack(cols) if cols else np.zeros((len(objects), 0))
    centre = np.median(x, axis=0)
    q1, q3 = np.percentile(x, [25, 75], axis=0)
    scale = (q3 - q1) / 1.349
    spread = x.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(spread > 0, spread, 1.0))
    return ((x - centre) / scale).astype(np.float32)


def object_scores(
    objects: pd.DataFrame, config: ObjectConfig | None = None, fit: np.ndarray | None = None
) -> np.ndarray:
    """Isolation Forest peculiarity of each object in [0, 1] (1 = most peculiar; min-max over the run),
    the forest fitted on the objects ``fit`` marks (all by default; all when it marks fewer than 3)."""
    config = config or ObjectConfig()
    from sklearn.ensemble import IsolationForest  # here: the CLI builds its parser without sklearn

    n = len(objects)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    if n < 3:
        return np.zeros(n, dtype=np.float32)
    forest = IsolationForest(
        n_estimators=config.n_estimators,
        contamination=config.contamination,
        random_state=config.seed,
        n_jobs=1,
    )
    x = forest_features(objects, FEATURE_SETS[config.forest_features])
    fit = np.ones(n, dtype=bool) if fit is None or np.count_nonzero(fit) < 3 else np.asarray(fit, dtype=bool)
    forest.fit(x[fit])
    raw = -forest.score_samples(x)
    lo, hi = raw.min(), raw.max()
    return ((raw - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)


def rank_objects(
    objects: pd.DataFrame, config: ObjectConfig | None = None, morph: MorphConfig | None = None
) -> pd.DataFrame:
    """``objects`` with ``shape_score`` (the forest's peculiarity of shape among all the objects, 0..1),
    ``artefact_score`` (the object's own artefact evidence, 0..1, from its :data:`NEGATIVE_RATIO`),
    ``score`` (higher = more peculiar) and ``rank`` by it (1 = most peculiar).

    ``giant_z`` (:func:`radioexplore.ranking.giants.giant_z`) is filled here, over all the objects given;
    the forest sees the features of ``config.forest_features``.
    ``score`` = sky shape score x (1 - artefact score), where the sky shape score comes from a
    forest fitted on the objects that are not likely artefacts (artefact score below
    :data:`LIKELY_ARTEFACT`): what is rare among real sources, not among ripple crests, which can
    be many in a poor field. The discount acts per object: a ripple crest is sunk by the troughs
    beside it, a peculiar object in the same poor field keeps its score (a tile-wide factor sank
    both). ``shape_score`` knows nothing of artefacts (the ranking without the artefact axis uses it).

    With ``morph`` (None here: the forest alone; ``objects_run`` and ``radioexplore objects`` pass
    :data:`radioexplore.ranking.object_run.DEFAULT_MORPH`) the known peculiar morphologies get their own evidence beside
    the forest (:mod:`radioexplore.ranking.morphology`, its columns added): each forest score (or its
    quantile among the objects, ``morph.forest``) is ``max``-ed with ``morph_evidence`` before the
    artefact discount.
    """
    config = config or ObjectConfig()
    out = objects.copy()
    out[GIANT_Z] = giant_z(out)  # over the whole run: the survey's own sources are its reference
    artefact = object_artefact_score(out[NEGATIVE_RATIO].to_numpy(dtype=float)).astype(np.float32)
    shape = object_scores(out, config)
    sky = object_scores(out, config, fit=artefact < LIKELY_ARTEFACT) if (artefact >= LIKELY_ARTEFACT).any() else shape
    if morph is not None:
        evidence = morph_evidence(out, morph)
        for name in evidence.columns:
            out[name] = evidence[name].to_numpy()
        strongest = evidence["morph_evidence"].to_numpy()
        morphed = with_morphology(shape, strongest, morph.forest)
        sky = morphed if sky is shape else with_morphology(sky, strongest, morph.forest)
        shape = morphed
    scores = (sky * (1.0 - artefact)).astype(np.float32)
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    out["shape_score"] = shape
    out["artefact_score"] = artefact
    out["score"] = scores
    out["rank"] = ranks
    return out


def tile_object_scores(objects: pd.DataFrame, tile_ids: np.ndarray) -> np.ndarray:
    """Each tile's object peculiarity: the score of its most peculiar overlapping object, 0 when none."""
    tile_ids = np.asarray(tile_ids, dtype=np.int64)
    best: dict[int, float] = {}
    for ids, score in zip(objects["tile_ids"], objects["score"], strict=True):
        for t in ids:
            best[int(t)] = max(best.get(int(t), 0.0), float(score))
    return np.array([best.get(int(t), 0.0) for t in tile_ids], dtype=np.float32)
