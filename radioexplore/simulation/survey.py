"""A simulated MeerKAT-like continuum survey with a truth catalogue: its config, and the survey folder written.

Each field is a primary-beam-corrected image in Jy/beam, as the MGCLS "enhanced" images of
Lastufka et al. 2024 (seed 000, sec. 2.1): compact sources from a power-law flux distribution,
radio galaxies (FR I, FR II, bent tails), cluster halos and relics around the pointing centre
(MGCLS points at galaxy clusters), filaments, and, rare by construction, peculiar objects (odd
radio circles, X-shaped and giant radio galaxies); all convolved with a restoring beam of about
7.5-8 arcsec; thermal noise of 3-5 uJy/beam at the centre, correlated on the beam scale and rising
as 1/PB; DQF-dependent artefacts; NaN beyond the primary-beam cut-off
(:mod:`radioexplore.simulation.field` makes one field, :mod:`radioexplore.simulation.population`
draws its objects).

Outputs in the survey folder: one FITS per field; ``truth.csv`` (every object, its kind and key
points); ``catalogue.csv`` (compact sources above 5 sigma, PyBDSF column names);
``pybdsf_srl.fits`` (the same plus extended objects as multi-Gaussian ``S_Code = M`` sources, as a
PyBDSF source list); ``fields.csv`` (field, file, position, DQF, central noise); ``simulation.json``;
``artefacts.npz`` (per field, the largest artefact amplitude in units of the local thermal noise in
each block of :data:`~radioexplore.simulation.artefacts.ARTEFACT_BLOCK` px, from which
:func:`~radioexplore.simulation.tile_truth.tile_artefact_truth` says which tiles an artefact
dominates); ``diffuse/<field>.npz`` and ``clusters.csv`` (the diffuse truth and cluster table,
:mod:`radioexplore.simulation.diffuse`).

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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS
from tqdm.auto import tqdm

from radioexplore.run.atomic import atomic_path
from radioexplore.simulation.artefacts import ARTEFACT_BLOCK
from radioexplore.simulation.diffuse import cluster_row, write_diffuse_truth
from radioexplore.simulation.field import FieldTruth, simulate_field
from radioexplore.simulation.folder import SimulationDir

log = logging.getLogger(__name__)


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
        write_diffuse_truth(out, truth.name, truth.diffuse_labels)
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
