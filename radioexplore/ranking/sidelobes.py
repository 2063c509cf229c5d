"""An ARTEFACT label implicates the bright source whose sidelobes reach the labelled tile.

A calibration ripple is not a property of a tile but of one bright source: residual gain and
phase errors convolve that source with an error pattern whose rings and spokes reach hundreds of
pixels across the field, at a level that falls with distance from the source (Perley 1999,
"Synthesis Imaging in Radio Astronomy II", ch. 13; Grobler et al. 2014, MNRAS 439, 4030, on
direction-dependent calibration artefacts round bright sources). So when the astronomer labels a
tile ARTEFACT, the evidence is about its nearest bright source (the one whose errors the artefact
axis expects strongest there, :func:`radioexplore.ranking.artefacts._nearest_bright`) at that
distance: the other tiles of the same field round the same source at a similar distance carry the
same pattern at a similar expected level (within ``sqrt(ratio)``: the level falls as the square root
of the distance), and the tiles nearer the source carry it stronger, whatever their own features say. Far-out ripples whose troughs stay above -5 local
sigma read as sky in every artefact feature, so this is the only path by which such a label reaches
its siblings.

A tile that holds its own real extended object keeps its place: the weight is multiplied by
``1 - object_score`` (the tile's best object's score, shape x (1 - the object's own artefact score),
:mod:`radioexplore.ranking.object_score`), since a peculiar object in the ripples of a bright
neighbour is still what the astronomer wants shown (in the simulated DQF 2-3 fields most peculiar
tiles sit in such ripples).

Measured (benchmarks/README.md, issue 24, "An ARTEFACT label implicates its bright source"): on the
reported surveys the queue's artefacts in rounds 2-5 fell from 4.0 and 3.3 to 3.0 and 2.2 (re-ranker
seeds 0, 1), peculiar tiles found 0.543 -> 0.534 and 0.520 -> 0.520; on the fresh surveys nothing
changed, since there the artefacts queued after round 1 were the first of their field to be queued.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse


def sidelobe_geometry(scores: pd.DataFrame, fields: np.ndarray | None = None) -> pd.DataFrame | None:
    """Per tile (``scores`` in tile order): ``field`` code, the nearest bright source's ``x``, ``y`` (px),
    the tile's ``distance`` to it in beams, ``beam_px`` and ``protect`` (the object score in 0..1);
    None when the scores carry no bright-source position (an artefact cache from before it)."""
    need = ("artefact_bright_x", "artefact_bright_y", "artefact_bright_distance_beams", "artefact_beam_px")
    if any(c not in scores for c in need):
        return None
    if fields is None:
        fields = np.zeros(len(scores), dtype=np.int64)
    codes = pd.factorize(pd.Series(np.asarray(fields)).astype(str))[0]
    protect = scores["object_score"].to_numpy(dtype=float) if "object_score" in scores else np.zeros(len(scores))
    return pd.DataFrame(
        {
            "field": codes,
            "x": scores["artefact_bright_x"].to_numpy(dtype=float),
            "y": scores["artefact_bright_y"].to_numpy(dtype=float),
            "distance": scores["artefact_bright_distance_beams"].to_numpy(dtype=float),
            "beam_px": scores["artefact_beam_px"].to_numpy(dtype=float),
            "level": scores["artefact_expected_artefact_sigma"].to_numpy(dtype=float)
            if "artefact_expected_artefact_sigma" in scores
            else np.full(len(scores), np.nan),
            "protect": np.clip(np.nan_to_num(protect, nan=0.0), 0.0, 1.0),
        }
    )


class SidelobeKernels:
    """Per ARTEFACT-labelled tile, the weight its label carries for every tile through their shared bright
    source (module docstring), computed once per labelled tile and kept, as :class:`radioexplore.ranking.teach.LabelKernels`.

    Weight of label ``a`` on tile ``t``: 0 unless ``t`` is in ``a``'s field and its nearest bright source
    lies within ``match_beams`` of ``a``'s; then ``(1 - u^2)^2`` with ``u = ln((1 + d_t) / (1 + d_a)) / ln(ratio)``
    (``d`` in beams; 0 beyond a factor ``ratio`` in distance; with ``closer``, ``u`` is taken as 0 for every
    tile nearer the source than ``a``, where the same errors are stronger), times ``1 - protect_t``.
    ``whole_field``: any bright source of the field, ``u`` from the expected artefact levels instead
    (``-2 ln level``, which moves as ``ln d`` does for one source); tried, not the default (benchmarks/README.md).
    """

    def __init__(
        self,
        geometry: pd.DataFrame,
        ratio: float = 2.0,
        match_beams: float = 4.0,
        closer: bool = True,
        whole_field: bool = False,
    ) -> None:
        if not ratio > 1.0:
            raise ValueError(f"sidelobe ratio must exceed 1 (a factor in distance), not {ratio}")
        self.field = geometry["field"].to_numpy(dtype=np.int64)
        self.x = geometry["x"].to_numpy(dtype=np.float32)
        self.y = geometry["y"].to_numpy(dtype=np.float32)
        self.logd = np.log1p(np.maximum(np.nan_to_num(geometry["distance"].to_numpy(dtype=float), nan=np.inf), 0.0))
        self.logd = self.logd.astype(np.float32)
        self.beam = geometry["beam_px"].to_numpy(dtype=np.float32)
        self.keep = (1.0 - geometry["protect"].to_numpy(dtype=np.float32)).astype(np.float32)
        self.ratio, self.match_beams, self.closer = float(ratio), float(match_beams), bool(closer)
        self.whole_field = bool(whole_field)
        level = geometry["level"].to_numpy(dtype=float) if "level" in geometry else np.full(len(geometry), np.nan)
        # -2 ln(level): grows as ln(distance) does for one source (level ~ distance^-1/2), comparable across sources
        self.loglevel = (-2.0 * np.log(np.maximum(np.nan_to_num(level, nan=0.0), 1e-6))).astype(np.float32)
        self._rows: dict[int, sparse.csr_matrix] = {}
        order = np.argsort(self.field, kind="stable")
        self._order = order
        self._start = np.searchsorted(self.field[order], np.arange(self.field.max(initial=-1) + 2))

    def _row(self, a: int) -> sparse.csr_matrix:
        n = len(self.field)
        f = self.field[a]
        if not (np.isfinite(self.x[a]) and np.isfinite(self.logd[a]) and self.beam[a] > 0):
            return sparse.csr_matrix((1, n), dtype=np.float32)
        cand = self._order[self._start[f] : self._start[f + 1]]
        if self.whole_field:  # any bright source of the field, at a similar expected level
            u = (self.loglevel[cand] - self.loglevel[a]) / np.float32(np.log(self.ratio))
        else:
            reach = self.match_beams * self.beam[a]
            same = np.hypot(self.x[cand] - self.x[a], self.y[cand] - self.y[a]) <= reach
            cand = cand[same]
            u = (self.logd[cand] - self.logd[a]) / np.float32(np.log(self.ratio))
        if self.closer:  # nearer the source its errors are stronger: implicated in full
            u = np.maximum(u, 0.0)
        inside = np.abs(u) < 1.0
        cand, u = cand[inside], u[inside]
        w = (1.0 - u * u) ** 2 * self.keep[cand]
        return sparse.csr_matrix(
            (w.astype(np.float32), (np.zeros(len(cand), dtype=np.int64), cand)), shape=(1, n), dtype=np.float32
        )

    def rows(self, ids: np.ndarray) -> sparse.csr_matrix:
        """``[len(ids), N]`` weights of the labelled tiles ``ids``, in that order."""
        ids = np.asarray(ids, dtype=np.int64)
        for a in ids.tolist():
            if a not in self._rows:
                self._rows[a] = self._row(a)
        if not ids.size:
            return sparse.csr_matrix((0, len(self.field)), dtype=np.float32)
        return sparse.vstack([self._rows[a] for a in ids.tolist()], format="csr")
