"""An ARTEFACT label teaches across fields: tiles of any field whose own error evidence is as strong sink.

The label spread round one bright source (:mod:`radioexplore.ranking.sidelobes`) cannot reach a
field before its first ARTEFACT label; in the simulated DQF 2-3 surveys of issue 24 most artefacts
queued after round 1 were the first of their field (36 of 39 on the 13 development surveys). What
carries across fields is what a calibration artefact is in the image, not where it lies: residual
gain and phase errors leave a periodic ripple (rings, spokes, stripes) whose troughs are as deep as
its crests (Perley 1999, "Synthesis Imaging in Radio Astronomy II", ch. 13; Grobler et al. 2014,
MNRAS 439, 4030). The tile's own error evidence is the strongest of the terms of
:func:`radioexplore.ranking.active_features.teach_block` that it measures itself (negative beams,
negative share, ring contrast, ripple significance of :mod:`radioexplore.ranking.ripples`), each
in 0..1 against the 5 sigma detection convention, read back in sigma (``5 sqrt(e / (1 - e))``).
An ARTEFACT label on a tile whose evidence reaches ``s_a`` says that this survey's errors at that
level are artefacts; every unlabelled tile, in any field, whose evidence reaches ``s_a / ratio`` is
implicated with the weight ``(1 - u^2)^2``, ``u = ln(s_a / s_t) / ln(ratio)`` (1 at or above
``s_a``, as :mod:`radioexplore.ranking.sidelobes` implicates every tile nearer the source). The
source's distance, its brightness and the field's dynamic range are left out on purpose: the
first ARTEFACT labels of the development surveys lay a few beams from their source, the artefacts
queued after them tens of beams out, in other fields; what they shared was the ripple.

The row is multiplied by the labelled tile's evidence in 0..1, and a label whose evidence stays
below the 5 sigma detection convention teaches nothing across fields: a tile labelled ARTEFACT with
no ripple and no trough (a bright source's own residuals) says nothing about other fields' noise;
its source's tiles are reached by :mod:`radioexplore.ranking.sidelobes`. A tile holding its own
extended object keeps its place: the weight is multiplied by ``(1 - object_score)^2``. Ripple crests are detected
as objects too (object scores 0.4-0.9 in the development surveys' artefact tiles), and a peculiar
object in a bright neighbour's ripples carries the same ripple, so the square (the sidelobe reach
uses the first power) spares an object of score 0.7 to 0.09 of the weight, not 0.3; chosen on the
development surveys against the first power (benchmarks/README.md, issue 24, teach-across).

Measured there (``ActiveConfig.across_ratio``, off by default): on the 13 development surveys 1.1
fewer artefacts queued in rounds 2-5 (3.00 -> 1.92, 2.46 -> 1.38 at re-ranker seeds 0, 1), peculiar
tiles found 0.543 -> 0.541, 0.562 -> 0.553; on the 10 held-out surveys only 0.3-0.5 fewer (seeds
0, 1, 2), found -0.8 to +0.3 points: there most remaining artefacts come before any ARTEFACT label.
"""

from __future__ import annotations

import numpy as np

#: Columns of :func:`radioexplore.ranking.active_features.teach_block` that are the tile's own error
#: evidence: negative beams, negative share, ring contrast, ripple significance (not the axis score,
#: which mixes in the source's and the field's context, nor the expected level from the source).
EVIDENCE_COLUMNS = (1, 2, 3, 5)


def error_evidence(evidence: np.ndarray) -> np.ndarray | None:
    """The tile's own error evidence ``[N, 4]`` in 0..1 from a :func:`teach_block` ``[N, 6+]``; None when
    the block has no ripple column (an artefact block alone)."""
    evidence = np.asarray(evidence, dtype=np.float32)
    if evidence.ndim != 2 or evidence.shape[1] <= max(EVIDENCE_COLUMNS):
        return None
    return np.ascontiguousarray(evidence[:, EVIDENCE_COLUMNS])


class AcrossReach:
    """Per ARTEFACT-labelled tile, the weight its label carries for every tile of the survey through the
    strength of their own error evidence (module docstring).

    ``evidence``: :func:`error_evidence` ``[N, F]`` in 0..1; ``object_score``: each tile's best object's
    score in 0..1 (NaN: none); ``ratio`` (> 1): how much weaker than the label's evidence a tile's may
    be; ``min_sigma``: a label whose own evidence stays below it teaches nothing across fields (the
    5 sigma detection convention: below it a tile's ripple or trough is not evidence of an error).
    A label's weights depend only on its evidence level, so they are computed per label, densely, in
    one pass over the tiles (no kernel is kept: unlike a look-alike row, they reach most of a poor
    survey).
    """

    def __init__(
        self,
        evidence: np.ndarray,
        object_score: np.ndarray,
        ratio: float = 2.0,
        power: float = 2.0,
        min_sigma: float = 5.0,
    ) -> None:
        if not ratio > 1.0:
            raise ValueError(f"across ratio must exceed 1 (a factor in evidence), not {ratio}")
        evidence = np.nan_to_num(np.asarray(evidence, dtype=np.float32), nan=0.0)
        obj = np.clip(np.nan_to_num(np.asarray(object_score, dtype=np.float32), nan=0.0), 0.0, 1.0)
        if len(obj) != len(evidence):
            raise ValueError(f"{len(obj)} object scores for {len(evidence)} tiles of error evidence")
        self.strength = np.clip(evidence.max(axis=1), 0.0, 1.0) if evidence.shape[1] else np.zeros(len(evidence))
        e = np.minimum(self.strength, 0.999).astype(np.float64)
        self.level = (5.0 * np.sqrt(e / (1.0 - e))).astype(np.float32)  # x^2 / (x^2 + 25) read back in sigma
        self.log_level = np.log(np.maximum(self.level, 1e-6)).astype(np.float32)
        self.keep = ((1.0 - obj) ** power).astype(np.float32)
        self.log_ratio = float(np.log(ratio))
        self.min_sigma = float(min_sigma)

    def row(self, a: int) -> np.ndarray:
        """``[N]`` weights of the label on tile ``a`` (0 everywhere when its evidence is below ``min_sigma``)."""
        n = len(self.level)
        if not (self.level[a] > 0 and self.level[a] >= self.min_sigma):
            return np.zeros(n, np.float32)
        u = np.maximum((self.log_level[a] - self.log_level) / np.float32(self.log_ratio), 0.0)
        w = np.where(u < 1.0, (1.0 - u * u) ** 2, 0.0).astype(np.float32)
        return w * np.float32(self.strength[a]) * self.keep

    def strongest(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For every tile, the largest weight over the labelled tiles ``ids`` and the one it comes from (-1: none)."""
        n = len(self.level)
        weight, source = np.zeros(n, np.float32), np.full(n, -1, np.int64)
        for a in np.unique(np.asarray(ids, dtype=np.int64)).tolist():
            w = self.row(a)
            better = w > weight
            weight[better], source[better] = w[better], a
        return weight, source
