"""Labels that teach the queue what an artefact is: a per-tile artefact probability from the axis and the labels.

The artefact axis (:mod:`radioexplore.ranking.artefacts`) is a physical prior: negative troughs,
rings and a bright neighbour make a tile likely an imaging artefact. The astronomer's labels are
evidence on top of it: a tile labelled ARTEFACT or MOSAICKING says "tiles with these artefact
features are artefacts", any other label (PECULIAR, COMPACT, RADIO-GALAXY, ...) says "these are
sky", except that a tile scored 4-5 speaks for its object, not for the ripples round it, unless
``ActiveConfig.liked_teach_sky`` (off by default since session 37). :func:`artefact_probability` combines them
in two steps:

1. once there is at least one label of each kind, a logistic regression of ARTEFACT against the
   other labels on the tile's own artefact evidence (:func:`radioexplore.ranking.active_features.teach_block`:
   the axis score, negative beams, negative share, ring contrast, expected level from the nearest
   bright source, and the ripple significance of :mod:`radioexplore.ranking.ripples`, which is in
   neither the axis score nor the look-alike space: ripples whose troughs stay above -5 sigma
   read as sky everywhere else, so without it the labels had nothing to teach through); not the field's DQF or dynamic range, which would condemn every tile of a poor
   field) replaces the axis as the prior: the astronomer has confirmed which evidence marks an
   artefact in this survey, so the queue follows it survey-wide;
2. :func:`artefact_posterior` corrects that prior near labelled tiles, as a kernel-weighted mean
   in the artefact-feature space (a Nadaraya-Watson estimate whose prior counts as
   ``prior_weight`` labels at the tile itself): near a tile the astronomer called sky, a tile
   with the same troughs is sky too.

:class:`LabelKernels` keeps, per labelled tile, its kernel over all tiles in one feature space,
so a new label costs one ``[1, N]`` row, not a pass over every label again.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from radioexplore.ranking.monotone import MONOTONE, axis_floor, monotone_classifier


def kernel_rows(
    features: np.ndarray, ids: np.ndarray, k: int, alpha: float = 1.0, sq: np.ndarray | None = None
) -> sparse.csr_matrix:
    """``[len(ids), N]`` sparse weights ``(1 - (d / R)^2)^2`` inside ``R = alpha x`` (distance from the
    labelled tile to its ``k``-th nearest tile), 0 beyond: how much each labelled tile speaks for every tile.

    1 on the labelled tile, compact support reaching about its ``k`` nearest tiles wherever it lies
    (dense core or sparse outskirts), as astronomaly's trust in a label is local; a row holds about
    ``k`` non-zeros, so 10^6 tiles x hundreds of labels stay small. ``sq``: the
    rows' squared norms, when the caller keeps them.
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = len(features)
    k = int(min(max(k, 1), n - 1))
    sq = (features**2).sum(1) if sq is None else sq
    rows, cols, vals = [], [], []
    for i, tile in enumerate(ids.tolist()):
        ref = features[tile]
        d2 = features @ ref
        d2 *= -2.0
        d2 += sq
        d2 += sq[tile]
        np.maximum(d2, 0.0, out=d2)
        d2[tile] = 0.0
        reach2 = np.float32(alpha * alpha) * np.partition(d2, k)[k] if n > 1 else np.float32(0.0)
        inside = np.flatnonzero(d2 < reach2) if reach2 > 0 else np.array([tile], dtype=np.int64)
        x = 1.0 - d2[inside] / reach2 if reach2 > 0 else np.ones(1, np.float32)
        rows.append(np.full(len(inside), i, dtype=np.int64))
        cols.append(inside)
        vals.append((x * x).astype(np.float32))
    if not rows:
        return sparse.csr_matrix((0, n), dtype=np.float32)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(ids), n), dtype=np.float32
    )


class LabelKernels:
    """Kernel rows (:func:`kernel_rows`) of labelled tiles in one feature space, each computed once and kept:
    a new label costs one pass over the tiles, not one per label."""

    def __init__(self, features: np.ndarray, k: int, alpha: float = 1.0) -> None:
        self.features = np.ascontiguousarray(features, dtype=np.float32)
        self.sq = (self.features**2).sum(1)
        self.k, self.alpha = k, alpha
        self._rows: dict[int, sparse.csr_matrix] = {}

    def rows(self, ids: np.ndarray) -> sparse.csr_matrix:
        """``[len(ids), N]`` kernel rows of the tiles ``ids``, in that order; the ones not seen before computed now."""
        ids = np.asarray(ids, dtype=np.int64)
        new = np.array([i for i in dict.fromkeys(ids.tolist()) if i not in self._rows], dtype=np.int64)
        if new.size:
            fresh = kernel_rows(self.features, new, self.k, self.alpha, self.sq)
            for j, i in enumerate(new.tolist()):
                self._rows[i] = fresh[j]
        if not ids.size:
            return sparse.csr_matrix((0, len(self.features)), dtype=np.float32)
        return sparse.vstack([self._rows[i] for i in ids.tolist()], format="csr")


def strongest(rows: sparse.csr_matrix, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every tile, the largest kernel weight over ``rows`` and the labelled tile it comes from
    (-1 where no row reaches the tile)."""
    n = rows.shape[1]
    if rows.shape[0] == 0 or rows.nnz == 0:  # no label, or none reaching any tile
        return np.zeros(n, np.float32), np.full(n, -1, np.int64)
    coo = rows.tocoo()
    order = np.lexsort((coo.data, coo.col))  # by tile, then by weight: the last of each tile is its largest
    last = order[np.r_[coo.col[order][1:] != coo.col[order][:-1], True]]
    weight = np.zeros(n, np.float32)
    source = np.full(n, -1, np.int64)
    weight[coo.col[last]] = coo.data[last]
    source[coo.col[last]] = np.asarray(ids, dtype=np.int64)[coo.row[last]]
    return weight, source


def artefact_posterior(
    prior: np.ndarray, kernels: sparse.csr_matrix, is_artefact: np.ndarray, prior_weight: float = 1.0
) -> np.ndarray:
    """Probability that each tile is an artefact: the axis ``prior`` (0..1) and the labels, as
    ``(w0 prior + sum_j K_j y_j) / (w0 + sum_j K_j)``.

    ``kernels`` are the labelled tiles' rows (:meth:`LabelKernels.rows`) in the artefact-feature
    space, ``is_artefact`` their labels (1: ARTEFACT / MOSAICKING, 0: anything else the astronomer
    said), ``w0 = prior_weight`` how many labels at the tile itself the axis is worth.
    """
    prior = np.clip(np.nan_to_num(np.asarray(prior, dtype=np.float32), nan=0.0), 0.0, 1.0)
    if kernels.shape[0] == 0:
        return prior
    y = np.asarray(is_artefact, dtype=np.float32)
    num = prior_weight * prior + np.asarray(kernels.T @ y).ravel()
    den = prior_weight + np.asarray(kernels.sum(0)).ravel()
    return (num / den).astype(np.float32)


def label_classifier(block: np.ndarray, ids: np.ndarray, is_artefact: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """P(ARTEFACT) of every tile from a logistic regression of the labels on ``block`` (``[N, F]`` in 0..1),
    classes weighted equally (a few ARTEFACT labels among many others still count); None unless the
    labels hold both kinds."""
    y = np.asarray(is_artefact, dtype=bool)
    if y.all() or not y.any():
        return None
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, class_weight="balanced", random_state=seed)
    clf.fit(block[np.asarray(ids, dtype=np.int64)], y)
    return clf.predict_proba(block)[:, 1].astype(np.float32)


#: How the labels' class-balanced artefact classifier's probability is read (``artefact_probability(prevalence=)``).
PREVALENCE = ("balanced", "labels")


def at_prevalence(p_balanced: np.ndarray, share: float) -> np.ndarray:
    """A class-balanced classifier's P(ARTEFACT) moved to a prevalence ``share``: its odds times
    ``share / (1 - share)`` (Saerens, Latinne & Decaestecker 2002, Neural Computation 14, 21: a posterior
    learnt at equal priors, corrected to the priors of the data). Balanced weights let one ARTEFACT label
    among nine others count as much as they do, so a tile like neither reads about 1/2; at the labels'
    own share (1 in 10) it reads about 1/10, and only tiles like the ARTEFACT label read high."""
    share = float(np.clip(share, 1e-6, 1 - 1e-6))
    p = np.clip(np.asarray(p_balanced, dtype=np.float64), 0.0, 1.0)
    odds = p * share
    return (odds / (odds + (1.0 - p) * (1.0 - share))).astype(np.float32)


def artefact_probability(
    block: np.ndarray,
    kernels: sparse.csr_matrix,
    ids: np.ndarray,
    is_artefact: np.ndarray,
    prior_weight: float = 1.0,
    seed: int = 0,
    monotone: str = "off",
    n_signed: int | None = None,
    prevalence: str = "balanced",
) -> tuple[np.ndarray, bool]:
    """Every tile's probability of being an artefact, from the axis (``block[:, 0]``) and the labels
    (module docstring); a labelled tile gets its label. Returns ``(p, taught)``: ``taught`` is True
    when the labels held an ARTEFACT and another label, so the classifier replaced the axis.
    ``monotone`` (:mod:`radioexplore.ranking.monotone`): "sign" keeps the classifier's coefficients of the
    first ``n_signed`` columns (all when None) >= 0, "floor" keeps its probability at or above the axis
    score, "both" does both; "off" (default) neither. ``prevalence`` (:data:`PREVALENCE`): the classifier's
    probability as its class-balanced fit gives it ("balanced": odds as if half the tiles were artefacts) or
    corrected to the labels' own share of ARTEFACT ("labels", :func:`at_prevalence`)."""
    if monotone not in MONOTONE:
        raise ValueError(f"monotone must be one of {MONOTONE}, not {monotone!r}")
    if prevalence not in PREVALENCE:
        raise ValueError(f"prevalence must be one of {PREVALENCE}, not {prevalence!r}")
    if monotone in ("sign", "both"):
        learnt = monotone_classifier(block, ids, is_artefact, n_signed)
    else:
        learnt = label_classifier(block, ids, is_artefact, seed)
    if learnt is not None and prevalence == "labels":
        learnt = at_prevalence(learnt, float(np.mean(np.asarray(is_artefact, dtype=bool))))
    if learnt is not None and monotone in ("floor", "both"):
        learnt = axis_floor(learnt, block[:, 0])
    prior = block[:, 0] if learnt is None else learnt
    p = artefact_posterior(prior, kernels, is_artefact, prior_weight)
    p[np.asarray(ids, dtype=np.int64)] = np.asarray(is_artefact, dtype=np.float32)
    return p, learnt is not None


#: How a tile reached by a label's spread names that tile, per ``ActiveConfig.spread_reach``.
REACH_WORDS = {"touching": "touches tile ", "source": "holds part of the source of tile "}


def reasons(
    n: int,
    base: np.ndarray | None,
    exclude: np.ndarray | None,
    scored: dict[int, float],
    artefact_ids: np.ndarray,
    artefact_trust: np.ndarray,
    artefact_like: np.ndarray,
    taught: np.ndarray | None,
    touches: np.ndarray,
    trust: np.ndarray,
    liked_like: np.ndarray,
    spared: np.ndarray | None = None,
    shape_like: np.ndarray | None = None,
    reach: str = "touching",
    listed: np.ndarray | None = None,
) -> np.ndarray:
    """Why each tile stands where it does in the re-ranked queue, in words, the strongest reason first.

    In order: left out by the ranking; labelled by the astronomer; like a tile labelled ARTEFACT
    (kernel weight >= 1/2); likely an artefact by what the ARTEFACT labels taught (``taught``, the
    probability, >= 1/2); its object shaped like that of a tile scored 4-5 (``spared`` >= 1/2, the tile
    ``shape_like``); touching a tile the astronomer scored; like a scored tile (trust >= 1/2).
    ``base`` (``rank``'s ``why``, e.g. "ring-like object, artefact score low") follows the reason,
    or stands alone when no label speaks for the tile.
    """
    out = (
        np.full(n, "ranked by its anomaly score", dtype=object)
        if base is None
        else np.asarray(base, dtype=object).copy()
    )
    tail = out.copy()
    done = np.zeros(n, dtype=bool)
    label_of = np.full(n, np.nan)
    label_of[list(scored)] = list(scored.values())
    label_text = np.full(n, "", dtype=object)
    label_text[list(scored)] = [f"{v:g}" for v in scored.values()]

    def put(mask: np.ndarray, *parts: str | np.ndarray) -> None:
        """Tiles in ``mask`` not explained yet get ``parts`` joined (strings, or arrays indexed per tile)."""
        rows = np.flatnonzero(mask & ~done)
        if rows.size:
            text = np.full(rows.size, "", dtype=object)
            for part in parts:
                text = text + (part if isinstance(part, str) else np.asarray(part)[rows].astype(str).astype(object))
            out[rows] = text + "; " + tail[rows] if base is not None else text
        done[rows] = True

    if exclude is not None:
        out[exclude] = "left out: blank or cut by the image edge"
        done |= exclude
    is_art = np.zeros(n, dtype=bool)
    is_art[artefact_ids] = True
    put(is_art, "you labelled it ARTEFACT")
    put(np.isfinite(label_of), "you scored it ", label_text)
    put(artefact_trust >= 0.5, "looks like tile ", artefact_like, " you labelled ARTEFACT")
    if taught is not None:
        put(taught >= 0.5, "artefact probability ", np.round(taught, 2), " from your labels")
    if spared is not None and shape_like is not None:
        like = (spared >= 0.5) & (shape_like >= 0)
        put(
            like,
            "its object is shaped like tile ",
            shape_like,
            "'s, which you scored ",
            label_text[np.maximum(shape_like, 0)],
        )
    if listed is not None:
        put(listed, "kept up by the anomaly list (your labels alone would rank it lower)")
    put(touches >= 0, REACH_WORDS[reach], touches, " you scored ", label_text[np.maximum(touches, 0)])
    near = (trust >= 0.5) & (liked_like >= 0)
    put(near, "looks like tile ", liked_like, " you scored ", label_text[np.maximum(liked_like, 0)])
    return out
