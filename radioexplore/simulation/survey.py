"""A simulated MeerKAT-like continuum survey with a truth catalogue: the demo data and the test oracle.

Each field is a primary-beam-corrected image in Jy/beam, as the MGCLS "enhanced" images of
Lastufka et al. 2024 (seed 000, sec. 2.1): compact sources from a power-law flux distribution,
radio galaxies (FR I, FR II, bent tails), cluster halos and relics around the pointing centre
(MGCLS points at galaxy clusters), filaments, and, rare by construction, peculiar objects (odd
radio circles, X-shaped and giant radio galaxies); all convolved with a restoring beam of about
7.5-8 arcsec; thermal noise of 3-5 uJy/beam at the centre, correlated on the beam scale and rising
as 1/PB; DQF-dependent artefacts; NaN beyond the primary-beam cut-off.

Outputs in the survey folder: one FITS per field; ``truth.csv`` (every object, its kind and key
points); ``catalogue.csv`` (compact sources above 5 sigma, PyBDSF column names);
``pybdsf_srl.fits`` (the same plus extended objects as multi-Gaussian ``S_Code = M`` sources, as a
PyBDSF source list); ``fields.csv`` (field, file, position, DQF, central noise); ``simulation.json``;
``artefacts.npz`` (per field, the largest artefact amplitude in units of the local thermal noise in
each block of :data:`ARTEFACT_BLOCK` px, from which :func:`tile_truth` says which tiles an artefact
dominates).

``diffuse/<field>.npz`` (the per-pixel truth of diffuse emission: ``labels``, uint8, 0 none and
:data:`DIFFUSE_KINDS` numbered from 1, where the halos, relics and filaments of the field, convolved
with the restoring beam and seen through the primary beam, exceed ``diffuse_truth_sigma`` times the
local thermal noise) and ``clusters.csv`` (per field the cluster at its centre: position, R500 in
pixels, whether halo, relic or any diffuse truth pixel lies within R500): the reference masks and
cluster table of the Radio U-Net (seed 004). Radio galaxies, peculiar objects and artefacts stay in
the same images as negatives.

``artefact_strength`` multiplies every artefact (1: the levels of the DQF definitions; 0: none;
:data:`radioexplore.simulation.artefacts.STRONG_ARTEFACTS`: the ripple rings of 10-30 sigma with
troughs as deep, negative bowls and stripes of real DQF 2-3 fields, see that module).

What "true noise" means here: the thermal rms, sigma_centre / PB, without sources or artefacts.
Artefacts are kept at the levels the DQF definitions describe; the ingest estimator
(:func:`radioexplore.ingest.noise.masked_rms`) masks sources and clips, and reads it to within a few per
cent except near strong artefacts; confusion from sources below the threshold adds a few per cent.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS
from tqdm.auto import tqdm

from radioexplore.run.atomic import atomic_path
from radioexplore.simulation.artefacts import artefact_block_max, dqf_artefacts
from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.instrument import (
    FWHM_TO_SIGMA,
    convolve_beam,
    field_wcs,
    primary_beam,
    primary_beam_at,
)
from radioexplore.simulation.morphology import MORPHOLOGIES, SURFACE_KINDS
from radioexplore.simulation.sky import add_gaussian, add_points, counts_above, power_law_fluxes

log = logging.getLogger(__name__)

#: Object kinds the simulator tags as peculiar (rare by construction).
PECULIAR_KINDS = frozenset({"orc", "xrg", "grg"})
#: Object kinds that are extended radio sources.
EXTENDED_KINDS = frozenset({"fr1", "fr2", "bent", "halo", "relic", "filament"}) | PECULIAR_KINDS
#: Side in px of the blocks of ``artefacts.npz`` (the per-field artefact truth).
ARTEFACT_BLOCK = 8
#: A tile is artefact-dominated when an artefact in it reaches this many times the local thermal noise.
ARTEFACT_TRUTH_SIGMA = 5.0
#: Kinds of diffuse emission in the per-pixel truth (``diffuse/<field>.npz`` labels 1, 2, 3 in this order).
DIFFUSE_KINDS = ("halo", "relic", "filament")
#: R500 of the field's cluster as a fraction of the image side: relics are drawn at 0.15-0.32 of the
#: side from the cluster centre, i.e. at 0.6-1.3 R500, where observed relics lie.
R500_FRACTION = 0.25
#: Every kind in the order the preview grid shows them.
KINDS = ("compact", "fr1", "fr2", "bent", "halo", "relic", "filament", "orc", "xrg", "grg")

#: Size (arcsec: end-to-end extent, or diameter / length) and amplitude ranges per kind.
#: Amplitude: total flux in mJy for radio galaxies, peak surface brightness in units of the
#: field's central noise for diffuse kinds (see :mod:`radioexplore.simulation.morphology`).
KIND_PRIORS: dict[str, dict[str, tuple[float, float]]] = {
    "fr1": {"size": (40, 240), "amplitude": (2, 100)},
    "fr2": {"size": (40, 300), "amplitude": (2, 100)},
    "bent": {"size": (40, 200), "amplitude": (2, 60)},
    "xrg": {"size": (80, 300), "amplitude": (5, 80)},
    "grg": {"size": (420, 900), "amplitude": (10, 100)},  # > 0.7 Mpc: 7-15 arcmin at z ~ 0.1-0.2
    "halo": {"size": (180, 600), "amplitude": (3, 8)},
    "relic": {"size": (150, 500), "amplitude": (6, 15)},
    "filament": {"size": (150, 600), "amplitude": (4, 8)},
    "orc": {"size": (50, 100), "amplitude": (6, 12)},  # ORC 1 is ~80 arcsec across (Norris et al. 2021)
}


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a simulated survey; defaults follow MGCLS as described in seed 000 (sec. 2.1)."""

    fields: int = 16
    size_px: int = 2048
    seed: int = 0
    pixel_arcsec: float = 1.5
    beam_arcsec: tuple[float, float] = (7.8, 7.4)  # seed 000, sec. 2.1: restoring beam ~7.5-8 arcsec
    noise_ujy: tuple[float, float] = (3.0, 5.0)  # seed 000, sec. 2.1: 3-5 uJy/beam at the pointing centre
    pb_fwhm_frac: float = 0.8  # primary-beam FWHM as a fraction of the image width
    pb_cutoff: float = 0.2  # blank (NaN) where the primary-beam response drops below this
    compact_per_sq_deg: float = 3000.0  # above compact_ref_ujy; seed 000: up to 10^4 sources per ~1.4 deg^2 field
    compact_ref_ujy: float = 20.0
    flux_slope: float = 1.8  # dN/dS ~ S^-slope (sub-mJy counts are flatter than Euclidean 2.5)
    min_flux_sigma: float = 1.0  # faintest compact source drawn, in units of the central noise
    max_flux_mjy: float = 200.0
    resolved_fraction: float = 0.3  # compact sources above 3 sigma given an intrinsic size
    galaxies_per_sq_deg: float = 25.0  # FR I + FR II + bent tails; seed 000, sec. 2.3: extended sources are common
    galaxy_mix: tuple[float, float, float] = (0.35, 0.35, 0.3)  # fr1, fr2, bent
    halo_probability: float = 0.3  # per field: MGCLS points at clusters, some host a halo
    relic_probability: float = 0.25
    filaments_per_sq_deg: float = 0.6
    peculiar_per_sq_deg: tuple[float, float, float] = (0.35, 0.35, 0.25)  # orc, xrg, grg: rare by construction
    dqf_probabilities: tuple[float, float, float, float] = (0.5, 0.25, 0.15, 0.1)
    naxis: int = 4  # 4 writes degenerate FREQ and STOKES axes as MeerKAT images have
    frequency_hz: float = 1.28e9  # seed 000, sec. 2.1: MGCLS reference frequency
    detection_snr: float = 5.0  # seed 000, sec. 2.3: PyBDSF source threshold 5 sigma
    artefact_strength: float = 1.0  # multiplies every artefact; STRONG_ARTEFACTS (4) for real DQF 2-3 ripples
    # diffuse truth: beam-convolved halo + relic + filament emission above this many local thermal
    # sigma (2: a pixel-wise 2-sigma excess is what a reference mask can honestly call visible;
    # 1 would mark halo wings no image shows, 3 would cut halos of 3-5 sigma peak to their cores)
    diffuse_truth_sigma: float = 2.0

    @property
    def area_sq_deg(self) -> float:
        return (self.size_px * self.pixel_arcsec / 3600.0) ** 2

    @property
    def beam_px(self) -> float:
        """Geometric-mean restoring beam FWHM in pixels."""
        return float(np.sqrt(self.beam_arcsec[0] * self.beam_arcsec[1]) / self.pixel_arcsec)


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
    diffuse_labels: np.ndarray | None = None  # uint8 per pixel: 0 none, i + 1 for DIFFUSE_KINDS[i] (see module doc)
    cluster_xy: tuple[float, float] = (float("nan"), float("nan"))  # the cluster centre the halo and relics go round


# -- populations ------------------------------------------------------------------------------
def _compact_sources(
    sky: np.ndarray, rng: np.random.Generator, config: SimulationConfig, noise: float, dqf: int
) -> list[dict]:
    """Power-law compact population; resolved ones get an intrinsic Gaussian size. Returns truth rows."""
    n = config.size_px
    s_min = config.min_flux_sigma * noise
    s_max = config.max_flux_mjy * 1e-3
    density = counts_above(config.compact_per_sq_deg, config.compact_ref_ujy * 1e-6, s_min, config.flux_slope)
    count = rng.poisson(density * config.area_sq_deg)
    flux = power_law_fluxes(rng, count, s_min, s_max, config.flux_slope)
    x, y = rng.uniform(0, n - 1, count), rng.uniform(0, n - 1, count)
    if dqf >= 1 and (count == 0 or flux.max() < 20e-3):
        # a field flagged for bright-source artefacts has a bright source to make them
        flux = np.append(flux, 10 ** rng.uniform(np.log10(20e-3), np.log10(s_max)))
        x = np.append(x, rng.uniform(0.3, 0.7) * n)
        y = np.append(y, rng.uniform(0.3, 0.7) * n)
    sigma_b2 = (config.beam_arcsec[0] * config.beam_arcsec[1]) * (FWHM_TO_SIGMA / config.pixel_arcsec) ** 2
    size = np.zeros(flux.size)  # intrinsic sigma, px
    resolved = (flux > 3 * noise) & (rng.random(flux.size) < config.resolved_fraction)
    size[resolved] = rng.exponential(2.5 / config.pixel_arcsec * FWHM_TO_SIGMA, resolved.sum())
    ratio = rng.uniform(0.5, 1.0, flux.size)
    angle = rng.uniform(0, np.pi, flux.size)
    add_points(sky, x[~resolved], y[~resolved], flux[~resolved])
    for i in np.flatnonzero(resolved):
        add_gaussian(sky, x[i], y[i], flux[i], size[i], ratio[i], angle[i])
    peak = flux * sigma_b2 / np.sqrt((sigma_b2 + size**2) * (sigma_b2 + (size * ratio) ** 2))
    fwhm_arcsec = size / FWHM_TO_SIGMA * config.pixel_arcsec
    return [
        dict(kind="compact", x=float(a), y=float(b), flux=float(s), peak=float(p), size=float(z), points="")
        for a, b, s, p, z in zip(x, y, flux, peak, fwhm_arcsec, strict=True)
    ]


def _draw_extended(rng: np.random.Generator, config: SimulationConfig) -> list[tuple[str, str]]:
    """Which extended objects a field holds: ``(kind, placement)`` with placement 'field', 'cluster' or 'inner'."""
    area = config.area_sq_deg
    out: list[tuple[str, str]] = []
    n_gal = rng.poisson(config.galaxies_per_sq_deg * area)
    mix = np.asarray(config.galaxy_mix, float)
    for kind in rng.choice(["fr1", "fr2", "bent"], size=n_gal, p=mix / mix.sum()):
        out.append((str(kind), "cluster" if kind == "bent" and rng.random() < 0.6 else "field"))
    if rng.random() < config.halo_probability:
        out.append(("halo", "centre"))
    if rng.random() < config.relic_probability:
        out.append(("relic", "periphery"))
        if rng.random() < 0.3:  # double relics sit on opposite sides
            out.append(("relic", "opposite"))
    out += [("filament", "field")] * int(rng.poisson(config.filaments_per_sq_deg * area))
    for kind, density in zip(("orc", "xrg", "grg"), config.peculiar_per_sq_deg, strict=True):
        out += [(kind, "inner")] * int(rng.poisson(density * area))
    return out


def _place(
    rng: np.random.Generator, placement: str, n: int, cluster: tuple[float, float], relic_angle: float, size_px: float
) -> tuple[float, float]:
    cx, cy = cluster
    if placement == "centre":
        return cx, cy
    if placement in ("periphery", "opposite"):
        angle = relic_angle + (np.pi if placement == "opposite" else 0.0)
        d = rng.uniform(0.15, 0.32) * n
        return cx + d * np.cos(angle), cy + d * np.sin(angle)
    if placement == "cluster":
        return tuple(np.clip(np.array([cx, cy]) + rng.normal(0, 0.12 * n, 2), 0.1 * n, 0.9 * n))
    margin = 0.5 * size_px + 0.05 * n
    if placement == "inner":  # where the primary beam is above ~0.5, so the object is visible
        lo, hi = max(0.25 * n, margin), min(0.75 * n, n - margin)
    else:
        lo, hi = max(0.1 * n, margin), min(0.9 * n, n - margin)
    if lo >= hi:
        lo = hi = n / 2
    return float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))


def _extended_objects(
    sky: np.ndarray,
    rng: np.random.Generator,
    config: SimulationConfig,
    noise: float,
    diffuse: dict[str, np.ndarray] | None = None,
    cluster_out: list | None = None,
) -> list[dict]:
    """Draw the extended population onto ``sky``; returns truth rows.

    With ``diffuse``, each halo, relic and filament's own emission is also summed into
    ``diffuse[kind]`` (taken as the change it made to ``sky``, so the sky itself, and every image
    made from it, stays bit-identical); ``cluster_out`` receives the cluster centre.
    """
    n = config.size_px
    cluster = (n / 2 + rng.normal(0, 0.03 * n), n / 2 + rng.normal(0, 0.03 * n))
    relic_angle = rng.uniform(0, 2 * np.pi)
    if cluster_out is not None:
        cluster_out.append(cluster)
    rows = []
    for kind, placement in _draw_extended(rng, config):
        prior = KIND_PRIORS[kind]
        size_arcsec = float(rng.uniform(*prior["size"]))
        size_px = min(size_arcsec / config.pixel_arcsec, (0.45 if kind == "grg" else 0.6) * n)
        lo, hi = prior["amplitude"]
        if kind in SURFACE_KINDS:
            amplitude = float(rng.uniform(lo, hi)) * noise
        else:
            amplitude = float(power_law_fluxes(rng, 1, lo * 1e-3, hi * 1e-3, 1.6)[0])
        x, y = _place(rng, placement, n, cluster, relic_angle, size_px)
        before = sky.sum()
        own = sky.copy() if diffuse is not None and kind in DIFFUSE_KINDS else None
        points = MORPHOLOGIES[kind](sky, rng, x, y, size_px, amplitude, config.beam_px, centre=cluster)
        if own is not None:
            np.subtract(sky, own, out=own)
            diffuse[kind] = diffuse[kind] + own if kind in diffuse else own
        rows.append(
            dict(
                kind=kind,
                x=float(x),
                y=float(y),
                flux=float(sky.sum() - before),
                peak=np.nan,
                size=size_px * config.pixel_arcsec,
                points=";".join(f"{px:.1f}:{py:.1f}" for px, py in points),
            )
        )
    return rows


# -- one field --------------------------------------------------------------------------------
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
    compact = _compact_sources(sky, rng, config, noise, dqf)
    diffuse: dict[str, np.ndarray] = {}
    cluster: list = []
    extended = _extended_objects(sky, rng, config, noise, diffuse=diffuse, cluster_out=cluster)
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


def write_field_fits(path: Path, image: np.ndarray, wcs: WCS, config: SimulationConfig, truth: FieldTruth) -> None:
    """Write one field as MeerKAT pipelines do: 4-D with degenerate FREQ/STOKES axes (or 2-D)."""
    header = wcs.to_header()
    data = image
    if config.naxis == 4:
        data = image[None, None]
        header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"], header["CUNIT3"] = (
            "FREQ",
            config.frequency_hz,
            8.56e8,
            1.0,
            "Hz",
        )
        header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    hdu = fits.PrimaryHDU(data=data)
    hdu.header.update(header)
    hdu.header["BUNIT"] = "JY/BEAM"
    hdu.header["BMAJ"] = config.beam_arcsec[0] / 3600.0
    hdu.header["BMIN"] = config.beam_arcsec[1] / 3600.0
    hdu.header["BPA"] = 0.0
    hdu.header["OBJECT"] = truth.name
    hdu.header["TELESCOP"] = "MeerKAT"
    hdu.header["DQF"] = (truth.dqf, "data quality flag 0-3 (MGCLS convention)")
    hdu.header["ORIGIN"] = "radioexplore simulate"
    hdu.header["HISTORY"] = f"simulated field, seed {config.seed}, noise {truth.noise_jy * 1e6:.2f} uJy/beam at centre"
    with atomic_path(path) as tmp:
        hdu.writeto(tmp)


def _catalogue_rows(objs: pd.DataFrame, config: SimulationConfig, name: str) -> pd.DataFrame:
    """PyBDSF-style source-list rows: compact sources above the detection S/N (``S``) and extended
    objects in the image (``M``, multi-Gaussian, as PyBDSF decomposes them)."""
    det = objs[(objs["kind"] == "compact") & (objs["snr"] >= config.detection_snr)]
    ext = objs[(objs["kind"] != "compact") & objs["in_image"].astype(bool)]
    rows = []
    for part, code in ((det, "S"), (ext, "M")):
        rows.append(
            pd.DataFrame(
                {
                    "Field": name,
                    "RA": part["ra"].to_numpy(),
                    "DEC": part["dec"].to_numpy(),
                    "Total_flux": part["flux"].to_numpy(),
                    "Peak_flux": part["peak"].fillna(0.0).to_numpy() if code == "S" else np.nan,
                    "Isl_rms": part["local_noise"].to_numpy(),
                    "S_Code": code,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def simulate_survey(out: str | Path, config: SimulationConfig, progress: bool = True) -> dict[str, Path]:
    """Simulate ``config.fields`` fields into ``out``; returns the paths of what it wrote."""
    from radioexplore.io.catalog import write_pybdsf_catalog

    out = Path(out)
    sim = SimulationDir(out)
    out.mkdir(parents=True, exist_ok=True)
    truth_rows, cat_rows, field_rows = [], [], []
    artefact_maps: dict[str, np.ndarray] = {}
    cluster_rows: list[dict] = []
    sim.diffuse_dir.mkdir(exist_ok=True)
    seeds = np.random.SeedSequence(config.seed).spawn(config.fields)
    for i in tqdm(range(config.fields), desc="simulate fields", unit="field", disable=not progress):
        rng = np.random.default_rng(seeds[i])
        image, truth, wcs = simulate_field(config, i, rng)
        write_field_fits(sim.image(truth.file), image, wcs, config, truth)
        del image
        artefact_maps[truth.name] = truth.artefact_blocks.astype(np.float16)
        with atomic_path(sim.diffuse(truth.name)) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, labels=truth.diffuse_labels, kinds=np.array(DIFFUSE_KINDS))
        cluster_rows.append(cluster_row(truth, wcs, config))
        truth.diffuse_labels = None
        field_rows.append(
            dict(
                field=truth.name,
                file=truth.file,
                ra=truth.ra,
                dec=truth.dec,
                dqf=truth.dqf,
                noise_ujy=truth.noise_jy * 1e6,
            )
        )
        objs = pd.DataFrame(truth.objects)
        if objs.empty:
            continue
        ra, dec = wcs.pixel_to_world_values(objs["x"].to_numpy(), objs["y"].to_numpy())
        objs.insert(0, "field", truth.name)
        objs["ra"], objs["dec"] = ra, dec
        truth_rows.append(objs)
        cat_rows.append(_catalogue_rows(objs, config, truth.name))
    cols = ["field", "kind", "ra", "dec", "flux", "size", "x", "y", "peak", "snr", "local_noise", "in_image", "points"]
    truth_df = pd.concat(truth_rows, ignore_index=True)[cols] if truth_rows else pd.DataFrame(columns=cols)
    catalogue = pd.concat(cat_rows, ignore_index=True) if cat_rows else pd.DataFrame()
    paths = sim.outputs()
    with atomic_path(paths["truth"]) as tmp:
        truth_df.to_csv(tmp, index=False, float_format="%.7g")
    compact = catalogue[catalogue["S_Code"] == "S"].reset_index(drop=True) if len(catalogue) else catalogue
    with atomic_path(paths["catalogue"]) as tmp:
        compact.insert(0, "Source_id", np.arange(len(compact)))
        compact.to_csv(tmp, index=False, float_format="%.8g")
    write_pybdsf_catalog(catalogue, paths["pybdsf"])
    with atomic_path(paths["fields"]) as tmp:
        pd.DataFrame(field_rows).to_csv(tmp, index=False)
    with atomic_path(paths["artefacts"]) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, _block_px=np.int64(ARTEFACT_BLOCK), **artefact_maps)
    with atomic_path(paths["clusters"]) as tmp:
        pd.DataFrame(cluster_rows).to_csv(tmp, index=False, float_format="%.8g")
    with atomic_path(sim.config) as tmp:
        pd.Series(asdict(config)).to_json(tmp, indent=1)
    log.info("simulated %d fields, %d objects into %s", config.fields, len(truth_df), out)
    return paths


def read_diffuse_truth(sim_dir: str | Path, field_name: str) -> np.ndarray:
    """The per-pixel diffuse labels of one simulated field (0 none, i + 1 for DIFFUSE_KINDS[i])."""
    path = SimulationDir(sim_dir).diffuse(field_name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: simulate again with this version (older ones wrote no masks)")
    with np.load(path) as f:
        return f["labels"]


# -- truth per tile ---------------------------------------------------------------------------
def _key_points(obj: pd.Series) -> np.ndarray:
    text = obj["points"] if isinstance(obj["points"], str) else ""
    if not text:
        return np.array([[obj["x"], obj["y"]]])
    return np.array([[float(v) for v in p.split(":")] for p in text.split(";")])


def tile_truth(sim_dir: str | Path, tiles: pd.DataFrame, detection_snr: float = 5.0) -> pd.DataFrame:
    """Truth columns per tile from a simulation directory, aligned with ``tiles`` rows.

    ``truth_noise``: the thermal rms of the tile (Jy/beam), sigma_centre / PB, as the median over
    the tile's unblanked pixels (for a tile inside the primary beam this is the value at its centre
    to within a few per cent; for a tile cut by the blanking edge it is the noise of what is
    imaged, not of the blank centre); ``truth_n_sources``: compact sources above ``detection_snr``
    inside the tile; ``truth_kinds``: the non-compact kinds with a key point (core, hotspot, lobe,
    arc end) inside the tile, comma-separated; ``truth_extended`` and ``truth_peculiar`` as booleans.
    The artefact truth is :func:`tile_artefact_truth`.
    """
    sim = SimulationDir(sim_dir)
    objs = pd.read_csv(sim.truth, keep_default_na=True)
    fields = pd.read_csv(sim.fields).set_index("field")
    config = pd.read_json(sim.config, typ="series")
    size = int(config["size_px"])
    pb_fwhm = float(config["pb_fwhm_frac"]) * size
    cutoff = float(config.get("pb_cutoff", 0.2))
    compact = objs[objs["kind"] == "compact"]
    compact_by_field = {k: g for k, g in compact[compact["in_image"].astype(bool)].groupby("field")}
    ext = objs[objs["kind"] != "compact"]
    points_by_field: dict[str, list[tuple[str, np.ndarray]]] = {}
    for _, o in ext.iterrows():
        points_by_field.setdefault(o["field"], []).append((o["kind"], _key_points(o)))
    noise, counts, kinds = [], [], []
    for _, t in tiles.iterrows():
        name = t["field"]
        x0, y0, s = float(t["x0"]), float(t["y0"]), float(t["size"])
        noise.append(_tile_thermal_noise(fields, name, x0, y0, int(s), size, pb_fwhm, cutoff))
        g = compact_by_field.get(name)
        if g is None:
            counts.append(0)
        else:
            inside = (g["x"] >= x0 - 0.5) & (g["x"] < x0 + s - 0.5) & (g["y"] >= y0 - 0.5) & (g["y"] < y0 + s - 0.5)
            counts.append(int((inside & (g["snr"] >= detection_snr)).sum()))
        here = set()
        for kind, pts in points_by_field.get(name, []):
            px, py = pts[:, 0], pts[:, 1]
            inside = (px >= x0 - 0.5) & (px < x0 + s - 0.5) & (py >= y0 - 0.5) & (py < y0 + s - 0.5)
            on_image = primary_beam_at(px, py, size, pb_fwhm) >= cutoff
            on_image &= (px > -0.5) & (px < size - 0.5) & (py > -0.5) & (py < size - 0.5)
            if np.any(inside & on_image):
                here.add(kind)
        kinds.append(",".join(sorted(here)))
    out = pd.DataFrame(index=tiles.index)
    out["truth_noise"] = noise
    out["truth_n_sources"] = counts
    out["truth_kinds"] = kinds
    kind_sets = [set(k.split(",")) - {""} for k in kinds]
    out["truth_extended"] = [bool(k & EXTENDED_KINDS) for k in kind_sets]
    out["truth_peculiar"] = [bool(k & PECULIAR_KINDS) for k in kind_sets]
    return out


def tile_artefact_truth(sim_dir: str | Path, tiles: pd.DataFrame) -> pd.DataFrame:
    """Which tiles an imaging artefact dominates, aligned with ``tiles`` rows (field, x0, y0, size).

    ``truth_artefact_sigma``: the largest artefact amplitude (crest or trough) in the tile in units
    of the local thermal noise, from ``artefacts.npz`` on blocks of :data:`ARTEFACT_BLOCK` px (a box
    not on block edges reads up to a block beyond it; NaN for a simulation without that file, made
    by an older version); ``truth_artefact``: whether it reaches :data:`ARTEFACT_TRUTH_SIGMA`.
    """
    path = SimulationDir(sim_dir).artefacts
    sigma = np.full(len(tiles), np.nan)
    out = pd.DataFrame(index=tiles.index)
    out["truth_artefact_sigma"] = sigma
    out["truth_artefact"] = False
    if not path.is_file():
        return out
    with np.load(path) as maps:
        block = int(maps["_block_px"])
        blocks = {k: maps[k].astype(np.float32) for k in maps.files if k != "_block_px"}
    for i, (name, x0, y0, s) in enumerate(zip(tiles["field"], tiles["x0"], tiles["y0"], tiles["size"], strict=True)):
        m = blocks.get(name)
        if m is None:
            continue
        bx0, by0 = max(int(x0) // block, 0), max(int(y0) // block, 0)
        bx1, by1 = -(-(int(x0) + int(s)) // block), -(-(int(y0) + int(s)) // block)
        part = m[by0:by1, bx0:bx1]
        sigma[i] = float(part.max()) if part.size else 0.0
    out["truth_artefact_sigma"] = sigma
    out["truth_artefact"] = sigma >= ARTEFACT_TRUTH_SIGMA
    return out


def _tile_thermal_noise(
    fields: pd.DataFrame, name: str, x0: float, y0: float, s: int, size: int, pb_fwhm: float, cutoff: float
) -> float:
    """Median over the tile's unblanked pixels (on a 4-px sub-grid) of the thermal rms sigma_c / PB."""
    if name not in fields.index:
        return float("nan")
    step = max(1, s // 64)
    xs = np.arange(x0, x0 + s, step)
    ys = np.arange(y0, y0 + s, step)
    xx, yy = np.meshgrid(xs, ys)
    inside = (xx >= 0) & (xx < size) & (yy >= 0) & (yy < size)
    pb = primary_beam_at(xx[inside], yy[inside], size, pb_fwhm)
    pb = pb[pb >= cutoff]
    if pb.size == 0:
        return float("nan")
    return float(fields.loc[name, "noise_ujy"]) * 1e-6 / float(np.median(pb))
