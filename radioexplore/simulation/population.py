"""A field's objects drawn onto its sky: power-law compact sources and the extended kinds, as truth rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from radioexplore.simulation.diffuse import DIFFUSE_KINDS
from radioexplore.simulation.instrument import FWHM_TO_SIGMA
from radioexplore.simulation.kinds import KIND_PRIORS
from radioexplore.simulation.morphology import MORPHOLOGIES, SURFACE_KINDS
from radioexplore.simulation.sky import add_gaussian, add_points, counts_above, power_law_fluxes

if TYPE_CHECKING:
    from radioexplore.simulation.survey import SimulationConfig


def compact_sources(
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


def extended_objects(
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
