"""One simulated field: its sky seen through the primary and restoring beams, with noise, artefacts and truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from astropy.wcs import WCS

from radioexplore.simulation.artefacts import ARTEFACT_BLOCK, artefact_block_max, dqf_artefacts
from radioexplore.simulation.diffuse import diffuse_truth
from radioexplore.simulation.instrument import convolve_beam, field_wcs, primary_beam, primary_beam_at
from radioexplore.simulation.population import compact_sources, extended_objects

if TYPE_CHECKING:
    from radioexplore.simulation.survey import SimulationConfig


@dataclass
class FieldTruth:
    """What the simulator knows of one field, beyond the image."""

    name: str
    file: str
    ra: float
    dec: float
    dqf: int
    noise_jy: float
    pb_fwhm_px: float
    objects: list[dict] = field(default_factory=list)
    artefact_blocks: np.ndarray | None = None  # max |artefact| / thermal noise per ARTEFACT_BLOCK px block
    diffuse_labels: np.ndarray | None = (
        None  # uint8 per pixel: 0 none, i + 1 for DIFFUSE_KINDS[i] (radioexplore.simulation.diffuse)
    )
    cluster_xy: tuple[float, float] = (float("nan"), float("nan"))  # the cluster centre the halo and relics go round


def simulate_field(
    config: SimulationConfig, index: int, rng: np.random.Generator
) -> tuple[np.ndarray, FieldTruth, WCS]:
    """Simulate one field; returns the image (Jy/beam, NaN beyond the PB cut-off), its truth and WCS."""
    n = config.size_px
    ra = float(rng.uniform(0, 360))
    dec = float(rng.uniform(-70, 10))
    wcs = field_wcs(ra, dec, n, config.pixel_arcsec)
    dqf = int(rng.choice(4, p=config.dqf_probabilities))
    noise = float(rng.uniform(*config.noise_ujy)) * 1e-6
    bmaj_px, bmin_px = (b / config.pixel_arcsec for b in config.beam_arcsec)
    bpa = float(rng.uniform(-90, 90))
    pb_fwhm = config.pb_fwhm_frac * n
    truth = FieldTruth(f"field_{index:03d}", f"field_{index:03d}.fits", ra, dec, dqf, noise, pb_fwhm)

    sky = np.zeros((n, n), dtype=np.float64)
    compact = compact_sources(sky, rng, config, noise, dqf)
    diffuse: dict[str, np.ndarray] = {}
    cluster: list = []
    extended = extended_objects(sky, rng, config, noise, diffuse=diffuse, cluster_out=cluster)
    truth.objects = compact + extended
    truth.cluster_xy = (float(cluster[0][0]), float(cluster[0][1]))

    # the apparent sky (x PB) plus thermal noise, convolved with the beam, then primary-beam
    # corrected: sources keep their flux while noise and artefacts rise as 1/PB (seed 000, fig. 3)
    pb = primary_beam(n, pb_fwhm)
    truth.diffuse_labels = diffuse_truth(diffuse, pb, noise, bmaj_px, bmin_px, bpa, config)
    del diffuse
    sky *= pb
    image = convolve_beam(sky, bmaj_px, bmin_px, bpa, rng=rng, noise_rms=noise)
    del sky
    objs = pd.DataFrame(truth.objects, columns=["kind", "x", "y", "flux", "peak", "size", "points"])
    pb_obj = primary_beam_at(objs["x"].to_numpy(), objs["y"].to_numpy(), n, pb_fwhm)
    apparent_peak = np.where(objs["kind"] == "compact", objs["peak"], 0.3 * objs["flux"]) * pb_obj
    loud = (objs["kind"] != "compact").to_numpy() | (objs["flux"].to_numpy() > 2e-3)
    bright = list(zip(objs["x"][loud], objs["y"][loud], apparent_peak[loud], strict=True))
    artefacts = dqf_artefacts((n, n), rng, bright, dqf, noise, config.beam_px, config.artefact_strength)
    image += artefacts
    # artefact / thermal noise is the same before and after the PB correction; none beyond the cut-off
    truth.artefact_blocks = artefact_block_max(
        artefacts, np.where(pb >= config.pb_cutoff, noise, np.inf), ARTEFACT_BLOCK
    )
    del artefacts
    image /= pb
    image[pb < config.pb_cutoff] = np.nan

    ix = np.clip(np.round(objs["x"].to_numpy()).astype(int), 0, n - 1)
    iy = np.clip(np.round(objs["y"].to_numpy()).astype(int), 0, n - 1)
    inside = (objs["x"] > -0.5) & (objs["x"] < n - 0.5) & (objs["y"] > -0.5) & (objs["y"] < n - 0.5)
    inside = inside.to_numpy() & (pb[iy, ix] >= config.pb_cutoff)
    local = noise / pb_obj
    snr = np.where(inside, objs["peak"].to_numpy() / local, np.nan)
    for obj, ln, sn, ins in zip(truth.objects, local, snr, inside, strict=True):
        obj["local_noise"] = float(ln)
        obj["snr"] = float(sn)
        obj["in_image"] = bool(ins)
    return image, truth, wcs
