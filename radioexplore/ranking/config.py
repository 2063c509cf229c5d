"""How ``rank`` ranks tiles: :class:`RankConfig`, recorded in run.toml under ``stages.rank.<embedding>``."""

from __future__ import annotations

from dataclasses import dataclass, field

from radioexplore.ranking.exclusion import check_flags
from radioexplore.ranking.peculiar import method_named
from radioexplore.ranking.selection import FeatureSelectConfig
from radioexplore.ranking.standardise import check_standardise


@dataclass(frozen=True)
class RankConfig:
    """How :func:`~radioexplore.ranking.rank.rank_run` ranks tiles; recorded in run.toml under ``stages.rank.<embedding>``.

    ``exclude_flags``: tiles whose ``flag`` is one of these get score 0, rank last and are left out
    of the forest (and of the standardisation statistics). 'blank' tiles (no finite pixels) are
    the easiest thing to isolate; a 'partial' tile, cut by the image edge or the primary-beam
    blanking, is isolated by its border rather than by its sources (on a simulated survey partial
    tiles filled half or more of the top 2%). Give ``("blank",)`` to rank partial tiles too.
    :func:`rank_run` ranks partial tiles after all in a stamps run (there 'partial' marks a stamp
    padded to the tile) and where they are most of the tiles (see :func:`flags_to_exclude`).

    ``standardise``: "field" (default) scales each embedding column by robust statistics (median,
    IQR/1.349) of the tile's own field, so that a field with another beam or noise level does not
    stand out as a whole; fields with fewer than ``min_group`` ranked tiles use the statistics of
    the whole run. "global" uses the run's statistics for every tile (an Isolation Forest and
    LightGBM are indifferent to a per-column affine map, so it ranks as "none" does, up to float
    rounding); "none" leaves the embedding as it is.
    """

    n_estimators: int = 200  # seed 002, sec. 5.2
    max_samples: float = 0.02  # seed 002, sec. 5.2: fraction of tiles per tree
    min_samples: int = 64  # floor on samples per tree, so small runs still grow useful trees
    contamination: float | str = 0.001  # seed 002; sets the fraction flagged `outlier`, not the score
    score_scale: str = "liu"  # "liu": Liu et al. 2008 score in (0, 1); "minmax": stretched to [0, 1]
    top_k: int | None = None  # None: every embedding dimension; else the top-k LightGBM features (seed 002: 5-10)
    exclude_flags: tuple[str, ...] = ("blank", "partial")  # left out of the forest, score 0, ranked last
    standardise: str = "field"  # "none" | "global" | "field": robust per-column scaling before the forest
    min_group: int = 32  # standardise="field": a field with fewer ranked tiles uses the run's statistics
    selection: FeatureSelectConfig = field(default_factory=FeatureSelectConfig)
    seed: int = 0
    method: str = "peculiar"  # rank_run's ranker by name, radioexplore.ranking.peculiar.METHODS
    # the artefact axis's bright source named by the tile's ripple direction too (ArtefactConfig.source_by_ripple;
    # tried, not the default: benchmarks/README.md, issue 24, pattern-geometry)
    artefact_source_by_ripple: bool = False

    def __post_init__(self) -> None:
        method_named(self.method)
        check_standardise(self.standardise)
        object.__setattr__(self, "exclude_flags", check_flags(self.exclude_flags))
        if self.min_group < 1:
            raise ValueError(f"min_group must be at least 1, not {self.min_group}")
