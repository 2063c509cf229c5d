"""The truth of diffuse emission: per-pixel labels of halos, relics and filaments, and the cluster table (seed 004).

``diffuse/<field>.npz`` holds ``labels``, uint8, 0 none and :data:`DIFFUSE_KINDS` numbered from 1,
where the halos, relics and filaments of the field, convolved with the restoring beam and seen
through the primary beam, exceed ``diffuse_truth_sigma`` times the local thermal noise;
``clusters.csv`` holds per field the cluster at its centre (position, R500 in pixels, whether halo,
relic or any diffuse truth pixel lies within R500). They are the reference masks and cluster table
of the Radio U-Net (seed 004); radio galaxies, peculiar objects and artefacts stay in the same
images as negatives.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.wcs import WCS

from radioexplore.run.atomic import atomic_path
from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.instrument import convolve_beam

if TYPE_CHECKING:
    from radioexplore.simulation.field import FieldTruth
    from radioexplore.simulation.survey import SimulationConfig

#: Kinds of diffuse emission in the per-pixel truth (``diffuse/<field>.npz`` labels 1, 2, 3 in this order).
DIFFUSE_KINDS = ("halo", "relic", "filament")
#: R500 of the field's cluster as a fraction of the image side: relics are drawn at 0.15-0.32 of the
#: side from the cluster centre, i.e. at 0.6-1.3 R500, where observed relics lie.
R500_FRACTION = 0.25


def diffuse_truth(
    diffuse: dict[str, np.ndarray],
    pb: np.ndarray,
    noise: float,
    bmaj_px: float,
    bmin_px: float,
    bpa: float,
    config: SimulationConfig,
) -> np.ndarray:
    """Per-pixel labels of diffuse emission (0 none, i + 1 for DIFFUSE_KINDS[i]) from each kind's Jy/pixel sky.

    A pixel is diffuse where the kinds' emission, seen through the primary beam and convolved with
    the restoring beam (no noise), exceeds ``config.diffuse_truth_sigma`` x the local thermal
    noise (the same ratio before and after the primary-beam correction) inside the PB cut-off;
    its label is the kind that contributes most there. Uses no random numbers.
    """
    n = pb.shape[0]
    labels = np.zeros((n, n), dtype=np.uint8)
    present = [k for k in DIFFUSE_KINDS if k in diffuse]
    if not present:
        return labels
    seen = np.stack([convolve_beam(diffuse[k] * pb, bmaj_px, bmin_px, bpa) for k in present])
    visible = (seen.sum(axis=0) > config.diffuse_truth_sigma * noise) & (pb >= config.pb_cutoff)
    codes = np.array([DIFFUSE_KINDS.index(k) + 1 for k in present], dtype=np.uint8)
    labels[visible] = codes[np.argmax(seen, axis=0)[visible]]
    return labels


def cluster_row(truth: FieldTruth, wcs: WCS, config: SimulationConfig) -> dict:
    """The field's cluster: centre, R500 in pixels, and which diffuse truth lies within R500 of it."""
    n = config.size_px
    cx, cy = truth.cluster_xy
    r500 = R500_FRACTION * n
    yy, xx = np.ogrid[:n, :n]
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r500**2
    labels = truth.diffuse_labels if truth.diffuse_labels is not None else np.zeros((n, n), np.uint8)
    within = labels[inside]
    ra, dec = wcs.pixel_to_world_values(cx, cy)
    counts = {k: int((within == i + 1).sum()) for i, k in enumerate(DIFFUSE_KINDS)}
    return dict(
        field=truth.name,
        name=f"{truth.name}_cluster",
        ra=float(ra),
        dec=float(dec),
        x=cx,
        y=cy,
        r500_px=r500,
        halo_px=counts["halo"],
        relic_px=counts["relic"],
        filament_px=counts["filament"],
        diffuse=bool(counts["halo"] + counts["relic"] > 0),
    )


def write_diffuse_truth(sim_dir: str | Path, field_name: str, labels: np.ndarray) -> None:
    """Write one field's per-pixel diffuse labels (and the kinds they number) to ``diffuse/<field>.npz``."""
    with atomic_path(SimulationDir(sim_dir).diffuse(field_name)) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, labels=labels, kinds=np.array(DIFFUSE_KINDS))


def read_diffuse_truth(sim_dir: str | Path, field_name: str) -> np.ndarray:
    """The per-pixel diffuse labels of one simulated field (0 none, i + 1 for DIFFUSE_KINDS[i])."""
    path = SimulationDir(sim_dir).diffuse(field_name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: simulate again with this version (older ones wrote no masks)")
    with np.load(path) as f:
        return f["labels"]
