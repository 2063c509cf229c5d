"""Active learning: the astronomer's 1-5 interest scores re-rank the anomaly list.

The anomaly score of an Isolation Forest finds what is rare, not what is interesting: artefacts,
image borders and mosaicking residuals are rare too. Lochner & Bassett (2021, astronomaly) let the
user score objects 1-5, train a regressor of that score on the features, and blend the predicted
score with the anomaly score; Riggi et al. 2024 (seed 002, sec. 5.3) ran that loop on their radio
frames. This module does the same, written afresh:

1. the embedding is standardised as the forest saw it (per field, :mod:`radioexplore.ranking.standardise`)
   and reduced once by PCA fitted on the ranked tiles (:mod:`radioexplore.ranking.active_features`), so
   each re-rank is cheap;
2. a regressor, chosen by name from :data:`radioexplore.ranking.regressors.REGRESSORS`, learns interest
   from the labelled tiles;
3. a label reaches the touching tiles of its field (:mod:`radioexplore.ranking.spread`): a giant or
   X-shaped radio galaxy spans several tiles, and the tile holding only its core looks like any
   compact source, so the predicted interest of a tile next to one scored 5 is at least 4.2;
4. each tile gets a *trust* in that prediction from the labelled tiles near it: 1 on a labelled
   tile, 0 beyond a label's ``trust_k``-th nearest tile (:func:`radioexplore.ranking.teach.kernel_rows`;
   a label speaks for about its ``trust_k`` nearest tiles wherever it lies, and the kernel has
   compact support on purpose: near the top of the list anomaly quantiles differ by 1e-4, so even
   a faint long-range pull would reshuffle the whole top after every label);
5. a blend, chosen by name from :data:`radioexplore.ranking.blends.BLENDS`, combines the anomaly quantile,
   the predicted interest and the trust into ``active_score``; tiles the forest left out (blank, partial)
   stay last.

This module holds the settings (:class:`ActiveConfig`) and the ranker (:class:`ActiveRanker`); a run's
active ranking is written and read by :mod:`radioexplore.ranking.active_run`, and the next tiles to
show come from :func:`radioexplore.ranking.queue.review_queue`.

Three blends are offered. ``neighbour`` follows astronomaly's NeighbourScore idea: near labels
the anomaly score is scaled down by how boring the tile is predicted to be, and far from every
label it stands. ``mix`` (the default) adds a global mix of anomaly quantile and predicted
interest to that local demotion, so tiles like the liked ones rise wherever they are.
``interest`` ranks by predicted interest alone.

With a simulated astronomer (truth as oracle; ``benchmarks/active_learning.py``, mean of 4 seeds)
labelling 5 rounds of 10 queue tiles of three simulated 24-field surveys embedded with the
shipped ``demo`` network, the recall of peculiar tiles in the top 2% rose by +24.5 (31 -> 56%),
+22.5 (19 -> 42%) and +26.6 (27 -> 53%) points with the defaults (random forest, ``mix``);
without the reach to touching tiles by +14.9, +10.0 and +14.8; with the raw, unstandardised
embedding by +5 to +12. Single runs still move by 10-30 points with the seed (one peculiar tile
is 2-3 points), which is why the benchmark averages.

Labels also teach the queue what an artefact is (issue 24; :mod:`radioexplore.ranking.teach`):
an ARTEFACT or MOSAICKING label sinks the tiles that look like it in the artefact features and in
the regressor's features, and with the other labels (all counted as sky) it trains a classifier of
the tile's artefact evidence whose probability discounts the queue; the interest the regressor
predicts for a likely artefact is not believed. An ARTEFACT label also sinks the tiles round the same
bright source at a similar or smaller distance that hold no object of their own
(:mod:`radioexplore.ranking.sidelobes`): far-out ripples read as sky in every artefact feature.
With ``ActiveConfig.across_ratio`` (off by default: tried, benchmarks/README.md) it also sinks the tiles
of every field whose own error evidence (ripple, troughs) is as strong as the labelled tile's
(:mod:`radioexplore.ranking.across`), reaching fields that have no ARTEFACT label yet.
A PECULIAR / 5 label says "objects of this shape" (a ring, an X), which the tile's embedding barely
encodes (issue 24). Without the shape, a peculiar object beside a bright source shares every artefact
feature with the ripples round it and what the ARTEFACT labels taught sinks it with them: on 13
simulated development surveys, 38 of the 50 peculiar tiles of the unsupervised top 50 that 50 labels
left unfound were such tiles, at a taught artefact probability of 0.59 (the artefacts': 0.62).
Two settings (on by default since session 38) follow astronomaly's idea that the user's scores are learnt
in the features that carry what the user looks at (Lochner & Bassett 2021, A&C 36, 100481), with the top
object's shape as those features: where the run has objects (``objects.parquet``), the tile's top
object's shape as the object forest sees it (:func:`radioexplore.ranking.active_features.shape_block`)
sits beside the embedding for the regressor and the trust (``ActiveConfig.shape_weight``), and a tile
whose object is shaped like one scored 4-5 is spared, by its kernel weight in that shape space, the
taught artefact discount (``shape_protect``) and the push-down of the ARTEFACT labels' look-alikes
(``shape_protect_reach``). Measured at the issue's scale (benchmarks/README.md, issue 24, session 38): on
8 fresh surveys, a rule written first, 114 / 107 peculiar tiles found in 50 labels against 91 / 92
without (re-ranker seeds 0 / 1) for 2.88 ARTEFACT tiles in rounds 2-5 against 2.38 / 1.88; on 16 other
fresh ones 188 / 183 against 159 / 157 at as many artefacts. A concentric ripple is ring-shaped too:
at 128 px the same setting queues about one artefact more in rounds 2-5.
With ``ActiveConfig.spread_reach = "source"`` (:mod:`radioexplore.ranking.continuation`; off by default) a
label reaches the tiles its top object's source overlaps rather than every touching tile.
What a tile scored 4-5 teaches of artefacts (``ActiveConfig.liked_teach_sky``): by default every label
that is not ARTEFACT / MOSAICKING counts as sky for the labels' artefact classifier and its local
correction. A PECULIAR label speaks for the tile's object, positive emission; the tile's troughs and
ripples round it are the bright source's calibration errors (Perley 1999, "Synthesis Imaging in Radio
Astronomy II", ch. 13; Grobler et al. 2014, MNRAS 439, 4030), whatever the object is. With the option off
those labels do not teach that such evidence is sky. Measured (benchmarks/README.md, issue 24,
teach-peculiar): on simulated DQF-3 fields the liked tiles counted as sky were what let the ripples of their
fields back into the next queue, and leaving them out queues fewer artefacts but finds fewer peculiar
tiles (their neighbours in the artefact features are also peculiar objects beside bright sources).
The labels' artefact classifier is fitted on tiles the axis has already cleared (rank's default discounts a tile
by its axis score), so a few sky labels with troughs can turn its trough weights negative and it then reads the
deep negative rings of bright sources as sky (simulated 12:5: 8 of the 10 ARTEFACT tiles of round 3).
``ActiveConfig.teach_monotone`` (:mod:`radioexplore.ranking.monotone`; off by default) keeps those weights >= 0 and the
learnt probability at or above the axis score: on 14 held-out simulated surveys 3.86 / 3.64 -> 2.93 / 3.07 ARTEFACT
tiles in rounds 2-5 (re-ranker seeds 0 / 1), but 1 and 3 fewer peculiar tiles found (benchmarks/README.md, issue 24,
"Labels that read troughs as sky").
Far from every labelled tile a regressor fitted on a few labels predicts about their mean (a forest cannot
extrapolate). ``ActiveConfig.far_prior`` (:mod:`radioexplore.ranking.far_prior`; off by default) shrinks the
prediction toward the tile's anomaly quantile as a Gaussian process's posterior mean reverts to its prior away from
the data. It does not reach round 2's artefacts in simulated 12:5: those ripple tiles lie within the labels' own
spacing and their anomaly quantiles (0.70-0.96) are as high as the forest's guess (benchmarks/README.md, issue 24,
far-labels).
``ActiveConfig.lanes`` (:mod:`radioexplore.ranking.lanes`; off by default) lets the labels weigh rank's two lanes, the
forest's and the objects', by the interest each lane's labelled tiles earned. It changed nothing on 14 held-out
simulated surveys: the artefacts the queue brings back are mostly object-led tiles (43 of 54), radio galaxies crossed
by ripples, so both lanes lose weight alike (benchmarks/README.md, issue 24, loop-lanes).
``ActiveConfig.list_hedge`` (on by default since session 39) hedges the labels against the anomaly list: once
labelled, a tile stands where the larger of two quantiles puts it, the labels' blend's or the list's under the same
ARTEFACT push-downs (the taught discount and the look-alikes' push-down), as rank's default takes the larger of its two
lanes' quantiles. Ten to fifty labels cannot speak for every tile: a forest fitted on tiles scored 3 and 5 reads a
giant's lobe as another ordinary double (on 8 fresh surveys the unlabelled top 50 held 115 peculiar tiles and the loop
found 87; of the giants' tiles 21 against the list's 41: benchmarks/README.md, issue 24, session 39). No single query
strategy wins everywhere, so the queue takes the best of each (Baram, El-Yaniv & Luz 2004, JMLR 5, 255). Measured on
16 fresh surveys with a rule written first: 92 / 95 and 88 / 90 found against 87 / 90 and 88 / 86, for 0.25-0.75 more
ARTEFACT tiles in rounds 2-5 (1.8-2.1); at 128 px 185 against 178 and fewer artefacts.
Each re-ranked tile says why it stands where it does (``why``: "touches tile 44 you scored 5; ring-like object, artefact score low").

Re-ranking 10^5 tiles of 384 dimensions after one new label takes 0.45 s of CPU (0.27 s wall) with the defaults
(``benchmarks/rerank_speed.py``); the PCA is done once per :class:`ActiveRanker`, which is what
the app keeps between labels, and so are the kernels of the labelled tiles (a new label adds one);
the per-field scaling is the one ``rank`` saved beside its scores (:func:`ranking_context`), so a
session's preparation takes 0.6 s of CPU at 10^5 tiles instead of 3 s.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.ranking.across import AcrossReach, error_evidence
from radioexplore.ranking.active_features import (
    artefact_block,
    joint_features,
    reduce_features,
    scaled_block,
    shape_block,
    teach_block,
    tile_morphology,
)
from radioexplore.ranking.blends import BLENDS, anomaly_quantile
from radioexplore.ranking.continuation import source_reach
from radioexplore.ranking.far_prior import PRIORS, label_reach, shrink_to_prior
from radioexplore.ranking.forest import ranks_of
from radioexplore.ranking.lanes import Lanes
from radioexplore.ranking.monotone import MONOTONE
from radioexplore.ranking.pattern_geometry import tile_pattern_evidence
from radioexplore.ranking.rank import ranking_context
from radioexplore.ranking.regressors import REGRESSORS
from radioexplore.ranking.sidelobes import SidelobeKernels, sidelobe_geometry
from radioexplore.ranking.spread import spread_interest
from radioexplore.ranking.standardise import FieldStandardisation
from radioexplore.ranking.teach import PREVALENCE, LabelKernels, artefact_probability, reasons, strongest
from radioexplore.registry import lookup
from radioexplore.run.labels.values import INTEREST_RANGE
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiling import tile_adjacency

SPREAD_REACH = ("touching", "source")  # ActiveConfig.spread_reach
LIKED = 4  # an interest score from which a label says "show me more like this" (shape_protect, liked_teach_sky)


log = logging.getLogger(__name__)

#: What spares a tile's own object from the doubt the ARTEFACT labels cast on its predicted interest.
BELIEVE_PROTECT = ("off", "object", "morph")


@dataclass(frozen=True)
class ActiveConfig:
    """How interest scores re-rank the anomaly list."""

    regressor: str = "rf"  # astronomaly's choice, and the best measured with "mix" (benchmarks/README.md)
    blend: str = "mix"  # see BLENDS; "neighbour" is astronomaly's local, multiplicative form
    n_components: int = 32  # PCA components the regressor sees (0: the raw embedding)
    trust_k: int = 32  # a label's prediction is trusted out to its trust_k-th nearest tile, not beyond
    alpha: float = 1.0  # larger: trust reaches further (astronomaly has a similar tuning factor)
    weight: float = 0.5  # mix: share of predicted interest in the blend
    floor: float = 0.1  # neighbour: factor left on a confidently boring tile's anomaly score
    spread: float = 0.8  # a label reaches the touching tiles of its field: their interest >= 1 + spread (label - 1)
    spread_reach: str = "touching"  # which tiles: "touching" (every touching tile) or "source" (the tiles the
    # labelled tile's top object's source overlaps, ranking.continuation; touching where the run has no objects)
    artefact_weight: float = 1.0  # artefact features' variance beside the embedding's, for regressor and trust
    artefact_penalty: float = 0.9  # an ARTEFACT / MOSAICKING label sinks its look-alikes by up to this
    artefact_discount: bool = False  # with labels, the blend x (1 - artefact score) (measured: benchmarks/README.md)
    artefact_teach: bool = True  # labels teach what an artefact is (radioexplore.ranking.teach; see rerank)
    artefact_prior_weight: float = 1.0  # the artefact prior counts as this many labels at the tile itself
    sidelobe_ratio: float = 2.0  # an ARTEFACT label sinks its source's tiles within this factor in distance (0: off)
    sidelobe_match_beams: float = 4.0  # tiles whose nearest bright sources lie this close share a source
    sidelobe_closer: bool = True  # and every tile nearer the source, where its errors are stronger
    sidelobe_whole_field: bool = False  # any source of the field at a similar level (tried, benchmarks/README)
    teach_field_context: bool = False  # the labels' regression also reads the field's DQF and dynamic range
    # the taught discount spares a tile's own object: x (1 - p (1 - object)); on since session 37 with liked_teach_sky
    # False (at the scale, 256 px tiles: more peculiar tiles found, fewer artefacts; benchmarks/README.md)
    artefact_object_protect: bool = True
    across_ratio: float = 0.0  # >1: an ARTEFACT label sinks tiles of any field whose own error evidence
    # reaches its own / this factor (ranking.across; tried, not the default: benchmarks/README.md); 0: off
    across_power: float = 2.0  # ... times (1 - the tile's object score) ** this
    across_min_sigma: float = 5.0  # a label whose own evidence stays below this many sigma teaches nothing across
    # the tile's top object's shape (objects.parquet) beside the embedding, this share of its variance, for the
    # regressor and the trust (active_features.shape_block; 0: off; a run without objects: off); 0.5 with
    # shape_protect since session 38 (24 fresh surveys at the scale: benchmarks/README.md, issue 24)
    shape_weight: float = 0.5
    shape_protect: bool = True  # a tile whose top object looks like one scored >= 4 is spared, by that kernel weight,
    # what the ARTEFACT labels taught: the taught artefact discount (needs objects)
    shape_protect_reach: bool = True  # ... and the push-down of the ARTEFACT labels' look-alikes
    pattern_geometry: bool = False  # the labels' regression also reads the tile's top object's alignment with its
    # bright source's error pattern (ranking.pattern_geometry; needs objects; tried, not the default: benchmarks/README)
    teach_monotone: str = "off"  # the labels' artefact classifier may not read error evidence as sky: "sign" (its
    # coefficients >= 0), "floor" (never below the axis score), "both" (ranking.monotone; tried: benchmarks/README)
    far_prior: str = "off"  # far from every labelled tile the regressor's prediction falls back to a prior, by a
    # weight that decays with the distance to the nearest label in the labels' own spacing: "quantile" (the anomaly
    # quantile on the 1-5 scale), "lowest" (1) (ranking.far_prior; tried, benchmarks/README.md, far-labels)
    teach_prevalence: str = "balanced"  # the labels' artefact classifier read at equal priors ("balanced") or at
    # the labels' own share of ARTEFACT ("labels": ranking.teach.at_prevalence; see benchmarks/README.md)
    liked_teach_sky: bool = False  # True: a tile scored >= 4 counts as sky for what the labels teach of artefacts;
    # False (default since session 37): it vouches for its object only, not for the troughs and ripples round it
    # once labelled, a tile stands where the larger of two quantiles puts it: the labels' blend's, or the anomaly
    # list's under the same ARTEFACT push-downs (the list's best unlabelled tiles stay near the queue's top); on
    # since session 39 (16 fresh surveys at the scale, a rule written first: benchmarks/README.md, issue 24)
    list_hedge: bool = True
    # the belief in a tile's predicted interest spares its own object: the regressor's guess believed as far as
    # 1 - p (1 - object score) ("object", as the taught discount, needs artefact_object_protect), as far as
    # 1 - p (1 - morphology evidence) ("morph": ring, X, giant; needs objects written with --morph), or 1 - p ("off")
    believe_protect: str = "off"
    lanes: bool = False  # once labelled, rank's two lanes (forest, objects) weighted by the interest each lane's
    # labelled tiles earned (ranking.lanes; needs rank's object_score)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.spread <= 1.0:
            raise ValueError(f"spread must lie in [0, 1] (0: labels do not reach touching tiles), not {self.spread}")
        if not 0.0 <= self.artefact_penalty <= 1.0:
            raise ValueError(f"artefact_penalty must lie in [0, 1], not {self.artefact_penalty}")
        if self.artefact_weight < 0:
            raise ValueError(f"artefact_weight must not be negative, not {self.artefact_weight}")
        if not self.artefact_prior_weight > 0:
            raise ValueError(f"artefact_prior_weight must be positive, not {self.artefact_prior_weight}")
        if self.sidelobe_ratio != 0 and not self.sidelobe_ratio > 1:
            raise ValueError(
                f"sidelobe_ratio must exceed 1 (a factor in distance), or be 0 (off), not {self.sidelobe_ratio}"
            )
        if self.shape_weight < 0:
            raise ValueError(f"shape_weight must not be negative (0: off), not {self.shape_weight}")
        if self.far_prior not in ("off", *PRIORS):
            raise ValueError(f"far_prior must be 'off' or one of {PRIORS}, not {self.far_prior!r}")
        if self.spread_reach not in SPREAD_REACH:
            raise ValueError(f"spread_reach must be one of {SPREAD_REACH}, not {self.spread_reach!r}")
        if self.believe_protect not in BELIEVE_PROTECT:
            raise ValueError(f"believe_protect must be one of {BELIEVE_PROTECT}, not {self.believe_protect!r}")
        if self.teach_prevalence not in PREVALENCE:
            raise ValueError(f"teach_prevalence must be one of {PREVALENCE}, not {self.teach_prevalence!r}")
        if self.teach_monotone not in MONOTONE:
            raise ValueError(f"teach_monotone must be one of {MONOTONE}, not {self.teach_monotone!r}")
        if self.across_ratio != 0 and not self.across_ratio > 1:
            raise ValueError(
                f"across_ratio must exceed 1 (a factor in evidence), or be 0 (off), not {self.across_ratio}"
            )


def spread_reach_of(config: ActiveConfig, has_objects: bool) -> str:
    """Which tiles a label's spread reaches with ``config`` on a run with or without ``objects.parquet``:
    "source" where the config asks for it (and spreads at all) and the objects are there, else "touching"."""
    return "source" if config.spread > 0 and config.spread_reach == "source" and has_objects else "touching"


class ActiveRanker:
    """Re-ranks one embedding set's anomaly list from interest scores; keep one per app session.

    Parameters
    ----------
    emb
        ``[N, D]`` embeddings, row i is tile i.
    anomaly
        ``[N]`` anomaly scores (higher = more anomalous), e.g. ``scores/<name>.parquet`` ``score``.
    scaling
        The forest's standardisation (:func:`radioexplore.ranking.standardise.fit_scaling`): the regressor
        and the trust distances see each tile against its own field, as the forest did. Without it,
        a field observed with another beam takes the first components, and a label on one tile of
        that field speaks for the whole field.
    exclude
        ``[N]`` True for tiles the forest left out (blank, partial): they stay last, as in the anomaly
        ranking, whatever the regressor predicts for them.
    adjacency
        ``[N, N]`` sparse matrix of touching tiles (:func:`radioexplore.run.tiling.tile_adjacency`), or of
        the tiles each tile's top object's source overlaps (:func:`radioexplore.ranking.continuation.source_reach`):
        a label reaches them by ``config.spread`` (:mod:`radioexplore.ranking.spread`).
    artefacts
        ``[N, F]`` artefact features in 0..1 (:func:`radioexplore.ranking.active_features.artefact_block`):
        appended to the embedding's components, scaled to ``config.artefact_weight`` of their total
        variance, so that the regressor and the trust see what makes a tile an artefact; and the space
        in which an ARTEFACT label sinks its look-alikes.
    evidence
        ``[N, F']`` the tile's own artefact evidence that the labels' logistic regression reads
        (:func:`radioexplore.ranking.active_features.teach_block`: the block and the ripple
        significance), its first column the axis score; ``artefacts`` when None.
    sidelobes
        Per tile, its nearest bright source and the distance to it (:func:`radioexplore.ranking.sidelobes.sidelobe_geometry`):
        an ARTEFACT label also sinks the tiles round the same source at a similar distance, unless they hold
        their own object (:mod:`radioexplore.ranking.sidelobes`); with ``config.artefact_object_protect`` its
        object scores also spare a tile's own object from the taught discount, and with ``config.across_ratio``
        they spare it from an ARTEFACT label's reach to other fields (:mod:`radioexplore.ranking.across`,
        which reads its error evidence from ``evidence``); None: not used.
    shapes
        ``[N, F'']`` each tile's top object's shape (:func:`radioexplore.ranking.active_features.shape_block`),
        zeros and a 0 in its last column for a tile without one: beside the embedding for the regressor
        and the trust (``config.shape_weight``), and the space in which a tile scored 4-5 spares its
        look-alikes what the ARTEFACT labels taught (``config.shape_protect``); None (a run without
        ``objects.parquet``: stamps, synthetic runs): neither, as before.
    signed
        How many leading columns of ``evidence`` only an artefact raises (all when None): with
        ``config.teach_monotone`` "sign" or "both" the labels' classifier keeps their weights >= 0
        (:mod:`radioexplore.ranking.monotone`).
    reach
        What ``adjacency`` holds, for the words of ``why``: "touching" tiles, or the tiles of one "source"
        (``config.spread_reach`` asks for the source; :meth:`from_run` falls back to touching tiles where
        the run has no objects, and says so here).
    morphology
        ``[N]`` each tile's largest ring, X or giant evidence (:func:`radioexplore.ranking.active_features.tile_morphology`):
        with ``config.believe_protect`` "morph" it spares the tile's own object the doubt the ARTEFACT labels cast on
        its predicted interest; None: not used.

    Measured with a simulated astronomer: see the module's docstring.
    """

    def __init__(
        self,
        emb: np.ndarray,
        anomaly: np.ndarray,
        config: ActiveConfig = ActiveConfig(),
        scaling: FieldStandardisation | None = None,
        exclude: np.ndarray | None = None,
        adjacency: Any = None,
        artefacts: np.ndarray | None = None,
        why: Any = None,
        evidence: np.ndarray | None = None,
        sidelobes: pd.DataFrame | None = None,
        shapes: np.ndarray | None = None,
        signed: int | None = None,
        lanes: Lanes | None = None,
        reach: str = "touching",
        morphology: np.ndarray | None = None,
    ) -> None:
        lookup(REGRESSORS, config.regressor, "regressor")
        lookup(BLENDS, config.blend, "blend")
        anomaly = np.asarray(anomaly, dtype=np.float32)
        n = len(emb)
        if len(anomaly) != n:
            raise ValueError(f"{len(anomaly)} anomaly scores for {n} embeddings; re-run `radioexplore rank`")
        if exclude is not None and len(exclude) != n:
            raise ValueError(f"exclude has {len(exclude)} entries for {n} embeddings")
        if adjacency is not None and adjacency.shape != (n, n):
            raise ValueError(f"adjacency is {adjacency.shape} for {n} tiles; build it from this run's tiles table")
        self.config = config
        self._kernels: dict[str, LabelKernels] = {}  # per feature space, the labelled tiles' kernels
        self.why = None if why is None else np.asarray(why, dtype=object)
        if self.why is not None and len(self.why) != n:
            raise ValueError(f"{len(self.why)} reasons (why) for {n} embeddings; re-run `radioexplore rank`")
        self.anomaly = anomaly
        self.anomaly_q = anomaly_quantile(anomaly)
        self.exclude = None if exclude is None or not np.any(exclude) else np.asarray(exclude, dtype=bool)
        if reach not in SPREAD_REACH:
            raise ValueError(f"reach must be one of {SPREAD_REACH}, not {reach!r}")
        self.adjacency, self.reach = adjacency, reach
        keep = None if self.exclude is None else ~self.exclude
        self.features = reduce_features(emb, config.n_components, config.seed, scaling=scaling, keep=keep)
        self.artefacts = None
        self.joint = self.features  # what the regressor and the trust see: the embedding, and the artefact block
        if artefacts is not None:
            self.artefacts = np.nan_to_num(np.asarray(artefacts, dtype=np.float32).reshape(n, -1))
            self.joint = joint_features(self.features, self.artefacts, config.artefact_weight, keep)
        self.shapes = None  # the top object's shape block (active_features.shape_block), when given
        if shapes is not None:
            self.shapes = np.nan_to_num(np.asarray(shapes, dtype=np.float32).reshape(n, -1))
            block = scaled_block(self.features, self.shapes, config.shape_weight, keep)
            if block is not None:
                self.joint = np.ascontiguousarray(np.hstack([self.joint, block]), dtype=np.float32)
        self.sidelobes = None
        self.morphology = None  # each tile's largest morphology evidence (ring, X, giant), where given
        if morphology is not None:
            if len(morphology) != n:
                raise ValueError(
                    f"morphology has {len(morphology)} rows for {n} embeddings; re-run `radioexplore objects`"
                )
            self.morphology = np.clip(np.nan_to_num(np.asarray(morphology, dtype=np.float32)), 0.0, 1.0)
        self.object_keep = None  # 1 - each tile's object score, where the geometry gives it
        if sidelobes is not None:
            if len(sidelobes) != n:
                raise ValueError(
                    f"sidelobe geometry has {len(sidelobes)} rows for {n} embeddings; re-run `radioexplore rank`"
                )
            self.object_keep = 1.0 - sidelobes["protect"].to_numpy(dtype=np.float32)
        if sidelobes is not None and config.sidelobe_ratio > 0:
            self.sidelobes = SidelobeKernels(
                sidelobes,
                config.sidelobe_ratio,
                config.sidelobe_match_beams,
                config.sidelobe_closer,
                config.sidelobe_whole_field,
            )
        self.lanes = lanes if config.lanes else None  # rank's two lanes, when the labels choose between them
        self.signed = signed  # leading evidence columns that only an artefact raises (config.teach_monotone)
        self.evidence = self.artefacts
        if evidence is not None and self.artefacts is not None:
            self.evidence = np.nan_to_num(np.asarray(evidence, dtype=np.float32).reshape(n, -1))
        self.across = None  # an ARTEFACT label's reach to other fields through the tiles' own error evidence
        own = error_evidence(self.evidence) if config.across_ratio > 0 and self.evidence is not None else None
        if own is not None and self.object_keep is not None:
            self.across = AcrossReach(
                own, 1.0 - self.object_keep, config.across_ratio, config.across_power, config.across_min_sigma
            )

    @classmethod
    def from_run(cls, run: RunDir, name: str, config: ActiveConfig = ActiveConfig()) -> ActiveRanker:
        """The ranker of ``embeddings/<name>`` and ``scores/<name>.parquet`` of a run, with the last
        ranking's standardisation and exclusions and the run's touching tiles (with ``config.spread_reach``
        "source", the tiles each tile's top object's source overlaps, from ``objects.parquet``)."""
        scores = run.read_scores(name).sort_values("tile_id")
        tiles = run.read_tiles()
        emb = run.read_embeddings(name)
        scaling, exclude = ranking_context(run, name, tiles, emb)
        by_source = config.spread > 0 and config.spread_reach == "source"
        wanted = by_source or config.pattern_geometry or config.shape_weight > 0 or config.shape_protect
        wanted = wanted or config.believe_protect == "morph"
        objects = pd.read_parquet(run.objects) if wanted and run.objects.is_file() else None  # read once
        reach = spread_reach_of(config, objects is not None)
        adjacency = None
        if reach == "source":
            adjacency = source_reach(objects, len(scores))
        elif config.spread > 0 and {"field", "x0", "y0", "size"} <= set(tiles.columns):
            adjacency = tile_adjacency(tiles["field"].astype(str).to_numpy(), tiles["x0"], tiles["y0"], tiles["size"])
        why = scores["why"].to_numpy() if "why" in scores else None
        fields = tiles.set_index("tile_id")["field"].reindex(scores["tile_id"]).to_numpy() if "field" in tiles else None
        pattern = (
            tile_pattern_evidence(objects, scores, fields)
            if config.pattern_geometry and fields is not None and objects is not None
            else None
        )
        evidence = teach_block(scores, config.teach_field_context, pattern)
        morphology = tile_morphology(objects, len(scores)) if config.believe_protect == "morph" else None
        if config.believe_protect == "morph" and morphology is None:
            log.warning(
                "believe_protect='morph' needs %s with a morph_evidence column (run `radioexplore objects`); "
                "without it the belief is doubted as with 'off'",
                run.objects,
            )
        return cls(
            emb,
            scores["score"].to_numpy(),
            config,
            scaling,
            exclude,
            adjacency,
            artefact_block(scores),
            why,
            evidence,
            sidelobe_geometry(scores, tiles.set_index("tile_id")["field"].reindex(scores["tile_id"]).to_numpy())
            if "field" in tiles.columns
            else None,
            shape_block(objects, len(scores))
            if (config.shape_weight > 0 or config.shape_protect) and objects is not None
            else None,
            # the pattern's alignment (last column, when there) is no one-signed evidence of an artefact
            None if pattern is None or evidence is None else evidence.shape[1] - 1,
            Lanes.from_scores(scores, None if exclude is None else ~np.asarray(exclude, dtype=bool))
            if config.lanes
            else None,
            reach,
            morphology,
        )

    def __len__(self) -> int:
        return len(self.anomaly)

    def kernels(self, space: str) -> LabelKernels:
        """The labelled tiles' kernels in ``space``, kept between re-ranks (a new label costs one row):
        "artefact", the artefact block (the joint features when there is none), or "joint", the
        embedding's components beside the artefact block (what the regressor and the trust see), or
        "shape", the top object's shape block (where a tile scored 4-5 spares its look-alikes)."""
        if space not in self._kernels:
            if space == "shape":
                if self.shapes is None:
                    raise ValueError("no shape block: build the ranker with the run's objects (shapes=...)")
                feats = self.shapes
            else:
                feats = self.artefacts if space == "artefact" and self.artefacts is not None else self.joint
            self._kernels[space] = LabelKernels(feats, self.config.trust_k, self.config.alpha)
        return self._kernels[space]

    def rerank(self, interest: pd.Series | Mapping[int, float], artefacts: Any = ()) -> pd.DataFrame:
        """The blended ranking given interest scores per tile id, and the tiles labelled ARTEFACT or
        MOSAICKING (``artefacts``, :func:`radioexplore.ranking.active_run.artefact_labelled`).

        With artefact features and ``config.artefact_teach`` the labels teach the queue what an
        artefact is (:mod:`radioexplore.ranking.teach`): every tile gets ``artefact_probability``,
        the axis updated by the labels (every other label counts as a tile that is no artefact);
        the interest the regressor predicts for a tile, and what a labelled touching tile vouches
        for, are believed only as far as the tile is no artefact (``1 + (predicted - 1)(1 - p)``: a
        tile scored 5 beside a bright source says its object is peculiar, not the ripples that fill
        its neighbours; in simulated DQF 2-3 fields those neighbours were most of the artefacts the
        queue brought back after ARTEFACT labels; ``config.believe_protect`` spares the tile's own object,
        ``p (1 - object score)`` or ``p (1 - morphology evidence)``), and once the labels hold an ARTEFACT and another label
        the whole score is multiplied by ``1 - p``. Then each tile's score is multiplied by
        ``1 - artefact_penalty x artefact_trust``, the kernel weight of its nearest ARTEFACT-labelled
        tile in the artefact features or in the regressor's features, whichever is larger (and, where
        configured, through its bright source and through the strength of its error evidence in any field).
        With ``shapes`` and ``config.shape_protect``, a tile whose top object is shaped like that of a tile
        scored 4-5 has its artefact probability (and, with ``config.shape_protect_reach``, that push-down)
        multiplied by ``1 - w``, ``w`` the kernel weight of the nearest such tile in the shape space
        (``trust_k`` nearest, as the trust). With ``config.list_hedge`` (the default) the active score is then
        the larger of two quantiles: that score's, and the anomaly quantile's under the same two ARTEFACT
        push-downs (the taught discount and the look-alikes'), so the list's best unlabelled tiles stay in the queue.

        Returns one row per tile, in tile order: ``tile_id``, ``score`` (anomaly), ``predicted_interest``
        (NaN before any label; at least what labelled touching tiles vouch for, :mod:`radioexplore.ranking.spread`),
        ``trust``, ``artefact_trust``, ``artefact_probability`` (NaN without artefact features),
        ``touches_liked`` (the labelled touching tile that vouches most for an unlabelled tile, -1
        for none), ``labelled``, ``active_score``, ``active_rank`` (1 first; excluded tiles last) and
        ``why`` (what put the tile there, in words). With no label yet, the active ranking is the
        anomaly ranking.
        """
        config = self.config
        series = pd.Series(interest, dtype=float).dropna()
        series = series.groupby(level=0).last()
        ids = series.index.to_numpy(dtype=np.int64)
        n = len(self)
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            bad = ids[(ids < 0) | (ids >= n)]
            raise ValueError(f"interest given for tiles {bad[:5].tolist()} that do not exist (tiles 0..{n - 1})")
        art_ids = np.unique(np.asarray(list(artefacts), dtype=np.int64))
        art_ids = art_ids[(art_ids >= 0) & (art_ids < n)]
        labelled = np.zeros(n, dtype=bool)
        labelled[ids] = True
        y = series.to_numpy(dtype=np.float32)
        # the artefact probability: the axis, and what the labels say of it
        p_art = np.full(n, np.nan, dtype=np.float32)
        taught = False
        if self.artefacts is not None:
            p_art = np.clip(self.artefacts[:, 0], 0.0, 1.0)
            all_ids = np.union1d(ids, art_ids)
            # what teaches: every label, or (liked_teach_sky False) all but the tiles scored 4-5, whose label
            # speaks for their object, not for the tile's negative troughs and ripples
            teach_ids = all_ids if config.liked_teach_sky else np.union1d(ids[y < LIKED], art_ids)
            if config.artefact_teach and teach_ids.size:
                p_art, taught = artefact_probability(
                    self.evidence,
                    self.kernels("artefact").rows(teach_ids),
                    teach_ids,
                    np.isin(teach_ids, art_ids),
                    config.artefact_prior_weight,
                    config.seed,
                    config.teach_monotone,
                    self.signed,
                    config.teach_prevalence,
                )
                p_art[all_ids] = np.isin(all_ids, art_ids).astype(np.float32)  # a labelled tile is what it was called
        # how far a liked object's shape vouches that a tile is no artefact, and which liked tile vouches
        spared, shape_like = np.zeros(n, dtype=np.float32), np.full(n, -1, dtype=np.int64)
        if config.shape_protect and self.shapes is not None and ids.size and np.any(y >= LIKED):
            liked = ids[y >= LIKED]
            spared, shape_like = strongest(self.kernels("shape").rows(liked), liked)
            spared[ids], shape_like[ids] = 0.0, -1
        if taught and spared.any():
            p_art = (p_art * (1.0 - spared)).astype(np.float32)
            p_art[all_ids] = np.isin(all_ids, art_ids).astype(np.float32)
        touches = np.full(n, -1, dtype=np.int64)
        liked_like = np.full(n, -1, dtype=np.int64)
        if ids.size == 0:
            predicted = np.full(n, np.nan, dtype=np.float32)
            trust = np.zeros(n, dtype=np.float32)
            active, listed = self.anomaly_q.copy(), self.anomaly_q.copy()
        else:
            anomaly_q = self.anomaly_q
            if self.lanes is not None:  # the labels say which of rank's lanes earned their interest
                lane_ids = np.union1d(ids, art_ids)
                lane_y = series.reindex(lane_ids).fillna(INTEREST_RANGE[0]).to_numpy()  # ARTEFACT alone: lowest
                anomaly_q = anomaly_quantile(self.lanes.prior(lane_ids, lane_y))
            listed = anomaly_q.copy()  # the anomaly list (as the lanes weigh it), for config.list_hedge
            model = REGRESSORS[config.regressor](len(ids), config.seed)
            with warnings.catch_warnings():  # a GP on a handful of labels warns about its kernel bounds
                warnings.simplefilter("ignore", category=UserWarning)
                model.fit(self.joint[ids], y)
            regressed = np.asarray(model.predict(self.joint), dtype=np.float32)
            if config.far_prior != "off":  # far from every label the prediction carries nothing of them: the prior
                regressed = shrink_to_prior(regressed, anomaly_q, label_reach(self.joint, ids), config.far_prior)
            vouched, touches = spread_interest(self.adjacency, ids, y, config.spread, n)
            predicted = np.maximum(regressed, vouched)
            predicted[ids] = y  # a labelled tile's interest is known, not predicted
            touches[ids] = -1
            trust, liked_like = strongest(self.kernels("joint").rows(ids), ids)
            believed = predicted
            if config.artefact_teach and self.artefacts is not None:
                lo = INTEREST_RANGE[0]
                # a liked tile vouches that its object continues next door, not for the sidelobes beside it:
                # what it vouches for is believed, like the regressor's guess, as far as the tile is no artefact
                doubt = p_art  # what the labels taught of the sky, not of the tile's own object
                if (
                    config.believe_protect == "object"
                    and config.artefact_object_protect
                    and self.object_keep is not None
                ):
                    doubt = p_art * self.object_keep
                elif config.believe_protect == "morph" and self.morphology is not None:
                    doubt = p_art * (1.0 - self.morphology)
                believed = (lo + (np.maximum(regressed, vouched) - lo) * (1.0 - doubt)).astype(np.float32)
                believed[ids] = y
            active = BLENDS[config.blend](anomaly_q, believed, trust, config)
            if self.artefacts is not None and config.artefact_discount:
                # the blend discounted as rank's default discounts the anomaly (benchmarks/README.md: fewer
                # artefacts queued, fewer peculiar tiles found; off by default)
                active = (active * (1.0 - np.clip(self.artefacts[:, 0], 0.0, 1.0))).astype(np.float32)
        # the list is pushed down as the blend is by what the ARTEFACT labels say
        if taught:
            discount = p_art
            if config.artefact_object_protect and self.object_keep is not None:
                discount = p_art * self.object_keep
            active = (active * (1.0 - discount)).astype(np.float32)
            if config.list_hedge:
                listed = (listed * (1.0 - discount)).astype(np.float32)
        art_trust = np.zeros(n, dtype=np.float32)
        art_like = np.full(n, -1, dtype=np.int64)
        if art_ids.size and config.artefact_penalty > 0:
            spaces = ("artefact", "joint") if self.artefacts is not None else ("joint",)
            for space in spaces:
                weight, source = strongest(self.kernels(space).rows(art_ids), art_ids)
                better = weight > art_trust
                art_trust[better], art_like[better] = weight[better], source[better]
            reaches = []
            if self.sidelobes is not None:
                reaches.append(strongest(self.sidelobes.rows(art_ids), art_ids))
            if self.across is not None:
                reaches.append(self.across.strongest(art_ids))
            for weight, source in reaches:
                better = weight > art_trust
                art_trust[better], art_like[better] = weight[better], source[better]
            # a liked object's shape also spares its look-alikes the ARTEFACT labels' push-down
            if config.shape_protect_reach and spared.any():
                art_trust = (art_trust * (1.0 - spared)).astype(np.float32)
            active = (active * (1.0 - config.artefact_penalty * art_trust)).astype(np.float32)
            if config.list_hedge:
                listed = (listed * (1.0 - config.artefact_penalty * art_trust)).astype(np.float32)
        held = None  # tiles the anomaly list holds above where the labels' blend puts them
        if config.list_hedge and ids.size:
            blended, kept = anomaly_quantile(active), anomaly_quantile(listed)
            held = kept > blended
            active = np.maximum(blended, kept).astype(np.float32)
        if self.exclude is not None:
            active = np.where(self.exclude, -1.0, active).astype(np.float32)
        why = reasons(
            n,
            self.why,
            self.exclude,
            dict(zip(ids.tolist(), y.tolist(), strict=True)),
            art_ids,
            art_trust,
            art_like,
            p_art if taught else None,
            touches,
            trust,
            liked_like,
            spared,
            shape_like,
            self.reach,
            held,
        )
        return pd.DataFrame(
            {
                "tile_id": np.arange(n),
                "score": self.anomaly,
                "predicted_interest": predicted,
                "trust": trust,
                "artefact_trust": art_trust,
                "artefact_probability": p_art,
                "touches_liked": touches,
                "labelled": labelled,
                "active_score": active,
                "active_rank": ranks_of(active),
                "why": why,
            }
        )
