"""Planted embeddings: synthetic embeddings with tiles of known kind, for tests and benchmarks of ranking and search.

Real embeddings of survey tiles have a low intrinsic dimension and clusters (noise regimes,
source densities); the planted kinds mimic what seed 002 (sec. 5.2, fig. 12) reports: ordinary
frames, *boring* anomalies that an Isolation Forest finds easily (artefacts, image borders,
mosaicking), *complex* frames (extended or diffuse sources) and rare *peculiar* frames, anomalous
but less easy to isolate than the boring ones. The tile table carries the truth columns of a
simulated run (``truth_peculiar``, ``truth_extended``, ``truth_kinds``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlantedConfig:
    """Sizes and fractions of the planted kinds."""

    n: int = 20_000
    dim: int = 384
    latent: int = 16  # intrinsic dimension of ordinary tiles
    clusters: int = 12
    noise: float = 0.05  # isotropic noise added in the full dimension
    boring_fraction: float = 0.02  # easy-to-isolate anomalies nobody wants (artefacts, borders)
    extended_fraction: float = 0.05  # complex frames: extended or diffuse sources
    peculiar_fraction: float = 0.005  # the rare frames the astronomer is after
    peculiar_shift: float = 5  # how far peculiar tiles sit from the clusters (in cluster sigmas)
    boring_shift: float = 5
    boring_sorts: int = 4
    spread: float = 0.5  # scatter of planted tiles about their shifted position
    seed: int = 0


def planted_embeddings(config: PlantedConfig = PlantedConfig()) -> tuple[np.ndarray, pd.DataFrame]:
    """``(embeddings [n, dim] float32, tiles)``; tiles has ``tile_id``, ``kind`` and the truth columns."""
    rng = np.random.default_rng(config.seed)
    n, k = config.n, config.latent
    centres = rng.normal(scale=2.0, size=(config.clusters, k))
    z = centres[rng.integers(config.clusters, size=n)] + rng.normal(size=(n, k))
    kind = np.full(n, "ordinary", dtype=object)
    order = rng.permutation(n)
    counts = [round(f * n) for f in (config.boring_fraction, config.extended_fraction, config.peculiar_fraction)]
    boring, extended, peculiar = np.split(order[: sum(counts)], np.cumsum(counts)[:-1])
    kind[boring], kind[extended], kind[peculiar] = "boring", "extended", "peculiar"
    # boring anomalies come in a few sorts (borders, ring artefacts, mosaicking), each far out along
    # a direction of its own, with a wide spread
    sorts = _unit(rng.normal(size=(config.boring_sorts, k)))
    z[boring] += config.boring_shift * sorts[rng.integers(config.boring_sorts, size=len(boring))]
    z[boring] += config.spread * rng.normal(size=(len(boring), k))
    # complex frames: a moderate shift along one shared direction; peculiar ones further along a
    # second direction, with a spread, so they form a loose group of their own
    ext_dir, pec_dir = _unit(rng.normal(size=(2, k)))
    z[extended] += 2.0 * ext_dir + config.spread * rng.normal(size=(len(extended), k))
    z[peculiar] += config.peculiar_shift * pec_dir + ext_dir + config.spread * rng.normal(size=(len(peculiar), k))
    mixing = rng.normal(size=(k, config.dim)) / np.sqrt(k)
    emb = (z @ mixing + config.noise * rng.normal(size=(n, config.dim))).astype(np.float32)
    tiles = pd.DataFrame(
        {
            "tile_id": np.arange(n),
            "kind": kind.astype(str),
            "truth_peculiar": kind == "peculiar",
            "truth_extended": np.isin(kind, ["extended", "peculiar"]),
            "truth_kinds": np.where(kind == "peculiar", "orc", np.where(kind == "extended", "fr2", "")),
        }
    )
    return emb, tiles


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
