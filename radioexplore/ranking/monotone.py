"""A labels' artefact classifier that cannot learn that troughs are sky.

The labels' logistic regression (:func:`radioexplore.ranking.teach.label_classifier`) reads the tile's
own error evidence: the axis score, negative beams, negative share, ring contrast, the expected level
from the nearest bright source and the ripple significance (:func:`radioexplore.ranking.active_features.teach_block`).
Each of them can only be raised by an artefact: the sky is positive emission, so a trough below -5 sigma,
a negative ring, a ripple or the nearness of a bright source's error pattern is evidence of calibration
errors, never of sky (Perley 1999, "Synthesis Imaging in Radio Astronomy II", ch. 13; Grobler et al.
2014, MNRAS 439, 4030). The labels, though, come from a queue that the artefact axis has already
cleared: rank's default discounts a tile by its axis score, so every tile the astronomer labels has
a low one (in simulated survey 12:5 after two rounds, 0.00-0.23), and the few sky labels among them
with some troughs (a peculiar object beside a bright source) were enough for the unconstrained fit to
give the trough columns negative weights. It then extrapolated: 120 of the 147 tiles with an axis
score above 0.3 got a learnt probability below their axis score (0.33 for a tile of 93 negative beams
and axis 0.73), and those tiles, deep in their sources' negative rings, filled the next queue.

Two constraints keep what the labels cannot know where the physics put it:

- :func:`monotone_classifier`: the coefficients of the evidence columns are kept non-negative
  (a bounded L-BFGS-B fit of the same balanced, L2-penalised logistic loss as scikit-learn's
  ``LogisticRegression(C=1)``): the labels may weigh the kinds of evidence, not reverse them;
- :func:`axis_floor`: the learnt prior never falls below the axis score, which the labels, drawn
  from tiles the axis passed, never saw beyond its low end (the local correction near labelled tiles,
  :func:`radioexplore.ranking.teach.artefact_posterior`, still moves it either way).

``ActiveConfig.teach_monotone`` ("sign", "floor", "both"; "off" by default) switches them on.
Measured (benchmarks/README.md, issue 24, "Labels that read troughs as sky"), simulated astronomer, 14 held-out
surveys, re-ranker seeds 0 / 1: ARTEFACT tiles in rounds 2-5 3.86 / 3.64 -> 2.93 / 3.07 with "both" (12:5 21 / 23 ->
16 / 20), peculiar tiles found 151 / 157 -> 150 / 154: fewer artefacts, a few peculiar objects beside bright sources
lost with them, so not the default by the rule set before the measurement.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

MONOTONE = ("off", "sign", "floor", "both")


def monotone_classifier(
    block: np.ndarray, ids: np.ndarray, is_artefact: np.ndarray, n_signed: int | None = None, c: float = 1.0
) -> np.ndarray | None:
    """P(ARTEFACT) of every tile from a logistic regression of the labels on ``block`` (``[N, F]``) whose
    first ``n_signed`` coefficients (all when None) are kept >= 0; classes weighted equally as
    ``class_weight="balanced"``, L2 penalty ``1 / (2 c)`` on the coefficients, intercept free. None unless
    the labels hold both kinds."""
    y = np.asarray(is_artefact, dtype=bool)
    if y.all() or not y.any():
        return None
    x = np.asarray(block, dtype=np.float64)[np.asarray(ids, dtype=np.int64)]
    t = y.astype(np.float64)
    weight = np.where(y, len(y) / (2.0 * y.sum()), len(y) / (2.0 * (~y).sum()))
    f = x.shape[1]
    n_signed = f if n_signed is None else int(min(max(n_signed, 0), f))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:f], theta[f]
        z = x @ w + b
        # log(1 + e^z) - t z, stable for either sign of z
        value = 0.5 * w @ w + c * float(weight @ (np.logaddexp(0.0, z) - t * z))
        r = c * weight * (expit(z) - t)
        return value, np.concatenate([w + x.T @ r, [r.sum()]])

    bounds = [(0.0, None)] * n_signed + [(None, None)] * (f - n_signed) + [(None, None)]
    fit = minimize(loss, np.zeros(f + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    w, b = fit.x[:f], fit.x[f]
    return expit(np.asarray(block, dtype=np.float64) @ w + b).astype(np.float32)


def axis_floor(learnt: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The learnt prior, never below the axis score (module docstring)."""
    axis = np.clip(np.nan_to_num(np.asarray(axis, dtype=np.float32), nan=0.0), 0.0, 1.0)
    return np.maximum(np.asarray(learnt, dtype=np.float32), axis)
