"""Blends by name: how the anomaly quantile, the predicted interest and the trust make the active score."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from radioexplore.ranking.forest import ranks_of
from radioexplore.run.labels.values import INTEREST_RANGE

if TYPE_CHECKING:
    from radioexplore.ranking.active import ActiveConfig


def _unit_interest(predicted: np.ndarray) -> np.ndarray:
    lo, hi = INTEREST_RANGE
    return (np.clip(predicted, lo, hi) - lo) / (hi - lo)


def anomaly_quantile(score: np.ndarray) -> np.ndarray:
    """Scores as quantiles in [0, 1], 1 the most anomalous (so blends do not depend on the score's scale)."""
    if len(score) < 2:
        return np.ones_like(score, dtype=np.float32)
    return ((ranks_of(-np.asarray(score)) - 1) / (len(score) - 1)).astype(np.float32)


def blend_neighbour(anomaly: np.ndarray, predicted: np.ndarray, trust: np.ndarray, config: ActiveConfig) -> np.ndarray:
    """Astronomaly's idea: near labels, the anomaly score is scaled down by how boring the tile is predicted to be.

    ``a x ((1 - w) + w (floor + (1 - floor) u))`` with ``a`` the anomaly quantile and ``u`` the
    predicted interest in [0, 1]:
    interest can only demote anomalous-but-boring tiles, never promote ordinary ones.
    """
    return (anomaly * _local_factor(predicted, trust, config)).astype(np.float32)


def blend_mix(anomaly: np.ndarray, predicted: np.ndarray, trust: np.ndarray, config: ActiveConfig) -> np.ndarray:
    """A global mix of anomaly quantile and predicted interest, damped near labelled tiles as in ``neighbour``.

    ``[(1 - weight) a + weight u] x [(1 - w) + w (floor + (1 - floor) u)]``. The first factor lets
    interest promote unseen tiles that look like the ones the astronomer liked, wherever they
    are (locality is left to the regressor); a prediction that carries no information (every label
    the same) shifts all tiles alike there. The second factor is astronomaly's local demotion: the
    neighbourhood of a tile found boring sinks, so the queue moves on to other kinds of anomaly
    even while every label so far says "boring".
    """
    mixed = (1.0 - config.weight) * anomaly + config.weight * _unit_interest(predicted)
    return (mixed * _local_factor(predicted, trust, config)).astype(np.float32)


def _local_factor(predicted: np.ndarray, trust: np.ndarray, config: ActiveConfig) -> np.ndarray:
    return (1.0 - trust) + trust * (config.floor + (1.0 - config.floor) * _unit_interest(predicted))


def blend_interest(anomaly: np.ndarray, predicted: np.ndarray, trust: np.ndarray, config: ActiveConfig) -> np.ndarray:
    """Predicted interest alone, the anomaly quantile breaking ties (pure exploitation, for comparison)."""
    return (_unit_interest(predicted) + 1e-3 * anomaly).astype(np.float32)


#: Blends by name: ``blend(anomaly_quantile, predicted_interest, trust, config) -> active score`` (higher
#: first); the anomaly arrives as a quantile in [0, 1] (:func:`anomaly_quantile`), interest on the 1-5 scale.
BLENDS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, ActiveConfig], np.ndarray]] = {
    "mix": blend_mix,
    "neighbour": blend_neighbour,
    "interest": blend_interest,
}
