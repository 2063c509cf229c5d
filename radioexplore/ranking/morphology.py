"""Evidence for the known peculiar morphologies, each by its own physics, beside the object forest.

The object forest (:mod:`radioexplore.ranking.object_score`) isolates any large, complex source, so
ordinary extended sources (bent tails, FR I / II, relics) compete with peculiar ones for the top.
Three peculiar kinds have a physical signature of their own; each is read here as evidence in [0, 1]
on an absolute scale, ~0 for an ordinary source, so that a survey without such objects is not made to
put some in its top:

- ``ring_evidence``: a limb-brightened shell all round its centre (Norris et al. 2021, odd radio
  circles): :func:`radioexplore.ranking.ring.ring_shell`, already a product of four terms in [0, 1];
- ``x_evidence``: two pairs of lobes crossing through one host (Leahy & Williams 1984; Cheung 2007):
  :func:`radioexplore.ranking.crossing.crossings`' sine of the crossing angle where the source came
  apart into three islands (two lobes and the wings), or, found as one island,
  :func:`radioexplore.ranking.crossing.single_island_x`'s reading of its four arms (the larger); a
  crossing at :attr:`MorphConfig.x_full_crossing_deg` (45 deg, the least the three-island test takes)
  or more reads 1 either way: an X is an X at any clear angle (Cheung 2007), not more so at 90 deg;
- ``giant_evidence``: a joined double whose projected extent lies beyond the survey's own extended
  sources (Dabhade et al. 2020): the robust z of its log lobe-to-lobe extent among the survey's
  extended sources (those at least :attr:`MorphConfig.extended_factor` times the median source's
  extent: the median source is barely resolved), mapped to ``Phi(z) ** N``, the probability that
  the largest of the ``N`` extended sources drawn from their own distribution stays below it (a
  look-elsewhere correction: one source at z ~ 2 among 80 is expected, at z ~ 3.5 it is not). By default
  (:attr:`MorphConfig.look_elsewhere` ``"doubles"``) ``N`` counts only the joined doubles among them, the
  only sources that can read the evidence, and a double reads it only when emission joins its lobes
  (:attr:`MorphConfig.bridge_snr`, :func:`radioexplore.ranking.bridges.bridge_snr`: the lobes of one source
  are joined by a bridge, Leahy & Williams 1984; two unrelated sources that line up are not, and they are
  most of a survey's longest joined doubles, benchmarks/joined_doubles.py).
  With :attr:`MorphConfig.faint_lobes` it is weighed by how faint the double's lobes are per beam among
  the survey's extended islands (:func:`faint_lobes`): a lobe fades as its source grows (Kaiser,
  Dennett-Thorpe & Alexander 1997), so a giant's lobes are among a survey's faintest extended emission
  (Dabhade et al. 2020), while two unrelated radio galaxies joined across a compact source between them,
  which read as long, are not. With :attr:`MorphConfig.lobe_cores` a double one of whose lobes carries a
  core of its own (emission on both sides of its brightest beam: :func:`radioexplore.ranking.lobe_cores.complete_lobes`)
  reads none: a lobe is one end of a jet pair (Fanaroff & Riley 1974; Leahy & Williams 1984).

``morph_evidence`` is the largest of the three; :func:`with_morphology` puts it beside the forest as
``max(forest, morph_evidence)``, the forest's score taken as its quantile among the objects or as it is
(:attr:`MorphConfig.forest`); the artefact discount still multiplies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from radioexplore.ranking.bridges import BRIDGE_SNR
from radioexplore.ranking.giants import robust_centre_scale, source_log_extents
from radioexplore.ranking.lobe_cores import complete_lobes
from radioexplore.ranking.peculiar import quantile_among

RING_EVIDENCE, X_EVIDENCE, GIANT_EVIDENCE, MORPH_EVIDENCE = (
    "ring_evidence",
    "x_evidence",
    "giant_evidence",
    "morph_evidence",
)
#: The kinds of evidence by name (``MorphConfig.kinds``) and their columns.
KINDS = {"ring": RING_EVIDENCE, "x": X_EVIDENCE, "giant": GIANT_EVIDENCE}
#: What the evidence is max-ed with (``MorphConfig.forest``).
FOREST_SCALES = ("quantile", "score")
#: The giant evidence's look-elsewhere families (``MorphConfig.look_elsewhere``).
LOOK_ELSEWHERE = ("extended", "doubles")
#: The columns :func:`morph_evidence` fills, in order.
MORPH_COLUMNS = (RING_EVIDENCE, X_EVIDENCE, GIANT_EVIDENCE, MORPH_EVIDENCE)


@dataclass(frozen=True)
class MorphConfig:
    """How the evidence for the known peculiar morphologies is read (:mod:`radioexplore.ranking.morphology`)."""

    # a source is "extended" (the giants' reference) at this many times the median source's extent
    extended_factor: float = 3.0
    # the extended sources' robust scale is multiplied by this (1: the IQR / 1.349; sensitivity only)
    scale_factor: float = 1.0
    min_reference: int = 5  # fewer extended sources than this: no giant evidence (no distribution to be beyond)
    # the kinds whose evidence counts in morph_evidence (the others are still written; () = the forest's
    # quantile alone, a control)
    kinds: tuple[str, ...] = ("ring", "x", "giant")
    # the three-island X (``x_crossing``, the sine of its crossing angle, at least CrossConfig.min_crossing_deg)
    # reads full evidence at this angle or more (90: the sine as it is), as the one-island reading does
    # (crossing.ArmConfig.full_crossing_deg): the wings at a clear angle make an X, not a right angle
    x_full_crossing_deg: float = 45.0
    # what the evidence is max-ed with: the forest's own score (0..1, min-max of the isolation depth over
    # the run: how far out an object lies; the default, measured held out) or its quantile among the
    # objects (only how many lie below)
    forest: str = "score"
    # a giant's lobes are faint per beam: the giant evidence x min(1, 2 Phi(-z)), z the robust z of the
    # brighter lobe's mean surface brightness among the survey's extended islands (see faint_lobes)
    faint_lobes: bool = False
    # a lobe holds no core of its own: a joined double one of whose two lobes has emission on both sides of its
    # brightest beam (the fainter side at least 1 / lobe_sidedness of the brighter, and at least lobe_min_side of
    # the island's flux: two-sided jets round a core) reads no giant evidence (see lobe_cores.complete_lobes)
    lobe_cores: bool = False
    # the giant evidence's look-elsewhere family: the survey's joined "doubles" in the reference (M: only a joined
    # double can read the evidence, so only they are tested; the default since 2026-12-04, with bridge_snr, measured
    # held out in benchmarks/README.md) or all its "extended" sources (N, the reference's size; before)
    look_elsewhere: str = "doubles"
    # a joined double reads giant evidence only when emission joins its lobes: its bridge S/N
    # (:func:`radioexplore.ranking.bridges.bridge_snr`, Leahy & Williams 1984) at least this (2: a 2 sigma detection
    # of the bridge on the image smoothed to 3 beams); 0: not asked (before 2026-12-04)
    bridge_snr: float = 2.0
    lobe_sidedness: float = 3.0  # a jet and its counter-jet differ by a factor of a few at most (Laing & Bridle 2014)
    lobe_min_side: float = 0.1

    def __post_init__(self) -> None:
        if not self.extended_factor >= 1:
            raise ValueError(f"MorphConfig.extended_factor must be at least 1, not {self.extended_factor}")
        if not self.scale_factor > 0:
            raise ValueError(f"MorphConfig.scale_factor must be positive, not {self.scale_factor}")
        if self.forest not in FOREST_SCALES:
            raise ValueError(f"MorphConfig.forest must be one of {', '.join(FOREST_SCALES)}, not {self.forest!r}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"MorphConfig.kinds must be among {', '.join(KINDS)}, not {sorted(unknown)}")
        if not 0 < self.x_full_crossing_deg <= 90:
            raise ValueError(f"MorphConfig.x_full_crossing_deg must lie in (0, 90], not {self.x_full_crossing_deg}")
        if self.look_elsewhere not in LOOK_ELSEWHERE:
            raise ValueError(
                f"MorphConfig.look_elsewhere must be one of {', '.join(LOOK_ELSEWHERE)}, not {self.look_elsewhere!r}"
            )
        if not self.bridge_snr >= 0:
            raise ValueError(f"MorphConfig.bridge_snr must be 0 (off) or positive, not {self.bridge_snr}")
        if not self.lobe_sidedness >= 1:
            raise ValueError(f"MorphConfig.lobe_sidedness must be at least 1, not {self.lobe_sidedness}")
        if not 0 <= self.lobe_min_side < 0.5:
            raise ValueError(f"MorphConfig.lobe_min_side must lie in [0, 0.5), not {self.lobe_min_side}")
        if not self.min_reference >= 3:
            raise ValueError(f"MorphConfig.min_reference must be at least 3, not {self.min_reference}")


def giant_evidence(objects: pd.DataFrame, config: MorphConfig | None = None) -> np.ndarray:
    """Per object, ``Phi(z) ** N`` for a joined double (its lobes and core) whose log extent lies ``z``
    robust sigmas above the survey's extended sources, ``N`` the joined doubles among them (or all of them:
    ``config.look_elsewhere``); 0 for objects not in a joined double, below the median, without a bridge
    S/N of ``config.bridge_snr`` (when asked; a table without the ``bridge_snr`` column has none) or in a
    table without source columns."""
    config = config or MorphConfig()
    n = len(objects)
    extents = source_log_extents(objects) if n else None
    if extents is None:
        return np.zeros(n, dtype=np.float32)
    log_extent, joined, per_source = extents
    cut = np.median(per_source) + np.log(config.extended_factor)
    reference = per_source[per_source >= cut]
    if reference.size < config.min_reference:
        return np.zeros(n, dtype=np.float32)
    median, scale = robust_centre_scale(reference)
    z = (log_extent - median) / (scale * config.scale_factor)
    family = reference.size
    if config.look_elsewhere == "doubles":  # the joined doubles in the reference: the only ones tested
        source = objects["source_id"].to_numpy(np.int64)
        family = max(len(np.unique(source[joined & (log_extent >= cut)])), 1)
    evidence = ndtr(z) ** family
    if config.bridge_snr > 0:  # no column (an older table): no bridge known, no evidence asked of it
        bridged = objects[BRIDGE_SNR].to_numpy(float) if BRIDGE_SNR in objects.columns else np.full(n, np.nan)
        evidence = np.where(np.nan_to_num(bridged, nan=-np.inf) >= config.bridge_snr, evidence, 0.0)
    return np.where(joined & (z > 0), evidence, 0.0).astype(np.float32)


def faint_lobes(objects: pd.DataFrame, config: MorphConfig | None = None) -> np.ndarray:
    """Per object, how well its joined double's lobes fit a giant's faintness: ``min(1, 2 Phi(-z))``, ``z``
    the robust z of the brighter lobe's log mean surface brightness (``flux_jy / area_beams``, Jy/beam)
    among the survey's extended islands (``extended_factor`` times the median island's extent), so 1 for
    lobes no brighter than the median extended island, 0.32 a sigma above it, 0.05 two sigma above.

    The physics: a radio galaxy's lobes fade as they grow (the P-D tracks of Kaiser, Dennett-Thorpe &
    Alexander 1997: luminosity falls with size while the area grows as its square), so a giant's lobes
    are among the faintest extended emission per beam of a survey (Dabhade et al. 2020 find giants late
    for that reason); two unrelated radio galaxies joined as a double bring their own bright cores and
    hotspots. 1 for objects not in a joined double and where the columns or the reference are lacking."""
    config = config or MorphConfig()
    n = len(objects)
    need = {"source_components", "source_id", "partner", "flux_jy", "area_beams", "extent_beams"}
    if not n or not need <= set(objects.columns):
        return np.ones(n, dtype=np.float32)
    extent = np.nan_to_num(objects["extent_beams"].to_numpy(float))
    area = objects["area_beams"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_sb = np.log(np.clip(objects["flux_jy"].to_numpy(float) / area, 1e-30, None))
    reference = (extent >= config.extended_factor * np.median(extent)) & np.isfinite(log_sb)
    if np.count_nonzero(reference) < config.min_reference:
        return np.ones(n, dtype=np.float32)
    median, scale = robust_centre_scale(log_sb[reference])
    z = (log_sb - median) / scale
    joined = objects["source_components"].fillna(1).to_numpy() > 1
    lobe = joined & (objects["partner"].fillna(-1).to_numpy() >= 0) & np.isfinite(z)
    source = objects["source_id"].to_numpy(np.int64)
    brightest = pd.Series(z[lobe]).groupby(source[lobe]).max()
    z_source = pd.Series(source).map(brightest).to_numpy(float)
    factor = np.minimum(1.0, 2.0 * ndtr(-np.nan_to_num(z_source, nan=-np.inf)))
    return np.where(joined, factor, 1.0).astype(np.float32)


def morph_evidence(objects: pd.DataFrame, config: MorphConfig | None = None) -> pd.DataFrame:
    """The :data:`MORPH_COLUMNS` of ``objects`` (same index): each kind's evidence and the largest of
    those of ``config.kinds``. A column the table lacks (``ring_shell``, ``x_crossing``, ``x_arms``) gives
    that kind no evidence (or none of that part)."""
    config = config or MorphConfig()
    n = len(objects)

    def column(name: str) -> np.ndarray:
        if name not in objects.columns:
            return np.zeros(n, dtype=np.float32)
        return np.clip(np.nan_to_num(objects[name].to_numpy(float)), 0.0, 1.0).astype(np.float32)

    ring, giant = column("ring_shell"), giant_evidence(objects, config)
    if config.faint_lobes:
        giant = (giant * faint_lobes(objects, config)).astype(np.float32)
    if config.lobe_cores:
        complete = complete_lobes(objects, config.lobe_sidedness, config.lobe_min_side)
        giant = np.where(complete, 0.0, giant).astype(np.float32)
    three = np.minimum(1.0, column("x_crossing") / np.sin(np.radians(config.x_full_crossing_deg)))
    cross = np.maximum(three, column("x_arms")).astype(np.float32)  # three islands, or one island with four arms
    table = pd.DataFrame({RING_EVIDENCE: ring, X_EVIDENCE: cross, GIANT_EVIDENCE: giant}, index=objects.index)
    counted = [KINDS[k] for k in config.kinds]
    table[MORPH_EVIDENCE] = table[counted].max(axis=1).astype(np.float32) if counted and n else np.float32(0.0)
    return table


def with_morphology(forest_score: np.ndarray, evidence: np.ndarray, forest: str = "quantile") -> np.ndarray:
    """``max(forest, evidence)``, the forest's score (0..1) as it is (``forest="score"``) or as the share of
    the objects scoring strictly lower (``"quantile"``: an evidence of 0.95 then ranks with the forest's
    95th percentile)."""
    score = np.asarray(forest_score, dtype=np.float64)
    if forest == "quantile":
        score = quantile_among(score).astype(np.float64)
    return np.maximum(score, np.asarray(evidence, dtype=np.float64)).astype(np.float32)
