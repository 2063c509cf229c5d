"""The simulated survey's public interface (the implementation lives in :mod:`radioexplore.simulation`).

A MeerKAT-like continuum survey with a truth catalogue, used as the demo data and the test oracle:
see :mod:`radioexplore.simulation.survey` for what is simulated and what "true noise" means.
"""

from radioexplore.simulation.artefacts import DQF_SOURCE_LEVEL, STRONG_ARTEFACTS, dqf_artefacts
from radioexplore.simulation.instrument import (
    FWHM_TO_SIGMA,
    beam_kernel,
    convolve_beam,
    correlated_noise,
    field_wcs,
    primary_beam,
)
from radioexplore.simulation.morphology import MORPHOLOGIES
from radioexplore.simulation.sky import add_gaussian, add_point, add_points, power_law_fluxes
from radioexplore.simulation.survey import (
    EXTENDED_KINDS,
    KINDS,
    PECULIAR_KINDS,
    FieldTruth,
    SimulationConfig,
    simulate_field,
    simulate_survey,
    tile_artefact_truth,
    tile_truth,
    write_field_fits,
)

__all__ = [
    "DQF_SOURCE_LEVEL",
    "EXTENDED_KINDS",
    "FWHM_TO_SIGMA",
    "KINDS",
    "MORPHOLOGIES",
    "PECULIAR_KINDS",
    "STRONG_ARTEFACTS",
    "FieldTruth",
    "SimulationConfig",
    "add_gaussian",
    "add_point",
    "add_points",
    "beam_kernel",
    "convolve_beam",
    "correlated_noise",
    "dqf_artefacts",
    "field_wcs",
    "power_law_fluxes",
    "primary_beam",
    "simulate_field",
    "simulate_survey",
    "tile_artefact_truth",
    "tile_truth",
    "write_field_fits",
]
