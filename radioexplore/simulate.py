"""A simulated MeerKAT-like continuum survey with a truth catalogue: the demo data and the test oracle.

Each field is a primary-beam-corrected image in Jy/beam: compact sources drawn from a power-law
flux distribution, extended radio galaxies, all convolved with a restoring beam of about 7.5-8
arcsec, plus noise correlated on the beam scale whose rms rises towards the edge as 1/PB and
blanked (NaN) beyond a primary-beam cut-off, as in the MGCLS images of seed 000 (fig. 3).
Fields carry a data-quality flag (DQF 0-3, as in MGCLS) that sets the strength of ripple and
spoke artefacts around bright sources.

Outputs: one FITS per field, ``truth.csv`` (every object, with its kind), ``catalogue.csv`` (the
compact sources a finder would report above 5 sigma, in PyBDSF column names) and ``fields.csv``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS
from scipy.signal import fftconvolve
from tqdm.auto import tqdm

from radioexplore.rundir import atomic_path

log = logging.getLogger(__name__)

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a simulated survey; the defaults follow MGCLS (seed 000 and Knowles et al. 2022)."""

    fields: int = 16
    size_px: int = 2048
    seed: int = 0
    pixel_arcsec: float = 1.5
    beam_arcsec: tuple[float, float] = (7.8, 7.4)  # MGCLS restoring beam about 7.5-8 arcsec
    noise_ujy: tuple[float, float] = (3.0, 5.0)  # rms at the pointing centre, uJy/beam
    pb_fwhm_frac: float = 0.8  # primary-beam FWHM as a fraction of the image width
    pb_cutoff: float = 0.2  # blank (NaN) where the primary-beam response drops below this
    compact_per_sq_deg: float = 5000.0  # above 0.5 x the central noise
    flux_slope: float = 1.6  # dN/dS proportional to S^-slope
    max_flux_mjy: float = 50.0
    extended_per_field: tuple[int, int] = (3, 8)
    dqf_probabilities: tuple[float, float, float, float] = (0.5, 0.25, 0.15, 0.1)
    naxis: int = 4  # 4 writes degenerate FREQ and STOKES axes as MeerKAT images have
    frequency_hz: float = 1.28e9
    detection_snr: float = 5.0  # compact sources above this peak S/N go into catalogue.csv


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


# -- geometry ---------------------------------------------------------------------------------
def field_wcs(ra: float, dec: float, size: int, pixel_arcsec: float) -> WCS:
    """A SIN-projected celestial WCS centred on (ra, dec)."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [size / 2.0 + 0.5, size / 2.0 + 0.5]
    w.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = "FK5"
    w.wcs.equinox = 2000.0
    return w


def primary_beam(size: int, fwhm_px: float) -> np.ndarray:
    """Gaussian primary-beam response, 1 at the image centre."""
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = (xx - c) ** 2 + (yy - c) ** 2
    return np.exp(-4.0 * np.log(2.0) * r2 / fwhm_px**2)


def beam_kernel(bmaj_px: float, bmin_px: float, bpa_deg: float) -> np.ndarray:
    """Elliptical Gaussian restoring beam with peak 1 (so a point source of S Jy peaks at S Jy/beam)."""
    half = int(np.ceil(3 * bmaj_px))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    theta = np.deg2rad(bpa_deg + 90.0)  # BPA is east of north; x points east-ish
    sx, sy = bmaj_px * FWHM_TO_SIGMA, bmin_px * FWHM_TO_SIGMA
    xr = xx * np.cos(theta) + yy * np.sin(theta)
    yr = -xx * np.sin(theta) + yy * np.cos(theta)
    return np.exp(-0.5 * ((xr / sx) ** 2 + (yr / sy) ** 2))


# -- sky model --------------------------------------------------------------------------------
def power_law_fluxes(rng: np.random.Generator, n: int, s_min: float, s_max: float, slope: float) -> np.ndarray:
    """Fluxes from dN/dS ~ S^-slope between s_min and s_max, by inverse-transform sampling."""
    u = rng.random(n)
    a = 1.0 - slope
    return (s_min**a + u * (s_max**a - s_min**a)) ** (1.0 / a)


def add_gaussian(
    sky: np.ndarray, x: float, y: float, flux: float, sigma_px: float, axis_ratio: float = 1.0, angle: float = 0.0
) -> None:
    """Add an elliptical Gaussian of total ``flux`` (Jy) centred at (x, y) to a Jy/pixel sky."""
    ny, nx = sky.shape
    if sigma_px < 0.3:
        add_point(sky, x, y, flux)
        return
    half = int(np.ceil(4 * sigma_px))
    x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, nx)
    y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, ny)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(float)
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = xx - x, yy - y
    u = (dx * c + dy * s) / sigma_px
    v = (-dx * s + dy * c) / (sigma_px * axis_ratio)
    g = np.exp(-0.5 * (u**2 + v**2))
    norm = 2.0 * np.pi * sigma_px**2 * axis_ratio
    sky[y0:y1, x0:x1] += flux * g / norm


def add_point(sky: np.ndarray, x: float, y: float, flux: float) -> None:
    """Add a point source of ``flux`` Jy, split bilinearly over the four nearest pixels."""
    ny, nx = sky.shape
    ix, iy = int(np.floor(x)), int(np.floor(y))
    fx, fy = x - ix, y - iy
    for ddx, ddy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        px, py = ix + ddx, iy + ddy
        if 0 <= px < nx and 0 <= py < ny:
            sky[py, px] += flux * w


def add_double(
    sky: np.ndarray, rng: np.random.Generator, x: float, y: float, flux: float, size_px: float, kind: str
) -> None:
    """A double-lobed radio galaxy: FR II (edge-brightened lobes with hotspots) or FR I (fading jets)."""
    angle = rng.uniform(0, np.pi)
    ux, uy = np.cos(angle), np.sin(angle)
    add_point(sky, x, y, 0.05 * flux)  # core
    for side in (-1.0, 1.0):
        if kind == "fr2":
            for frac, share, width in ((0.45, 0.2, 0.10), (0.40, 0.15, 0.05), (0.5, 0.08, 0.015)):
                add_gaussian(
                    sky,
                    x + side * frac * size_px * ux,
                    y + side * frac * size_px * uy,
                    flux * share,
                    max(width * size_px, 0.5),
                    axis_ratio=0.6,
                    angle=angle,
                )
        else:
            steps = 8
            for i in range(1, steps + 1):
                frac = 0.5 * i / steps
                add_gaussian(
                    sky,
                    x + side * frac * size_px * ux,
                    y + side * frac * size_px * uy,
                    flux * 0.45 * (1.0 - 0.8 * i / steps) / steps * 2.0,
                    max(0.02 * size_px * i, 0.5),
                    axis_ratio=0.7,
                    angle=angle,
                )


def add_artefacts(
    image: np.ndarray, rng: np.random.Generator, sources: list[tuple[float, float, float]], dqf: int, noise: float
) -> None:
    """Ripples and spokes around bright sources, stronger for worse DQF (MGCLS DQF 0-3, seed 000 fig. A.1)."""
    strength = (0.0, 0.0005, 0.002, 0.004)[dqf]
    if strength == 0.0:
        return
    ny, nx = image.shape
    for x, y, flux in sources:
        if flux < 1000 * noise:
            continue
        half = min(int(120 + 60 * dqf), nx // 2)
        x0, x1 = max(int(x) - half, 0), min(int(x) + half, nx)
        y0, y1 = max(int(y) - half, 0), min(int(y) + half, ny)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(float)
        r = np.hypot(xx - x, yy - y) + 1.0
        phi = np.arctan2(yy - y, xx - x)
        period = rng.uniform(8, 16)
        spokes = np.cos(6 * phi + rng.uniform(0, np.pi)) ** 8
        pattern = (np.sin(2 * np.pi * r / period) + 1.5 * spokes) * np.exp(-((r / (0.35 * half)) ** 2))
        image[y0:y1, x0:x1] += strength * flux * pattern
    if dqf == 3:  # ripples across the whole image
        yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
        k = rng.uniform(0.02, 0.05)
        a = rng.uniform(0, np.pi)
        image += 2.0 * noise * np.sin(k * (xx * np.cos(a) + yy * np.sin(a)))


def correlated_noise(rng: np.random.Generator, shape: tuple[int, int], kernel: np.ndarray) -> np.ndarray:
    """Gaussian noise convolved with the beam and rescaled to unit rms."""
    white = rng.standard_normal(shape)
    noise = fftconvolve(white, kernel, mode="same")
    return noise / noise.std()


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
    kernel = beam_kernel(bmaj_px, bmin_px, bpa)
    pb_fwhm = config.pb_fwhm_frac * n
    truth = FieldTruth(
        name=f"field_{index:03d}",
        file=f"field_{index:03d}.fits",
        ra=ra,
        dec=dec,
        dqf=dqf,
        noise_jy=noise,
        pb_fwhm_px=pb_fwhm,
    )

    sky = np.zeros((n, n), dtype=np.float64)
    area_deg2 = (n * config.pixel_arcsec / 3600.0) ** 2
    n_compact = rng.poisson(config.compact_per_sq_deg * area_deg2)
    fluxes = power_law_fluxes(rng, n_compact, 0.5 * noise, config.max_flux_mjy * 1e-3, config.flux_slope)
    xs, ys = rng.uniform(0, n - 1, n_compact), rng.uniform(0, n - 1, n_compact)
    beam_sigma2 = bmaj_px * bmin_px * FWHM_TO_SIGMA**2
    bright: list[tuple[float, float, float]] = []
    for x, y, s in zip(xs, ys, fluxes, strict=True):
        size_px = float(rng.exponential(0.3)) if rng.random() < 0.3 else 0.0
        add_gaussian(sky, x, y, s, size_px)
        peak = s * beam_sigma2 / (beam_sigma2 + size_px**2)
        truth.objects.append(
            dict(kind="compact", x=x, y=y, flux=s, peak=peak, size=size_px * 2.3548 * config.pixel_arcsec)
        )
        bright.append((x, y, peak))

    for _ in range(rng.integers(*config.extended_per_field, endpoint=True)):
        kind = "fr2" if rng.random() < 0.5 else "fr1"
        size_px = float(rng.uniform(20, 120))
        flux = float(power_law_fluxes(rng, 1, 1e-3, 50e-3, 1.6)[0])
        x, y = rng.uniform(0.1 * n, 0.9 * n, 2)
        add_double(sky, rng, x, y, flux, size_px, kind)
        truth.objects.append(dict(kind=kind, x=x, y=y, flux=flux, peak=np.nan, size=size_px * config.pixel_arcsec))
        bright.append((x, y, 0.2 * flux))

    image = fftconvolve(sky, kernel, mode="same")
    pb = primary_beam(n, pb_fwhm)
    image += noise * correlated_noise(rng, (n, n), kernel) / pb
    add_artefacts(image, rng, bright, dqf, noise)
    image[pb < config.pb_cutoff] = np.nan

    # truth per object: local noise and S/N; objects in the blanked area are out of the image
    for obj in truth.objects:
        ix, iy = int(round(obj["x"])), int(round(obj["y"]))
        inside = 0 <= ix < n and 0 <= iy < n and pb[iy, ix] >= config.pb_cutoff
        local = noise / pb[min(iy, n - 1), min(ix, n - 1)]
        obj["local_noise"] = local
        obj["snr"] = obj["peak"] / local if inside and np.isfinite(obj["peak"]) else np.nan
        obj["in_image"] = bool(inside)
    return image.astype(np.float32), truth, wcs


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


def simulate_survey(out: str | Path, config: SimulationConfig, progress: bool = True) -> dict[str, Path]:
    """Simulate ``config.fields`` fields into ``out``; returns the paths of what it wrote."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    truth_rows, cat_rows, field_rows = [], [], []
    seeds = np.random.SeedSequence(config.seed).spawn(config.fields)
    for i in tqdm(range(config.fields), desc="simulate fields", unit="field", disable=not progress):
        rng = np.random.default_rng(seeds[i])
        image, truth, wcs = simulate_field(config, i, rng)
        write_field_fits(out / truth.file, image, wcs, config, truth)
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
        det = objs[(objs["kind"] == "compact") & (objs["snr"] >= config.detection_snr)]
        cat_rows.append(
            pd.DataFrame(
                {
                    "Source_id": np.arange(len(det)),
                    "Field": truth.name,
                    "RA": det["ra"].to_numpy(),
                    "DEC": det["dec"].to_numpy(),
                    "Total_flux": det["flux"].to_numpy(),
                    "Peak_flux": det["peak"].to_numpy(),
                    "Isl_rms": det["local_noise"].to_numpy(),
                    "S_Code": "S",
                }
            )
        )
    truth_df = pd.concat(truth_rows, ignore_index=True) if truth_rows else pd.DataFrame()
    cols = ["field", "kind", "ra", "dec", "flux", "size", "x", "y", "peak", "snr", "local_noise", "in_image"]
    paths = {"truth": out / "truth.csv", "catalogue": out / "catalogue.csv", "fields": out / "fields.csv"}
    with atomic_path(paths["truth"]) as tmp:
        truth_df[cols].to_csv(tmp, index=False)
    with atomic_path(paths["catalogue"]) as tmp:
        pd.concat(cat_rows, ignore_index=True).to_csv(tmp, index=False)
    with atomic_path(paths["fields"]) as tmp:
        pd.DataFrame(field_rows).to_csv(tmp, index=False)
    with atomic_path(out / "simulation.json") as tmp:
        pd.Series(asdict(config)).to_json(tmp, indent=1)
    log.info("simulated %d fields, %d objects into %s", config.fields, len(truth_df), out)
    return paths


#: Object kinds the simulator tags as peculiar (rare by construction).
PECULIAR_KINDS = frozenset({"orc", "xrg", "grg"})
#: Object kinds that are extended radio sources.
EXTENDED_KINDS = frozenset({"fr1", "fr2", "bent", "halo", "relic", "filament"}) | PECULIAR_KINDS


def tile_truth(sim_dir: str | Path, tiles: pd.DataFrame, detection_snr: float = 5.0) -> pd.DataFrame:
    """Truth columns per tile from a simulation directory, aligned with ``tiles`` rows.

    ``truth_noise``: true rms at the tile centre (Jy/beam); ``truth_n_sources``: compact sources
    above ``detection_snr`` inside the tile; ``truth_kinds``: the non-compact kinds whose centre
    lies in the tile; ``truth_extended`` and ``truth_peculiar`` as booleans.
    """
    sim_dir = Path(sim_dir)
    objs = pd.read_csv(sim_dir / "truth.csv")
    fields = pd.read_csv(sim_dir / "fields.csv").set_index("field")
    config = pd.read_json(sim_dir / "simulation.json", typ="series")
    size = int(config["size_px"])
    pb_fwhm = float(config["pb_fwhm_frac"]) * size
    c = (size - 1) / 2.0
    out = pd.DataFrame(index=tiles.index)
    noise, counts, kinds = [], [], []
    by_field = {k: g for k, g in objs.groupby("field")}
    for _, t in tiles.iterrows():
        name = t["field"]
        cx, cy = t["x0"] + (t["size"] - 1) / 2.0, t["y0"] + (t["size"] - 1) / 2.0
        pb = np.exp(-4.0 * np.log(2.0) * ((cx - c) ** 2 + (cy - c) ** 2) / pb_fwhm**2)
        noise.append(fields.loc[name, "noise_ujy"] * 1e-6 / pb if name in fields.index else np.nan)
        g = by_field.get(name)
        if g is None:
            counts.append(0)
            kinds.append("")
            continue
        inside = (
            (g["x"] >= t["x0"] - 0.5)
            & (g["x"] < t["x0"] + t["size"] - 0.5)
            & (g["y"] >= t["y0"] - 0.5)
            & (g["y"] < t["y0"] + t["size"] - 0.5)
        )
        sel = g[inside & g["in_image"].astype(bool)]
        counts.append(int(((sel["kind"] == "compact") & (sel["snr"] >= detection_snr)).sum()))
        kinds.append(",".join(sorted(set(sel["kind"]) - {"compact"})))
    out["truth_noise"] = noise
    out["truth_n_sources"] = counts
    out["truth_kinds"] = kinds
    kind_sets = [set(k.split(",")) - {""} for k in kinds]
    out["truth_extended"] = [bool(s & EXTENDED_KINDS) for s in kind_sets]
    out["truth_peculiar"] = [bool(s & PECULIAR_KINDS) for s in kind_sets]
    return out
