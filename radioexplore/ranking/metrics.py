"""How good a ranking is against the truth: recall in the top fraction and seed 002's Table 4 (sec. 2.5)."""

from __future__ import annotations

import numpy as np


def recall_in_top(score: np.ndarray, truth: np.ndarray, fraction: float = 0.02) -> float:
    """Fraction of the ``truth`` tiles found among the top ``fraction`` of tiles by ``score``."""
    truth = np.asarray(truth, dtype=bool)
    if not truth.any():
        raise ValueError("no true tiles to recall: the truth column is all False")
    n_top = max(1, int(round(fraction * len(score))))
    top = np.argsort(-np.asarray(score), kind="stable")[:n_top]
    return float(truth[top].sum() / truth.sum())


def crossing_threshold_metrics(score: np.ndarray, peculiar: np.ndarray, complex_: np.ndarray) -> dict[str, float]:
    """Seed 002's Table 4 for one score: metrics at the threshold where peculiar recall and precision cross,
    which is where as many tiles are selected as there are peculiar ones.

    ``complex_`` marks frames with extended or diffuse structure that are not peculiar; the rest
    are ordinary. Returns ``threshold``, ``recall``, ``precision``, ``precision_pec_complex``
    (peculiar or complex among the selected), ``contamination_complex`` and ``contamination_ordinary``
    (their shares of the selected sample), each as a fraction, and ``n_selected``.
    """
    score = np.asarray(score, dtype=float)
    pec = np.asarray(peculiar, dtype=bool)
    cpx = np.asarray(complex_, dtype=bool) & ~pec
    if not pec.any():
        raise ValueError("no peculiar tiles: recall and precision are undefined")
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(pec[order])
    selected = np.arange(1, len(score) + 1)
    recall, precision = tp / pec.sum(), tp / selected
    # Selecting exactly as many tiles as there are peculiar ones makes recall and precision equal
    # (both TP / n_peculiar): that is the crossing. Cuts are only made between distinct scores, so
    # that a threshold reproduces the cut; take the one nearest to it.
    cuts = np.flatnonzero(np.r_[score[order][1:] < score[order][:-1], True])
    i = int(cuts[np.argmin(np.abs(cuts - (int(pec.sum()) - 1)))])
    sel = order[: i + 1]
    return {
        "threshold": float(score[order][i]),
        "recall": float(recall[i]),
        "precision": float(precision[i]),
        "precision_pec_complex": float((pec[sel] | cpx[sel]).mean()),
        "contamination_complex": float(cpx[sel].mean()),
        "contamination_ordinary": float((~pec[sel] & ~cpx[sel]).mean()),
        "n_selected": int(i + 1),
    }
