"""The labels choose between the ranking's two lanes: the forest's candidates and the objects'.

``rank``'s default puts a tile where the larger of two quantiles puts it: the forest's anomaly quantile
discounted by the tile's artefact score, or its most peculiar object's quantile
(:func:`radioexplore.ranking.peculiar.peculiarity`). Which lane brings interesting tiles depends on the
survey: where calibration errors are strong, the forest's top holds ripples the artefact axis did not
catch, which hold no object of their own. The astronomer's first labels say which lane earned their
interest. As Baram, El-Yaniv & Luz (2004, JMLR 5, 255) choose among query strategies by the reward each
strategy's queries earned, each lane is weighted by the mean interest of the labelled tiles it put where
they were, under a uniform Beta(1, 1) prior: ``a = (1 + sum (y - 1) / 4) / (2 + n)`` (1/2 with no label,
so the unsupervised order is unchanged), and the prior the re-ranker blends is
``max(a_forest q_forest, a_object q_object)``. No constant is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radioexplore.ranking.peculiar import METHODS, objects_lead, quantile_among
from radioexplore.run.labels.values import INTEREST_RANGE


@dataclass(frozen=True)
class Lanes:
    """Per tile, the forest lane's and the object lane's quantiles, and which of them placed the tile."""

    forest: np.ndarray
    objects: np.ndarray
    object_led: np.ndarray

    @classmethod
    def from_scores(cls, scores: pd.DataFrame, keep: np.ndarray | None = None) -> Lanes | None:
        """The lanes of ``rank``'s scores (``anomaly_score``, ``object_score``, ``artefact_score``), or None
        when the ranking had no objects (then there is one lane and nothing to choose)."""
        if not {"anomaly_score", "object_score"} <= set(scores.columns):
            return None
        keep = np.ones(len(scores), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        forest = quantile_among(scores["anomaly_score"].to_numpy(), keep).astype(np.float64)
        if "artefact_score" in scores:
            art = np.nan_to_num(scores["artefact_score"].to_numpy(dtype=np.float64), nan=0.0)
            forest = forest * (1.0 - np.clip(art, 0.0, 1.0))
        object_score = np.nan_to_num(scores["object_score"].to_numpy(dtype=np.float64), nan=0.0)
        objects = quantile_among(object_score, keep).astype(np.float64)
        led = objects_lead(METHODS["peculiar"], forest, objects, object_score > 0)  # as rank's ``why`` says it
        return cls(forest.astype(np.float32), objects.astype(np.float32), led)

    def weights(self, ids: np.ndarray, interest: np.ndarray) -> tuple[float, float]:
        """(forest, object) weights: each lane's posterior mean interest on [0, 1] from its labelled tiles."""
        ids = np.asarray(ids, dtype=np.int64)
        lo, hi = INTEREST_RANGE
        u = (np.clip(np.asarray(interest, dtype=np.float64), lo, hi) - lo) / (hi - lo)
        led = self.object_led[ids] if ids.size else np.zeros(0, dtype=bool)
        forest = (1.0 + u[~led].sum()) / (2.0 + (~led).sum())
        objects = (1.0 + u[led].sum()) / (2.0 + led.sum())
        return float(forest), float(objects)

    def prior(self, ids: np.ndarray, interest: np.ndarray) -> np.ndarray:
        """``[N]`` the ranking's score rebuilt with each lane weighted by what its labelled tiles earned."""
        a_forest, a_objects = self.weights(ids, interest)
        return np.maximum(a_forest * self.forest, a_objects * self.objects).astype(np.float32)
